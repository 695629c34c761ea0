"""Excel workbooks, written with openpyxl or xlsxwriter as a trials unit's spreadsheet holds a
form: one sheet per part, a title above the header on some, other sheets beside (a README, a
hidden look-up), blank rows between records, and cells typed as Excel types them: numbers as
numbers, dates as date cells under a display format, bare serial day numbers where the spec says
a column may hold them, or everything as text."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federate.adapters.parsers import Date, Decimal, Integer, PartialDate, YearOf
from federate.readers.excel import ExcelReader
from tests.conformance.cells import Cell
from tests.conformance.tabular import Sheet
from tests.conformance.write_csv import Written

EPOCH = dt.date(1899, 12, 30)  # Excel's day 0 (the 1900 date system)
DATE_FORMATS = ("dd/mm/yyyy", "yyyy-mm-dd", "d-mmm-yy", "d mmmm yyyy", "dd/mm/yy")


@dataclass(frozen=True)
class ExcelStyle:
    engine: str = "openpyxl"  # or "xlsxwriter"
    typed_numbers: bool = False  # whole and decimal numbers as number cells
    date_cells: bool = False  # dates as date cells (under one of DATE_FORMATS)
    serial_numbers: bool = False  # serial day numbers where the spec allows them
    title_rows: bool = False  # a title (and a blank row) above the header
    blank_rows: bool = False  # empty rows between records
    other_sheets: bool = False  # a README sheet first and a hidden look-up sheet
    sheet_case: bool = False  # "PATIENTS" for the part "Patients"
    partial_date_cells: bool = False  # day-precision partial dates as date cells
    month_cells: bool = False  # month-precision partial dates as date cells shown "mmm-yy"
    datetime_cells: bool = False  # date cells holding a time of day, shown dd/mm/yyyy hh:mm


@dataclass
class Placed:
    value: Any  # what the cell holds (str, int, float, date, datetime)
    fmt: str | None = None  # its number format


def place(
    cell: Cell, column: str, reader: ExcelReader, style: ExcelStyle, rng: random.Random
) -> tuple[Placed, str | None]:
    """The cell as Excel holds it, and the text the reader then yields (None: empty)."""
    parser, value, text = cell.parser, cell.value, cell.text
    if value is None or parser is None or cell.as_text or text != text.strip() or text == "":
        return Placed(text or None), text or None
    serial = column.strip().casefold() in {s.casefold() for s in reader.serial_dates}
    if isinstance(parser, Date) and style.serial_numbers and serial:
        number = (value - EPOCH).days
        return Placed(number, "General"), value.isoformat()
    if isinstance(parser, Date | YearOf) and style.date_cells:
        day = value if isinstance(parser, Date) else _some_day(value, rng)
        if style.datetime_cells:
            stamp = dt.datetime.combine(day, dt.time(rng.randint(8, 17), rng.choice((0, 30))))
            return Placed(stamp, "dd/mm/yyyy hh:mm"), day.isoformat()
        return Placed(day, rng.choice(DATE_FORMATS)), day.isoformat()
    if isinstance(parser, PartialDate):
        day, precision = value
        if precision == "month" and style.month_cells:
            return Placed(day, "mmm-yy"), day.strftime("%b-%y")
        if precision == "day" and style.partial_date_cells:
            return Placed(day, "dd/mm/yyyy"), day.strftime("%d/%m/%Y")
    if isinstance(parser, Integer) and style.typed_numbers:
        return Placed(int(value), "General"), str(int(value))
    if isinstance(parser, Decimal) and style.typed_numbers:
        return Placed(float(value), "General"), _general(float(value))
    return Placed(text), text


def _some_day(year: int, rng: random.Random) -> dt.date:
    return dt.date(year, 1, 1) + dt.timedelta(days=rng.randint(0, 364))


def _general(value: float) -> str:
    """A number as Excel's General format shows it (our values: a few significant digits)."""
    return str(int(value)) if value.is_integer() else repr(value)


def write_excel(
    reader: ExcelReader, sheets: list[Sheet], folder: Path, style: ExcelStyle, rng: random.Random
) -> Written:
    """One workbook per file the sheets name; returns where each record landed."""
    written = Written({}, {}, {})
    books: dict[str, list[tuple[str, list[list[Placed]], Sheet]]] = {}
    for sheet in sheets:
        name = sheet.tm.part or "Sheet1"
        if style.sheet_case:
            name = rng.choice((name.upper(), name.lower(), name))
        grid: list[list[Placed]] = []
        if style.title_rows:
            grid += [[Placed(f"MESEMS - {sheet.tm.part}")], []]
        grid.append([Placed(sheet.header[c]) for c in sheet.columns])
        numbers, texts = [], []
        for record in sheet.records:
            if style.blank_rows and rng.random() < 0.3:
                grid.append([])
            row, shown = [], {}
            for column in sheet.columns:
                cell = record.cells.get(column)
                placed, text = (
                    place(cell, column, reader, style, rng) if cell else (Placed(None), None)
                )
                row.append(placed)
                shown[column] = text
            grid.append(row)
            numbers.append(len(grid))
            texts.append(shown)
        books.setdefault(sheet.tm.file, []).append((name, grid, sheet))
        written.files[sheet.tm.table] = sheet.tm.file
        written.numbers[sheet.tm.table] = numbers
        written.texts[sheet.tm.table] = texts
    for file, parts in books.items():
        write = _openpyxl if style.engine == "openpyxl" else _xlsxwriter
        write(folder / file, parts, style.other_sheets)
    return written


def _openpyxl(path: Path, parts: list[tuple[str, list[list[Placed]], Sheet]], others: bool) -> None:
    import openpyxl

    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    if others:
        first.title = "README"
        first["A1"] = "MESEMS UK export: one sheet per form."
    else:
        book.remove(first)
    for name, grid, _ in parts:
        ws = book.create_sheet(name)
        for r, row in enumerate(grid, start=1):
            for c, placed in enumerate(row, start=1):
                if placed.value is None:
                    continue
                cell = ws.cell(r, c, placed.value)
                if placed.fmt:
                    cell.number_format = placed.fmt
    if others:
        hidden = book.create_sheet("lookup")
        hidden["A1"] = "code"
        hidden.sheet_state = "hidden"
    book.save(path)


def _xlsxwriter(
    path: Path, parts: list[tuple[str, list[list[Placed]], Sheet]], others: bool
) -> None:
    import xlsxwriter

    book = xlsxwriter.Workbook(str(path))
    formats: dict[str, Any] = {}
    if others:
        book.add_worksheet("README").write(0, 0, "MESEMS UK export: one sheet per form.")
    for name, grid, _ in parts:
        ws = book.add_worksheet(name)
        for r, row in enumerate(grid):
            for c, placed in enumerate(row):
                value = placed.value
                if value is None:
                    continue
                fmt = None
                if placed.fmt and placed.fmt != "General":
                    fmt = formats.setdefault(
                        placed.fmt, book.add_format({"num_format": placed.fmt})
                    )
                if isinstance(value, dt.date):
                    ws.write_datetime(r, c, value, fmt)
                elif isinstance(value, str):
                    ws.write_string(r, c, value)
                else:
                    ws.write_number(r, c, value, fmt)
    if others:
        hidden = book.add_worksheet("lookup")
        hidden.write(0, 0, "code")
        hidden.hide()
    book.close()
