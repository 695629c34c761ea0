"""The trial report: every named analysis's tables and figures in one self-contained HTML page
(``federate analyses report``), in the order of a clinical study report: population, baseline,
primary, secondary, safety, completeness. Either role; every table as released (disclosure
control applied), every figure inline as SVG (no network, no script).

The page records the state it was made from (each site's current submission, and the hash of
the last publish, rollback, lock or unlock entry of the audit log; entries of access do not
change it) and whether that state was locked. The same state gives the same page but for the
time it was made (ISO 8601 UTC), which is also the date in the figures' footers. The blinded
page is made from the blinded role's results only, and its own words name no treatment group.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from federate.analyses import Result, run_analysis
from federate.analyses.labels import for_people
from federate.output import MARK, SUPPRESSED
from federate.quality import html
from federate.query.roles import Role
from federate.query.sandbox import Limits
from federate.warehouse.freeze import PoolState, pool_state


@dataclass(frozen=True)
class Section:
    anchor: str
    heading: str
    analyses: tuple[str, ...]


SECTIONS = (
    Section("population", "Study population", ()),
    Section("baseline", "Baseline characteristics", ("baseline",)),
    Section("primary", "Primary endpoint", ("primary-endpoint",)),
    Section("secondary", "Secondary endpoints", ("disability", "relapses")),
    Section("safety", "Safety", ("safety",)),
    Section("completeness", "Data completeness", ("completeness",)),
)


def write_report(
    warehouse: Path,
    out: Path,
    *,
    role: Role = Role.BLINDED,
    min_cell: int = 5,
    limits: Limits | None = None,
    operator: str | None = None,
    made: dt.datetime | None = None,
) -> PoolState:
    """Run every analysis as ``role`` and write the page to ``out``; returns the state."""
    state = pool_state(warehouse)
    made_at = (made or dt.datetime.now(dt.UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")
    names = [n for s in SECTIONS for n in s.analyses]
    results = {
        n: run_analysis(
            n, warehouse, role=role, min_cell=min_cell, limits=limits, operator=operator
        )
        for n in names
    }
    footer = _footer(state, role, made_at[:10])
    sections = [_state_section(state)]
    for section in SECTIONS:
        if section.anchor == "population":
            body = _population(results["baseline"], results["safety"])
        else:
            body = "".join(_analysis(results[n], footer) for n in section.analyses)
        sections.append(html.section(section.anchor, section.heading, body))
    title = f"MESEMS trial report: {role.value} results"
    meta = _meta(state, role, min_cell, made_at)
    out.write_text(html.page(title, meta, sections), "utf-8")
    return state


def _footer(state: PoolState, role: Role, day: str) -> str:
    locked = ", locked" if state.locked else ""
    return f"warehouse state {state.entry_hash[:16]}{locked} · role {role.value} · {day}"


def _meta(state: PoolState, role: Role, min_cell: int, made_at: str) -> str:
    seen = (
        "blinded: pooled results only"
        if role is Role.BLINDED
        else "unblinded: results by randomised group (this access is logged)"
    )
    if state.locked:
        lock = (
            f"<b>made from a locked state</b>: locked {html.esc(state.locked.since_utc)} by "
            f"{html.esc(state.locked.by)} ({html.esc(state.locked.reason)})"
        )
    else:
        lock = "<b>not locked</b>: the state may still change"
    return (
        f'Made at <time id="made-at">{html.esc(made_at)}</time> · role {html.esc(seen)} · '
        f"{html.esc(MARK)}: suppressed (disclosure control, counts below {min_cell}) · "
        f"warehouse state <code>{html.esc(state.entry_hash)}</code> · {lock}"
    )


def _state_section(state: PoolState) -> str:
    rows = [
        (site, html.markup(f"<code>{html.esc(sid)}</code>"))
        for site, sid in state.submissions.items()
    ]
    said = (
        "<p>The warehouse state this report was made from: each site's current submission; "
        "the state's hash is that of the last publish, rollback, lock or unlock entry of the "
        f"audit log (<code>{html.esc(state.entry_hash)}</code>).</p>"
    )
    return html.section("state", "Warehouse state", said, html.table(("site", "submission"), rows))


def _population(baseline: Result, safety: Result) -> str:
    table1 = baseline.part("table1")
    randomised = table1.filter(pc.equal(table1["level"], "randomised"))
    keep = [c for c in randomised.column_names if c in ("scope", "arm", "patients", SUPPRESSED)]
    parts = [
        ("Patients randomised", randomised.select(keep)),
        ("Patients exposed (given at least one infusion)", safety.part("exposure")),
    ]
    return "".join(f"<h3>{html.esc(t)}</h3>{_table(table)}" for t, table in parts)


def _analysis(result: Result, footer: str) -> str:
    from federate.analyses.plots import svg

    head = f'<h3 id="{html.esc(result.analysis.name)}">{html.esc(result.analysis.title)}</h3>'
    tables = "".join(
        f"<h4>{html.esc(result.title(part))}</h4>{_table(table)}" for part, table in result.parts
    )
    figure = ""
    if result.analysis.plot:
        drawn = svg(result, f"federate · analysis {result.analysis.name} · {footer}")
        name = html.esc(result.analysis.name)
        figure = f'<figure class="figure" data-analysis="{name}">{drawn}</figure>'
    return head + figure + tables


def _table(table: pa.Table) -> str:
    """A released table as people read it: measures of a suppressed row read [c]."""
    shown = for_people(table)
    hidden = shown.column(SUPPRESSED).to_pylist() if SUPPRESSED in shown.column_names else []
    fields = [f for f in shown.schema if f.name != SUPPRESSED]
    measure = [
        bool(f.metadata) and f.metadata.get(b"federate.disclosure") == b"measure" for f in fields
    ]
    numeric = [pa.types.is_integer(f.type) or pa.types.is_floating(f.type) for f in fields]
    rows = []
    for i, row in enumerate(shown.select([f.name for f in fields]).to_pylist()):
        cells: list[object] = []
        for value, is_measure, is_number in zip(row.values(), measure, numeric, strict=True):
            text = MARK if hidden and hidden[i] and is_measure else _text(value)
            cells.append(html.num(text) if is_number or is_measure else text)
        rows.append(cells)
    note = f'<p class="meta">{html.esc(MARK)}: suppressed</p>' if any(hidden) else ""
    return html.table([f.name for f in fields], rows) + note


def _text(value: object) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) >= 0.01 or value == 0 else f"{value:.2g}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
