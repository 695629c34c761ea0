"""``report.html``: one bundle's data-quality report, written by every ingest beside
``report.json``. What a coordinator acts on, in order: what to fix first (the causes, with
their first examples as the site wrote them), every check the run made, completeness by visit,
the key values' distributions, and what changed since the previous submission."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from federate.quality import html
from federate.quality.changes import Change, compare
from federate.quality.checks import (
    CATEGORIES,
    FOLLOW_ON,
    Check,
    Key,
    rows_checked_per_table,
    run_checks,
)
from federate.quality.profile import Distribution, Visits, completeness, distributions
from federate.quality.svg import histogram
from federate.schema import Schema

EXAMPLES = 3  # of each cause, as the site wrote them


@dataclass(frozen=True)
class Previous:
    """The site's previous submission, to compare with: its id and its tables."""

    submission_id: str
    tables: Mapping[str, Path]
    same_key: bool  # pseudonyms made with the same key, so patients match


@dataclass(frozen=True)
class Quality:
    checks: list[Check]
    causes: list[dict[str, Any]]
    follow_on: int
    visits: Visits
    distributions: list[Distribution]
    changes: list[Change] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "checks": [c.to_json() for c in self.checks],
            "causes": self.causes,
            "follow_on_rows": self.follow_on,
            "changes": None if self.changes is None else [vars(c) for c in self.changes],
        }


@dataclass(frozen=True)
class Profiled:
    """What the tables look like: the same for the bundle's page and the site's copy."""

    visits: Visits
    distributions: list[Distribution]
    changes: list[Change] | None


def profile_tables(
    tables: Mapping[str, Path], schema: Schema, previous: Previous | None = None
) -> Profiled:
    con = duckdb.connect(config={"threads": 1})
    try:
        files = {name: [path] for name, path in tables.items() if path.exists()}
        changes = None
        if previous is not None and previous.same_key:
            changes = compare(con, schema, tables, previous.tables)
        return Profiled(
            completeness(con, files, schema), distributions(con, files, schema), changes
        )
    finally:
        con.close()


def assess(
    report: Mapping[str, Any], schema: Schema, records: pa.Table, profiled: Profiled
) -> Quality:
    """The checks and causes of one bundle, with its tables' profile; ``records`` are its
    quarantine and warnings together (severity says which)."""
    con = duckdb.connect(config={"threads": 1})
    try:
        con.register("records", records)
        failing, rules = _failing(con)
        checks = run_checks(schema, rows_checked_per_table(report["sources"]), failing, rules)
        return Quality(
            checks,
            _causes(con),
            _follow_on(con),
            profiled.visits,
            profiled.distributions,
            profiled.changes,
        )
    finally:
        con.close()


def _failing(con: duckdb.DuckDBPyConnection) -> tuple[dict[Key, int], dict[Key, tuple[str, str]]]:
    rows = con.sql(
        """SELECT "table", coalesce(shared_column, ''), reason, any_value(rule),
                  any_value(severity), count(DISTINCT (source_file, source_row))
           FROM records GROUP BY ALL"""
    ).fetchall()
    failing = {(t, c, r): n for t, c, r, _, _, n in rows}
    rules = {(t, c, r): (rule, severity) for t, c, r, rule, severity, _ in rows}
    return failing, rules


