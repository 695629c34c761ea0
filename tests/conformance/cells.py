"""One truth row as the cells of one record in the site's export, and what the pool must then
hold for it: the values typed "as exported" (``Verbatim``, a partial date's ``_raw``) are the
text written, the patient is the keyed pseudonym of the normalised local id."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from federate.adapters.declaration import TableMap
from federate.adapters.parsers import Const, Parser, PartialDate, Verbatim
from federate.privacy.pseudonym import SiteKey, pseudonym
from federate.schema import Table
from tests.conformance.grammar import Grammar
from tests.conformance.truth import LOCAL, Row

SUBJECT = "__subject__"  # the parser slot of the patient id column


@dataclass
class Cell:
    """One exported cell: the parser that reads it (None for the patient id), the shared value
    it stands for, and its text as written."""

    parser: Parser | None
    value: Any
    text: str
    field: str  # the shared column (SUBJECT for the patient id)
    as_text: bool = False  # written as this text whatever the format types (a forbidden value)


def primary_fields(tm: TableMap) -> dict[str, tuple[str, Parser]]:
    """Source column -> the (shared column, parser) whose value decides the cell: a
    ``Verbatim`` only when nothing else reads the column."""
    chosen: dict[str, tuple[str, Parser]] = {}
    for name, parser in tm.fields.items():
        if not parser.source or isinstance(parser, Const):
            continue
        held = chosen.get(parser.source)
        if held is None or (isinstance(held[1], Verbatim) and not isinstance(parser, Verbatim)):
            chosen[parser.source] = (name, parser)
    return chosen


def truth_value(row: Row, name: str, parser: Parser) -> Any:
    if isinstance(parser, PartialDate):
        day, precision = row.get(name), row.get(f"{name}_precision")
        return None if day is None else (day, precision)
    return row.get(name)


def plan_row(tm: TableMap, row: Row, grammar: Grammar) -> dict[str, Cell]:
    """The row's cells by source column, in the declaration's order."""
    cells: dict[str, Cell] = {}
    if tm.subject:
        local = row[LOCAL]
        cells[tm.subject.source] = Cell(None, local, grammar.local_id(tm.subject, local), SUBJECT)
    selector = tm.keep.column if tm.keep else None
    for source, (name, parser) in primary_fields(tm).items():
        value = truth_value(row, name, parser)
        text = grammar.text(parser, value, selector=source == selector)
        cells[source] = Cell(parser, value, text, name)
    return cells


def settle_written(tm: TableMap, row: Row, texts: dict[str, str | None]) -> None:
    """Fill the row's "as exported" columns from what was written (``texts``: source column ->
    the text the reader yields, None for an absent or empty cell)."""
    for name, parser in tm.fields.items():
        if not parser.source:
            continue
        text = texts.get(parser.source)
        shown = text if text not in (None, "") else None
        if isinstance(parser, Verbatim):
            row[name] = shown
        elif isinstance(parser, PartialDate):
            row[f"{name}_raw"] = shown


def blank_out(tm: TableMap, row: Row, source: str) -> None:
    """The shared columns a column absent from the export leaves empty."""
    for name, parser in tm.fields.items():
        if parser.source != source:
            continue
        row[name] = None
        if isinstance(parser, PartialDate):
            row[f"{name}_precision"] = None
            row[f"{name}_raw"] = None


def optional_sources(tm: TableMap, table: Table) -> list[str]:
    """Source columns the spec marks "required: no" (every shared column they fill is
    optional): an export may leave them out."""
    out: dict[str, bool] = {}
    for name, parser in tm.fields.items():
        if not parser.source or isinstance(parser, Const):
            continue
        optional = not table.column(name).required
        out[parser.source] = out.get(parser.source, True) and optional
    subject = tm.subject.source if tm.subject else None
    return [s for s, ok in out.items() if ok and s != subject]


def required_source(tm: TableMap, table: Table) -> str:
    """A source column the spec marks required (a date, say), other than the patient's, and
    not one the format fills itself (an event, a group)."""
    for name, parser in tm.fields.items():
        source = parser.source
        structural = source is None or source.startswith(("redcap_", "Study"))
        pivoted = tm.pivot is not None and source in tm.pivot.tests
        if not structural and not pivoted and table.column(name).required:
            assert source is not None
            return source
    raise AssertionError(f"{tm.table}: no required column")


def subject_id(key: SiteKey, country: str, local: str) -> str:
    return pseudonym(key, country, local)
