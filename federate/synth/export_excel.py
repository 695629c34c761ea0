"""Write a site's export as Excel workbooks, one sheet per form (``TableMap.part``), the way a
trials unit's workbook looks, read back by ``ExcelReader``.

The rendered strings are laid out as typed cells wherever the reader gives back what the adapter
reads the same way, so the clean export still ingests to the truth:

* a column read only as dates holds true date cells (shown in the site's date format) and text
  dates side by side; a date column the reader declares in ``serial_dates`` holds bare serial
  day numbers, its date format lost;
* a column read only as numbers holds number cells, some stored as text (Excel's green
  triangle);
* any other column (ids, codes, verbatim text, partial dates) holds a number cell only where the
  reader renders that number back to exactly the same text (a MedDRA code, a year), and text
  otherwise, so verbatim values and partial dates stay as exported;
* the register and the sheets a data manager formats for reading (``TITLED``) have a title row
  and a blank row above the header; some sheets leave a blank row between patients
  (``SPACED``); a README sheet comes first and a hidden look-up sheet last, neither read.

So truth rows do not sit at CSV records 2..: the writer returns each row's Excel row number.
Choices are drawn from a stream named by site, sheet and column, and the workbook's timestamp
is fixed: the same truth gives the same bytes.
"""

from __future__ import annotations

import datetime as dt
import re
import zlib
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import xlsxwriter

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import (
    Code,
    Date,
    Decimal,
    Integer,
    Locale,
    Parser,
    YearOf,
    human_format,
)
from federate.readers.excel import EPOCH_1900, ExcelReader, render

if TYPE_CHECKING:
    from federate.synth.writers import RenderedMap, Written

TITLED = frozenset({"subjects", "adverse_events", "labs"})
SPACED = frozenset({"conmeds"})
DATE_CELLS = 0.5  # share of a date column's values written as true date cells
NUMBER_AS_TEXT = 0.08  # share of a number column's values stored as text
CREATED = dt.datetime(2019, 12, 20, 17, 30)  # the workbook's fixed "created" property
README = "README"
LOOKUPS = "Lookups"
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")
_WHOLE_LIMIT = 1e15  # beyond this a number cell no longer holds the digits written


class Kind(Enum):
    TEXT = "text"  # number cells only where they render back to the same text
    STRING = "string"  # always text: the reader would turn a number into a date
    NUMBER = "number"
    DATE = "date"
    SERIAL = "serial"


def column_kinds(tm: TableMap, columns: list[str], reader: ExcelReader) -> dict[str, Kind]:
    """How each export column is laid out, from the parsers that read it."""
    parsers: dict[str, list[Parser]] = {}
    for parser in tm.fields.values():
        if parser.source:
            parsers.setdefault(parser.source, []).append(parser)
    serial = {name.strip().casefold() for name in reader.serial_dates}
    kinds = {}
    for column in columns:
        read_as = parsers.get(column, [])
        dates = bool(read_as) and all(isinstance(p, Date | YearOf) for p in read_as)
        numbers = bool(read_as) and all(isinstance(p, Integer | Decimal) for p in read_as)
        if column.strip().casefold() in serial:
            kinds[column] = Kind.SERIAL if dates else Kind.STRING
        elif dates:
            kinds[column] = Kind.DATE
        elif numbers:
            kinds[column] = Kind.NUMBER
        else:
            kinds[column] = Kind.TEXT
    return kinds


def date_format(tm: TableMap, column: str, locale: Locale) -> str:
    """The strptime format a date column's text is rendered in (its parser's first)."""
    for parser in tm.fields.values():
        date = parser.date if isinstance(parser, YearOf) else parser
        if isinstance(date, Date) and date.source == column:
            return (date.formats or locale.date_formats)[0]
    raise KeyError(column)


def _as_date(text: str, fmt: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, fmt)
    except ValueError:
        return None  # e.g. an injected impossible date: written as the text it is


def _as_number(text: str, exact: bool) -> float | None:
    if not _PLAIN_NUMBER.fullmatch(text):
        return None
    number = float(text)
    if abs(number) >= _WHOLE_LIMIT or (exact and render(number) != text):
        return None
    return number


def _rng(adapter: SiteAdapter, tm: TableMap, column: str) -> np.random.Generator:
    name = f"{adapter.name}\x00{tm.file}\x00{tm.part}\x00{column}"
    return np.random.default_rng(zlib.crc32(name.encode("utf-8")))


def _layout(r: RenderedMap) -> Iterator[int | None]:
    """The rows below the header, in order: the truth row written there, or ``None`` for a
    blank spacer row (one before each new patient on a ``SPACED`` sheet)."""
    ids = r.columns[r.tm.subject.source].to_pylist() if r.tm.subject else []
    previous = object()
    for i in range(r.truth.num_rows):
        if r.tm.table in SPACED and ids and i and ids[i] != previous:
            yield None
        if ids:
            previous = ids[i]
        yield i


