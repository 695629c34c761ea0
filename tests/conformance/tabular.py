"""Exports with one table per file or sheet (CSV, Excel, SPSS): the truth laid out as sheets of
records, varied the ways the spec allows (header case and spaces, column order, extra and
identifying columns, "required: no" columns left out), then written by a format's writer, which
says at which record number each row landed."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter, TableMap
from federate.privacy.pseudonym import SiteKey
from tests.conformance.cells import (
    Cell,
    blank_out,
    optional_sources,
    plan_row,
    required_source,
    settle_written,
    subject_id,
)
from tests.conformance.grammar import Grammar
from tests.conformance.truth import LOCAL, Row, SiteTruth

EXTRA = "__extra__"  # the field slot of a column the spec does not know


@dataclass(frozen=True)
class Layout:
    """How one export lays its columns out (drawn per export)."""

    header_case: bool = False  # column names in another case
    header_spaces: bool = False  # spaces around column names
    shuffle: bool = False  # columns in another order
    extra_columns: bool = False  # columns the spec does not know (ignored with a warning)
    identifying: bool = True  # the identifying columns the spec drops
    absent_optional: bool = False  # "required: no" columns left out
    drop_required: bool = False  # (never drawn: the spec forbids it) a required column left out


@dataclass
class Record:
    row: Row
    cells: dict[str, Cell]  # by declared source column (and extras by their name)


@dataclass
class Sheet:
    tm: TableMap
    columns: list[str]  # declared spellings, in file order (extras included)
    header: dict[str, str]  # declared spelling -> as written
    records: list[Record] = field(default_factory=list)


def plan_sheets(
    adapter: SiteAdapter, truth: SiteTruth, grammar: Grammar, layout: Layout, rng: random.Random
) -> list[Sheet]:
    schema = registry.schema()
    sheets = []
    chosen: dict[str, TableMap] = {}
    for tm in adapter.tables:  # a table the site may export several ways (QS or RS): one
        if tm.table not in chosen or rng.random() < 0.5:
            chosen[tm.table] = tm
    for tm in adapter.tables:
        if chosen[tm.table] is not tm:
            continue
        table = schema.table(tm.table)
        rows = [dict(r) for r in truth.rows(tm.table)]
        absent = set(optional_sources(tm, table)) if layout.absent_optional else set()
        if (
            layout.drop_required
            and tm.table != "subjects"
            and not any(s.tm.table != "subjects" for s in sheets)
        ):
            absent.add(required_source(tm, table))
        columns = [c for c in tm.input_columns() if c not in absent]
        extras = [f"note_{i}" for i in range(rng.randint(1, 2))] if layout.extra_columns else []
        if layout.identifying:
            columns += list(tm.dropped)
        columns += extras
        if layout.shuffle:
            rng.shuffle(columns)
        sheet = Sheet(tm, columns, {c: _spelled(c, layout, rng) for c in columns})
        for row in rows:
            cells = plan_row(tm, row, grammar)
            for source in absent:
                cells.pop(source, None)
                blank_out(tm, row, source)
            for name in tm.dropped if layout.identifying else ():
                cells[name] = Cell(None, None, _identifying(name, rng), EXTRA)
            for name in extras:
                cells[name] = Cell(None, None, rng.choice(("", "ok", "vedi nota", "1")), EXTRA)
            sheet.records.append(Record(row, cells))
        sheets.append(sheet)
    return sheets


def _spelled(name: str, layout: Layout, rng: random.Random) -> str:
    if layout.header_case:
        name = rng.choice((name.upper(), name.lower(), name.title(), name))
    if layout.header_spaces and rng.random() < 0.5:
        name = " " + name + rng.choice(("", " "))
    return name


def _identifying(name: str, rng: random.Random) -> str:
    """A value for a column the spec drops unread: never a real identifier's shape."""
    return rng.choice(("ANONIMO", "Rossi", "n/a", "redacted"))


def expected(
    adapter: SiteAdapter,
    sheets: list[Sheet],
    files: dict[str, str],
    numbers: dict[str, list[int]],
    texts: dict[str, list[dict[str, str | None]]],
    key: SiteKey,
) -> dict[str, list[Row]]:
    """What the pool must hold per table: each record's truth row with its patient's
    pseudonym, the file it was written to (``files``: table -> file name), its record number
    (``numbers``) and the text the reader yields for each of its cells (``texts``)."""
    out: dict[str, list[Row]] = {}
    for sheet in sheets:
        tm = sheet.tm
        table_rows = out.setdefault(tm.table, [])
        for record, number, written in zip(
            sheet.records, numbers[tm.table], texts[tm.table], strict=True
        ):
            if not number:  # nothing to write (findings without a result): no record
                continue
            row = dict(record.row)
            settle_written(tm, row, written)
            row["subject_id"] = subject_id(key, adapter.country, row[LOCAL])
            row["source_file"] = files[tm.table]
            row["source_row"] = number
            table_rows.append(row)
    return out


def cell_texts(record: Record) -> dict[str, str | None]:
    return {name: cell.text for name, cell in record.cells.items()}


def value_of(record: Record, source: str) -> Any:
    return record.cells[source].value
