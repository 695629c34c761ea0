"""Coordinator-facing documents rendered from the declarations (never written by hand)."""

from __future__ import annotations

import html

from markdown_it import MarkdownIt

from federate.adapters.declaration import SiteAdapter
from federate.adapters.parsers import (
    Code,
    Const,
    Decimal,
    Locale,
    Parser,
    YearOf,
    human_format,
)
from federate.schema import Schema


def _cell(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _codes(parser: Parser) -> str:
    if isinstance(parser, Code):
        return "; ".join(f"`{k}` → {v}" for k, v in parser.mapping.items())
    if isinstance(parser, Const):
        return f"always {parser.value} (not in the export)"
    return ""


def _group_words(loc: Locale) -> str:
    words = loc.group_words()
    return words if loc.group.isspace() else f"`{loc.group}`"


def _shown(mark: str) -> str:
    return " " if mark.isspace() else mark  # any space reads: show the one a reader can see


def _unread_files(adapter: SiteAdapter) -> list[str]:
    """The files the export may carry that are no data: never opened, listed in the manifest."""
    return [
        f"- `{rule.pattern}`: {rule.reason}; never read, listed in the manifest with its SHA-256."
        for rule in adapter.skip
        if not rule.read
    ]


def site_markdown(adapter: SiteAdapter, schema: Schema) -> str:
    loc = adapter.locale
    lines = [
        f"# {adapter.title}",
        "",
        f"Site `{adapter.name}` · adapter version {adapter.version} · shared schema "
        f"{schema.name} {schema.version}. Generated from the adapter's declaration by "
        f"`federate sites show {adapter.name}`.",
        "",
        "## The export",
        "",
        f"- Files: {adapter.reader.describe()}; all in one folder.",
        f"- Numbers: decimal mark `{loc.decimal}`"
        + (
            f"; digits may be grouped by {_group_words(loc)}, in groups of three only "
            f"(`1{_shown(loc.group)}234{loc.decimal}5`; a value grouped otherwise is refused)"
            if loc.group
            else ""
        )
        + ".",
        f"- Dates: {' or '.join(f'`{human_format(f)}`' for f in loc.date_formats)}; "
        "two-digit years fall in "
        f"{loc.century_start}–{loc.century_start + 99} unless a column says otherwise.",
        "- Column names are matched ignoring case and surrounding spaces; extra columns are "
        "ignored with a warning and never leave the site.",
        "- Codes are matched ignoring case and surrounding spaces. A value that is none of "
        "its column's codes is quarantined with its row, never emptied: the quarantine shows "
        "the value as written and, where the file carries its own code list (value labels, "
        "code lists, choices), names it.",
        "- A column whose shared column is not required (required: no) may be left out of its "
        "file: its values are then empty (the report says so).",
        *_unread_files(adapter),
        "",
    ]
    for tm in adapter.tables:
        table = schema.table(tm.table)
        where = f"`{tm.file}`" + (f", part `{tm.part}`" if tm.part else "")
        lines += [f"## {where} → table `{tm.table}`", "", table.description, ""]
        if tm.note:
            lines += [tm.note, ""]
        lines += [
            "| column in the export | shared column | required | how it is read | codes |",
            "|---|---|---|---|---|",
        ]
        if tm.subject:
            pad = f", zero-padded to {tm.subject.zero_pad} digits" if tm.subject.zero_pad else ""
            lines.append(
                f"| `{tm.subject.source}` | subject_id | yes | patient id, trimmed"
                f"{', upper-cased' if tm.subject.upper else ''}{pad}; replaced by a keyed "
                "pseudonym, never written | |"
            )
        for name, parser in tm.fields.items():
            col = table.column(name)
            how = parser.rule(loc)
            if isinstance(parser, YearOf):
                how += "; only the year is kept"
            # A column's own window for two-digit years (a Date's, a PartialDate's, a YearOf's).
            date = parser.date if isinstance(parser, YearOf) else parser
            start = getattr(date, "century_start", None)
            if start is not None:
                how += f"; two-digit years {start}–{start + 99}"
            if isinstance(parser, Decimal) and col.unit:
                how += f" ({col.unit})"
            source = f"`{parser.source}`" if parser.source else "—"
            lines.append(
                f"| {source} | {name}{' (restricted)' if col.restricted else ''} | "
                f"{'yes' if col.required else 'no'} | {_cell(how)} | {_cell(_codes(parser))} |"
            )
        for dropped in tm.dropped:
            lines.append(f"| `{dropped}` | — | — | identifying: read, dropped, never written | |")
        lines.append("")
    for note in adapter.notes:
        lines += [note, ""]
    return "\n".join(lines).rstrip() + "\n"


def schema_markdown(schema: Schema) -> str:
    lines = [
        f"# Shared schema {schema.name} {schema.version}",
        "",
        "Generated from the declaration by `federate schema docs`. Restricted columns reveal "
        "allocation and are never shown to a blinded user. Hard rules quarantine a row; "
        "'warn unless' rules only warn.",
        "",
    ]
    for table in schema:
        lines += [
            f"## `{table.name}`",
            "",
            table.description,
            "",
            f"Natural key: {', '.join(table.key)}.",
            "",
            "| column | type | unit | rules | restricted | description |",
            "|---|---|---|---|---|---|",
        ]
        for row in schema.dictionary():
            if row["table"] == table.name:
                lines.append(
                    "| "
                    + " | ".join(
                        _cell(row[k])
                        for k in ("column", "type", "unit", "rules", "restricted", "description")
                    )
                    + " |"
                )
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


_CSS = (
    "body{font-family:system-ui,sans-serif;max-width:72rem;margin:2rem auto;padding:0 1rem;"
    "color:#222}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem}"
    "th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}"
    "th{background:#f3f3f3}code{background:#f6f6f6;padding:0 .2rem}"
)


def markdown_to_html(markdown: str, title: str) -> str:
    """A standalone HTML page (tables enabled, raw HTML in the source escaped)."""
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_CSS}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )
