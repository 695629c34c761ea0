"""The pool's data-quality report (``federate pool report``): every site's current submission
side by side, in the blinded role. Rows and quarantine per site and table, the checks each
site's ingest made, completeness by visit, each key value's distribution per site on one axis
(a site whose unit or scale differs stands apart), and the submission history."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import duckdb

from federate.quality import html
from federate.quality.checks import CATEGORIES
from federate.quality.profile import Files, completeness, distributions
from federate.quality.svg import boxes
from federate.schema import Schema


def render_pool(
    schema: Schema,
    files: Files,
    reports: Mapping[str, Mapping[str, Any]],
    history: Sequence[Mapping[str, Any]],
    state: str,
) -> str:
    """``reports``: each site's current bundle report (report.json); ``history``: the
    catalog's events; ``state``: a line saying which warehouse state this is."""
    con = duckdb.connect(config={"threads": 1})
    try:
        visits = completeness(con, files, schema)
        dists = distributions(con, files, schema)
    finally:
        con.close()
    figures = "".join(boxes(d) for d in dists)
    return html.page(
        "Data-quality report: the pool",
        f"Blinded role: no allocation is shown · {html.esc(state)}",
        [
            html.section("rows", "Rows and quarantine per site", _rows(reports)),
            html.section("checks", "Checks per site", _checks(reports)),
            html.section("completeness", "Completeness by visit", html.visits_table(visits)),
            html.section(
                "distributions",
                "Distributions compared across sites",
                "<p>Each site's quartiles (box), median (bar) and range (whiskers) on one axis; "
                "amber and red lines: the plausible and possible limits.</p>",
                f'<div class="figures">{figures}</div>',
            ),
            html.section("history", "Submission history", _history(history)),
        ],
    )


def _rows(reports: Mapping[str, Mapping[str, Any]]) -> str:
    """One row per table, one column per site: rows accepted, and the share quarantined."""
    counts: dict[tuple[str, str], list[int]] = {}
    for site, report in reports.items():
        for source in report["sources"]:
            if source.get("table") and not source.get("skipped_whole"):
                n = counts.setdefault((source["table"], site), [0, 0, 0])
                n[0] += source["rows_read"] - source["rows_skipped"]
                n[1] += source["rows_mapped"]
                n[2] += source["rows_quarantined"]
    sites = sorted(reports)
    rows = []
    for table in sorted({t for t, _ in counts}):
        cells: list[object] = [table]
        for site in sites:
            read, mapped, quarantined = counts.get((table, site), [0, 0, 0])
            rate = 100.0 * quarantined / read if read else 0.0
            flag = ' class="fail"' if quarantined else ""
            cells.append(
                html.markup(
                    f'<span style="display:block;text-align:right">{mapped:,} '
                    f"<small{flag}>({rate:.1f}% q.)</small></span>"
                )
            )
        rows.append(cells)
    note = "<p>Rows accepted per site, and in brackets the share of rows quarantined.</p>"
    return note + html.table(("table", *sites), rows)


def _checks(reports: Mapping[str, Mapping[str, Any]]) -> str:
    rows: list[tuple[object, ...]] = []
    for site, report in sorted(reports.items()):
        checks = (report.get("quality") or {}).get("checks")
        if checks is None:
            rows.append((site, "not recorded (an older bundle)", "", "", ""))
            continue
        for category in CATEGORIES:
            mine = [c for c in checks if c["category"] == category]
            failed = [c for c in mine if not c["passed"]]
            names = ", ".join(
                sorted({f"{c['table']}.{c['column'] or '*'} {c['reason']}" for c in failed})
            )
            rows.append((site, category, html.num(len(mine)), html.num(len(failed)), names))
    return html.table(("site", "category", "checks", "failed", "failed checks"), rows)


def _history(history: Sequence[Mapping[str, Any]]) -> str:
    rows = [
        (html.num(e["seq"]), e["time_utc"], e["action"], e["site"],
         html.markup(f"<code>{html.esc(e['submission_id'])}</code>"), e["operator"],
         html.num(sum(e["rows"].values())))
        for e in reversed(history)
    ]  # fmt: skip
    return html.table(("#", "time (UTC)", "action", "site", "submission", "by", "rows"), rows)
