"""One export of a site, written from its declaration: the truth drawn, laid out and written by
the writer of the site's format, and (on request) cells the rules forbid put in. Which format
writes it is the adapter's ``format``: a new site of a known format needs no code here."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter
from federate.adapters.parsers import Code, Date, Decimal, Integer, PartialDate, YearOf
from federate.privacy.pseudonym import SiteKey
from federate.readers.odm import DECODE_SUFFIX
from tests.conformance.cells import Cell
from tests.conformance.check import Quarantined
from tests.conformance.grammar import Grammar, Knobs
from tests.conformance.tabular import EXTRA, Layout, Sheet, expected
from tests.conformance.truth import LOCAL, Row, SiteTruth, draw_truth

# What the rules forbid, by kind: a code outside the list (in a text column, or in a coded item
# whose own code list lacks it), an impossible date, a malformed number, and a number whose digit
# grouping is not in threes ("1.50,0": a grouping mark where none can be).
KINDS = ("code", "coded_item", "date", "number", "grouping")


@dataclass(frozen=True)
class Draw:
    """Everything one export varies: drawn by hypothesis, shown when a case fails."""

    knobs: Knobs = field(default_factory=Knobs)
    layout: Layout = field(default_factory=Layout)
    style: Any = None  # the format's own style (CsvStyle, ExcelStyle, ...)
    seed: int = 0
    patients: int = 3


@dataclass
class Export:
    folder: Path
    expected: dict[str, list[Row]]  # table -> rows the pool must hold
    quarantine: list[Quarantined] = field(default_factory=list)  # rows it must quarantine
    truth: SiteTruth | None = None
    extras: set[str] = field(default_factory=set)  # columns the spec does not know (lower case)


Writer = Callable[[SiteAdapter, list[Sheet], Path, Any, random.Random], Any]


def build(
    site: str,
    folder: Path,
    draw: Draw,
    key: SiteKey,
    *,
    forbidden: int = 0,
    kinds: frozenset[str] = frozenset(KINDS),
    target: str | None = None,
) -> Export:
    """Write one export of ``site`` into ``folder``; ``forbidden`` cells the rules forbid (of
    ``kinds``) are put into as many records (never the patients' own table: see ``inject``)."""
    from tests.conformance.formats import FORMATS

    adapter = registry.adapter(site)
    rng = random.Random(draw.seed)
    truth = draw_truth(adapter, rng, draw.patients)
    grammar = Grammar(adapter, draw.knobs, rng)
    fmt = FORMATS[adapter.format]
    sheets = fmt.plan(adapter, truth, grammar, draw.layout, rng)
    bad = (
        inject(sheets, grammar, rng, forbidden, fmt.structural, kinds, target) if forbidden else []
    )
    folder.mkdir(parents=True, exist_ok=True)
    written = fmt.write(adapter, sheets, folder, draw.style, grammar)
    rows = expected(adapter, sheets, written.files, written.numbers, written.texts, key)
    export = Export(folder, rows, truth=truth, extras=extra_columns(sheets))
    for sheet, record, column in bad:
        table = sheet.tm.table
        at = sheet.records.index(record)
        number = written.numbers[table][at]
        expected_rows = export.expected[table]
        expected_rows[:] = [r for r in expected_rows if r["source_row"] != number]
        reason = record.cells[column].parser.reason  # type: ignore[union-attr]
        export.quarantine.append(
            Quarantined(table, written.files[table], number, sheet.header[column].strip(), reason)
        )
    return export


def extra_columns(sheets: list[Sheet]) -> set[str]:
    """The columns written that the spec does not know, as written (lower case, no spaces)."""
    out = set()
    for sheet in sheets:
        tm = sheet.tm
        known = {*tm.input_columns(), *tm.dropped, *([tm.subject.source] if tm.subject else [])}
        out |= {sheet.header[c].strip().lower() for c in sheet.columns if c not in known}
    return out


def _kind_of(source: str, cell: Cell, grammar: Grammar) -> str | None:
    """Which kind of forbidden value a cell can take (see ``KINDS``)."""
    p = cell.parser
    if isinstance(p, Code):
        return "coded_item" if source.endswith(DECODE_SUFFIX) else "code"
    if isinstance(p, Date | YearOf | PartialDate):
        return "date"
    if isinstance(p, Integer):
        return "number"
    if isinstance(p, Decimal):
        return "number"
    return None


def inject(
    sheets: list[Sheet],
    grammar: Grammar,
    rng: random.Random,
    count: int,
    structural: frozenset[str] = frozenset(),
    kinds: frozenset[str] = frozenset(KINDS),
    target: str | None = None,
) -> list[tuple[Sheet, Any, str]]:
    """Put a forbidden value of one of ``kinds`` into ``count`` records, one per record, never
    the patients' own (whose quarantine holds every other row of the patient too) nor a W0 visit
    (without which the visits of assessments are assigned differently)."""
    candidates = []
    for sheet in sheets:
        if sheet.tm.table == "subjects":
            continue
        for record in sheet.records:
            if sheet.tm.table == "visits" and record.row.get("visit_code") == "W0":
                continue
            for source, cell in record.cells.items():
                if cell.field == EXTRA or cell.parser is None or source not in sheet.columns:
                    continue
                if source in structural or _shared(sheet, source):
                    continue
                if sheet.tm.keep is not None and source == sheet.tm.keep.column:
                    continue  # another value there is another kind of row: skipped, declared
                kind = _kind_of(source, cell, grammar)
                groupable = isinstance(cell.parser, Decimal) and bool(grammar.locale.group)
                if kind == "number" and groupable and "grouping" in kinds and rng.random() < 0.5:
                    kind = "grouping"
                if target is not None and target != f"{sheet.tm.table}.{cell.field}":
                    continue  # only the shared column asked for ("labs.analyte")
                if kind in kinds:
                    candidates.append((sheet, record, source, kind))
    rng.shuffle(candidates)
    chosen: list[tuple[Sheet, Any, str]] = []
    used: set[int] = set()
    for sheet, record, source, kind in candidates:
        if id(record) in used or len(chosen) == count:
            continue
        used.add(id(record))
        cell = record.cells[source]
        assert cell.parser is not None
        bad = (
            grammar.misgrouped(cell.parser)
            if kind == "grouping"
            else grammar.forbidden(cell.parser)
        )
        assert bad is not None
        record.cells[source] = replace(cell, text=bad.text, as_text=True)
        chosen.append((sheet, record, source))
    return chosen


def _shared(sheet: Sheet, source: str) -> bool:
    """A column two fields read (a lab value and its text as exported)."""
    return sum(1 for p in sheet.tm.fields.values() if p.source == source) > 1


def patients_of(export: Export) -> list[str]:
    return sorted({r[LOCAL] for rows in export.expected.values() for r in rows})
