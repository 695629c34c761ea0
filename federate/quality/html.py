"""The pages' common parts: one self-contained HTML file (inline CSS, inline SVG, no script, no
font or stylesheet fetched), every value escaped."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from html import escape

from federate.quality.checks import Check
from federate.quality.profile import Visits

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1f2933;
margin:0 auto;max-width:1180px;padding:0 24px 48px}
h1{font-size:22px;margin:24px 0 4px}h2{font-size:18px;margin:32px 0 8px;border-bottom:1px solid
#d9dee3;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}
.meta{color:#52606d;margin:0 0 16px}
table{border-collapse:collapse;margin:4px 0 12px;font-size:13px}
th,td{border:1px solid #d9dee3;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f0f4f8}td.n{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1b7f3b;font-weight:600}.fail{color:#c62828;font-weight:600}
.warn{color:#a66b00;font-weight:600}
.tiles{display:flex;gap:12px;flex-wrap:wrap}.tile{border:1px solid #d9dee3;border-radius:6px;
padding:8px 14px;min-width:120px}.tile b{display:block;font-size:20px}
.figures{display:flex;flex-wrap:wrap;gap:12px}.figure{border:1px solid #eef1f4}
code{background:#f0f4f8;padding:0 3px;border-radius:3px;white-space:nowrap}
details{margin:4px 0 10px}summary{cursor:pointer;color:#3e6fb0}
.empty{color:#52606d;font-style:italic}
"""


def esc(value: object) -> str:
    return escape("" if value is None else str(value))


def page(title: str, meta: str, sections: Iterable[str]) -> str:
    body = "\n".join(sections)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        # No network: a report opened at a site, offline or behind a proxy, looks the same.
        '<meta http-equiv="Content-Security-Policy" content="default-src \'none\'; '
        "style-src 'unsafe-inline'; img-src data:\">"
        f"<title>{esc(title)}</title><style>{CSS}</style></head><body>"
        f'<h1>{esc(title)}</h1><p class="meta">{meta}</p>\n{body}\n</body></html>\n'
    )


def section(anchor: str, heading: str, *parts: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(heading)}</h2>{"".join(parts)}</section>'


def table(headers: Sequence[str], rows: Iterable[Sequence[object]], css: str = "") -> str:
    """An HTML table; a cell given as ("n", value) is right-aligned, ("html", text) is trusted
    markup this package made."""
    head = "".join(f"<th>{esc(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in rows)
    if not body:
        return '<p class="empty">None.</p>'
    return f'<table class="{esc(css)}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _cell(cell: object) -> str:
    if isinstance(cell, tuple) and len(cell) == 2 and cell[0] == "n":
        return f'<td class="n">{esc(_number(cell[1]))}</td>'
    if isinstance(cell, tuple) and len(cell) == 2 and cell[0] == "html":
        return f"<td>{cell[1]}</td>"
    return f"<td>{esc(cell)}</td>"


def _number(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return "" if value is None else str(value)


def num(value: object) -> tuple[str, object]:
    return ("n", value)


def markup(text: str) -> tuple[str, str]:
    return ("html", text)


def tiles(items: Iterable[tuple[str, object]]) -> str:
    inner = "".join(
        f'<div class="tile"><b>{esc(_number(v))}</b>{esc(label)}</div>' for label, v in items
    )
    return f'<div class="tiles">{inner}</div>'


def verdict(check: Check) -> tuple[str, str]:
    if check.passed:
        return markup('<span class="pass">pass</span>')
    css = "warn" if check.severity == "warning" else "fail"
    return markup(f'<span class="{css}">fail</span>')


RULE_CHARS = 90  # a long code list is cut on screen; the whole rule is in its tooltip


def _rule(text: str) -> tuple[str, str]:
    if len(text) <= RULE_CHARS:
        return markup(esc(text))
    return markup(f'<span title="{esc(text)}">{esc(text[:RULE_CHARS])}…</span>')


def checks_table(checks: Sequence[Check], category: str) -> str:
    """The category's failed checks in full, then its passed ones folded away."""
    mine = [c for c in checks if c.category == category]
    failed = [c for c in mine if not c.passed]
    passed = [c for c in mine if c.passed]
    parts = [_checks_rows(failed)] if failed else []
    if passed:
        parts.append(
            f"<details><summary>{len(passed)} check{'s' if len(passed) != 1 else ''} passed"
            f"</summary>{_checks_rows(passed)}</details>"
        )
    return "".join(parts) or '<p class="empty">No check of this kind.</p>'


def _checks_rows(checks: Sequence[Check]) -> str:
    rows = [
        (
            c.table,
            c.column,
            markup(f"<code>{esc(c.reason)}</code>"),
            _rule(c.rule),
            c.severity,
            num(f"{c.threshold:g}%"),
            num(c.rows_checked),
            num(c.rows_failing),
            num(f"{c.pct_failing:.2f}%"),
            verdict(c),
        )
        for c in checks
    ]
    headers = ("table", "column", "check", "rule", "severity", "threshold", "rows checked")
    return table((*headers, "rows failing", "% failing", "result"), rows, "checks")


def visits_table(visits: Visits) -> str:
    """Patients seen per table and visit, as n/N and a shade of how complete."""
    sites = sorted(visits.expected) or sorted({s for s, _, _ in visits.seen})
    rows = []
    for site in sites:
        expected = visits.expected.get(site, 0)
        for name in visits.tables():
            cells: list[object] = [site, name, num(expected)]
            for visit in visits.visits:
                n = visits.seen.get((site, name, visit), 0)
                cells.append(_shade(n, expected))
            rows.append(cells)
    return table(("site", "table", "expected N", *visits.visits), rows, "completeness")


def _shade(n: int, expected: int) -> tuple[str, str]:
    share = n / expected if expected else 0.0
    alpha = 0.08 + 0.5 * min(share, 1.0)
    title = f"{n} of {expected} patients" if expected else f"{n} patients"
    return markup(
        f'<span title="{esc(title)}" style="display:block;text-align:right;'
        f'background:rgba(62,111,176,{alpha:.2f})">{n}/{expected}</span>'
    )