def _causes(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Each root cause once: a rule broken in one column of one file, with its first records.
    Rows held only because their patient was quarantined are counted apart."""
    sql = f"""
    SELECT severity, source_file, part, "column", reason, any_value(rule) AS rule,
           count(DISTINCT source_row) AS rows,
           list(struct_pack(record := source_row, value := value) ORDER BY source_row)[1:{EXAMPLES}]
             AS examples
    FROM records WHERE reason <> '{FOLLOW_ON}'
    GROUP BY ALL ORDER BY severity, rows DESC, source_file, "column"
    """
    columns = ["severity", "source_file", "part", "column", "reason", "rule", "rows", "examples"]
    return [dict(zip(columns, row, strict=True)) for row in con.sql(sql).fetchall()]


def _follow_on(con: duckdb.DuckDBPyConnection) -> int:
    row = con.sql(
        "SELECT count(DISTINCT (source_file, source_row)) FROM records "
        f"WHERE reason = '{FOLLOW_ON}'"
    ).fetchall()
    return int(row[0][0]) if row else 0


def first_records(examples: list[dict[str, Any]]) -> str:
    """A cause's first records, each with its value as the site wrote it (a whole column's
    cause, such as an unknown column, has no value to show)."""
    return "; ".join(
        f"record {e['record']}" + (f": {e['value']!r}" if e["value"] is not None else "")
        for e in examples
    )


def render(report: Mapping[str, Any], quality: Quality, previous: Previous | None) -> str:
    site, submission = report["site"], report["submission_id"]
    meta = f"Site <b>{html.esc(site)}</b> · submission <code>{html.esc(submission)}</code>"
    return html.page(
        f"Data-quality report: {site}",
        meta,
        [
            _summary(report, quality),
            _causes_section(quality),
            _checks_section(quality.checks),
            html.section(
                "completeness",
                "Completeness by visit",
                "<p>Patients with at least one row per table and visit, of the patients "
                "randomised.</p>",
                html.visits_table(quality.visits),
            ),
            _distributions_section(quality.distributions, site),
            _changes_section(quality.changes, previous),
            _sources_section(report),
        ],
    )


def _summary(report: Mapping[str, Any], quality: Quality) -> str:
    sources = [s for s in report["sources"] if not s.get("skipped_whole")]
    failed = sum(1 for c in quality.checks if not c.passed)
    return html.section(
        "summary",
        "Summary",
        html.tiles(
            [
                ("rows read", sum(s["rows_read"] for s in sources)),
                ("rows accepted", sum(s["rows_mapped"] for s in sources)),
                ("rows quarantined", sum(s["rows_quarantined"] for s in sources)),
                ("rows skipped (declared)", sum(s["rows_skipped"] for s in sources)),
                ("warnings", report["warnings"]["count"]),
                ("checks failed", f"{failed} of {len(quality.checks)}"),
            ]
        ),
    )


def _causes_section(quality: Quality) -> str:
    rows = [
        (
            c["severity"],
            c["source_file"] + (f" [{c['part']}]" if c["part"] else ""),
            c["column"],
            html.markup(f"<code>{html.esc(c['reason'])}</code>"),
            c["rule"],
            html.num(c["rows"]),
            first_records(c["examples"]),
        )
        for c in quality.causes
    ]
    note = ""
    if quality.follow_on:
        note = (
            f"<p>{quality.follow_on:,} more rows were held back only because their patient's "
            "own row was quarantined: they follow once the causes above are fixed.</p>"
        )
    headers = ("severity", "file", "column", "reason", "rule", "rows", "first records (as written)")
    return html.section("causes", "What to fix first", html.table(headers, rows, "causes"), note)


def _checks_section(checks: list[Check]) -> str:
    parts = [
        "<p>Every check this run made, by category (Kahn et al. 2016). A rule that quarantines "
        "fails on any failing row (threshold 0%); a plausibility warning fails above 5%.</p>"
    ]
    rows = []
    for category in CATEGORIES:
        mine = [c for c in checks if c.category == category]
        failed = sum(1 for c in mine if not c.passed)
        rows.append((category, html.num(len(mine)), html.num(len(mine) - failed), html.num(failed)))
    parts.append(html.table(("category", "checks", "passed", "failed"), rows, "categories"))
    for category in CATEGORIES:
        parts.append(f"<h3>{category.capitalize()}</h3>")
        parts.append(html.checks_table(checks, category))
    return html.section("checks", "Checks", *parts)


def _distributions_section(dists: list[Distribution], site: str) -> str:
    figures = "".join(histogram(d, site) for d in dists if site in d.per_site)
    text = (
        "<p>Key values after harmonisation. Amber bars and lines: outside the plausible range "
        "(a warning); red lines: the limits of possible values.</p>"
    )
    return html.section(
        "distributions", "Distributions", text, f'<div class="figures">{figures}</div>'
    )


def _changes_section(changes: list[Change] | None, previous: Previous | None) -> str:
    if previous is None:
        text = "<p>No previous submission given (<code>--previous BUNDLE</code>).</p>"
        return html.section("changes", "Changes since the previous submission", text)
    if changes is None:
        text = (
            f"<p>Not compared with <code>{html.esc(previous.submission_id)}</code>: it was "
            "pseudonymised with another key, so its patients cannot be matched.</p>"
        )
        return html.section("changes", "Changes since the previous submission", text)
    rows = [
        (c.table, html.num(c.before), html.num(c.after), html.num(c.added), html.num(c.removed),
         html.num(c.changed))
        for c in changes
    ]  # fmt: skip
    against = html.esc(previous.submission_id)
    text = f"<p>Against <code>{against}</code>, matched on each table's key.</p>"
    headers = ("table", "rows before", "rows now", "keys added", "keys removed", "keys changed")
    return html.section(
        "changes", "Changes since the previous submission", text, html.table(headers, rows)
    )


def _sources_section(report: Mapping[str, Any]) -> str:
    rows = [
        (
            s["path"] + (f" [{s['part']}]" if s.get("part") else ""),
            s.get("table") or "",
            html.num(s["rows_read"]),
            html.num(s["rows_mapped"]),
            html.num(s["rows_quarantined"]),
            html.num(s["rows_skipped"]),
            s.get("skipped_whole")
            or ", ".join(f"{k}: {v}" for k, v in s["skipped_reasons"].items()),
        )
        for s in report["sources"]
    ]
    headers = ("file", "table", "read", "accepted", "quarantined", "skipped", "skipped because")
    return html.section("sources", "Files", html.table(headers, rows))