class _Sheet:
    """Writes one table map's rendered columns as one sheet; returns each row's Excel row."""

    def __init__(self, book: Any, adapter: SiteAdapter, r: RenderedMap) -> None:
        self.book, self.adapter, self.r = book, adapter, r
        self.bold = book.add_format({"bold": True})
        self.dates = book.add_format({"num_format": human_format(adapter.locale.date_formats[0])})

    def write(self) -> list[int]:
        tm, columns = self.r.tm, list(self.r.columns)
        sheet = self.book.add_worksheet(tm.part or Path(tm.file).stem[:31])
        at = 0
        if tm.table in TITLED:
            title = f"MESEMS {self.adapter.name.upper()} national trial: {tm.part or tm.table}"
            sheet.write_string(0, 0, title, self.bold)
            at = 2  # the title, then a blank row
        sheet.write_row(at, 0, columns, self.bold)
        sheet.freeze_panes(at + 1, 0)
        sheet.set_column(0, len(columns) - 1, 16)
        rows: list[int] = [0] * self.r.truth.num_rows
        for i in _layout(self.r):
            at += 1
            if i is not None:
                rows[i] = at + 1  # as Excel shows it
        kinds = column_kinds(tm, columns, self._reader())
        for c, name in enumerate(columns):
            self._column(sheet, c, name, kinds[name], rows)
        return rows

    def _reader(self) -> ExcelReader:
        reader = self.adapter.reader
        assert isinstance(reader, ExcelReader)
        return reader

    def _column(self, sheet: Any, c: int, name: str, kind: Kind, rows: list[int]) -> None:
        tm, values = self.r.tm, self.r.columns[name].to_pylist()
        draws = _rng(self.adapter, tm, name).random(len(values))
        dated = kind in (Kind.DATE, Kind.SERIAL)
        fmt = date_format(tm, name, self.adapter.locale) if dated else ""
        for value, row, draw in zip(values, rows, draws, strict=True):
            if not value:
                continue  # an empty cell
            at = row - 1
            if dated and (when := _as_date(value, fmt)) is not None:
                if kind is Kind.SERIAL:
                    sheet.write_number(at, c, (when - EPOCH_1900).days)
                    continue
                if draw < DATE_CELLS:
                    sheet.write_datetime(at, c, when, self.dates)
                    continue
            elif kind in (Kind.NUMBER, Kind.TEXT):
                exact = kind is Kind.TEXT
                number = _as_number(value, exact)
                if number is not None and (exact or draw >= NUMBER_AS_TEXT):
                    sheet.write_number(at, c, number)
                    continue
            sheet.write_string(at, c, value)


def _readme(book: Any, adapter: SiteAdapter, maps: list[RenderedMap]) -> None:
    sheet = book.add_worksheet(README)
    lines = [
        adapter.title,
        "",
        "One sheet per case report form:",
        *(f"  {r.tm.part}: {r.truth.num_rows} record(s)" for r in maps),
        "",
        f"Dates are {human_format(adapter.locale.date_formats[0])}.",
    ]
    for i, line in enumerate(lines):
        if line:
            sheet.write_string(i, 0, line)


def _lookups(book: Any, maps: list[RenderedMap]) -> None:
    """The CRF's code lists, as data managers keep them for drop-downs: hidden, never read."""
    sheet = book.add_worksheet(LOOKUPS)
    sheet.hide()
    sheet.write_row(0, 0, ["List", "Value"])
    seen: dict[tuple[str, str], None] = {}
    for r in maps:
        for parser in r.tm.fields.values():
            if isinstance(parser, Code) and parser.source:
                seen.update(dict.fromkeys((parser.source, str(k)) for k in parser.mapping))
    for i, (name, value) in enumerate(seen, start=1):
        sheet.write_string(i, 0, name)
        sheet.write_string(i, 1, value)


def write_excel_export(adapter: SiteAdapter, rendered: list[RenderedMap], folder: Path) -> Written:
    """One workbook per declared file, one sheet per table map; see the module docstring."""
    from federate.synth.writers import Written  # imported here: writers imports this module

    by_file: dict[str, list[RenderedMap]] = {}
    for r in rendered:
        by_file.setdefault(r.tm.file, []).append(r)
    files: list[Path] = []
    provenance: dict[str, tuple[pa.Array, pa.Array]] = {}
    for name, maps in by_file.items():
        sheets = [r.tm.part for r in maps]
        if len(set(sheets)) != len(sheets):
            raise ValueError(f"{adapter.name} {name}: two table maps write the same sheet")
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        book = xlsxwriter.Workbook(str(path), {"strings_to_numbers": False})
        book.set_properties({"title": adapter.title, "created": CREATED})
        # Extra sheets only where every table names its sheet (else the reader wants one).
        extra = all(sheets) and not {README, LOOKUPS} & set(sheets)
        if extra:
            _readme(book, adapter, maps)
        for r in maps:
            rows = _Sheet(book, adapter, r).write()
            provenance[r.tm.table] = (
                pa.array([name] * len(rows), pa.string()),
                pa.array(rows, pa.int64()),
            )
        if extra:
            _lookups(book, maps)
        book.close()
        files.append(path)
    return Written(files, provenance)
