"""The quarantine as files a coordinator opens: a workbook whose first sheet sums up the causes
(as Pinnacle 21's Issue Summary does), then one sheet per file of the site's export, named after
it, then the warnings; and a CSV in the site's own spreadsheet dialect."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import xlsxwriter

from federate.adapters.declaration import Spreadsheet
from federate.quality.bundle_page import first_records

COLUMNS = ("source_row", "column", "value", "reason", "rule")
WARNING_COLUMNS = ("source_file", "part", "source_row", "column", "value", "reason", "rule")
MAX_ROWS = 1_048_575  # Excel's limit, less the header
SUMMARY = "Summary"
_NOT_IN_A_SHEET_NAME = re.compile(r"[\[\]:*?/\\]")
BOM = b"\xef\xbb\xbf"


def write_quarantine_csv(path: Path, quarantine: pa.Table, dialect: Spreadsheet) -> None:
    with path.open("wb") as out:
        if dialect.bom:
            out.write(BOM)
        pa_csv.write_csv(quarantine, out, pa_csv.WriteOptions(delimiter=dialect.delimiter))


def write_quarantine_xlsx(
    path: Path, quarantine: pa.Table, warnings: pa.Table, causes: Sequence[dict[str, Any]]
) -> None:
    book = xlsxwriter.Workbook(str(path), {"constant_memory": True, "strings_to_numbers": False})
    bold = book.add_format({"bold": True})
    _summary(book, bold, quarantine, warnings, causes)
    taken = {SUMMARY.lower()}
    for (source, part), rows in _by_file(quarantine):
        name = _sheet_name(source + (f" {part}" if part else ""), taken)
        _sheet(book.add_worksheet(name), bold, rows, COLUMNS, "in quarantine.csv")
    if warnings.num_rows:
        name = _sheet_name("warnings", taken)
        _sheet(book.add_worksheet(name), bold, warnings, WARNING_COLUMNS, "counted in report.json")
    book.close()


def _summary(
    book: xlsxwriter.Workbook,
    bold: Any,
    quarantine: pa.Table,
    warnings: pa.Table,
    causes: Sequence[dict[str, Any]],
) -> None:
    """Each cause once: the file and column, the rule, how many rows, the first records."""
    sheet = book.add_worksheet(SUMMARY)
    rows = len({(f, r) for f, r in zip(quarantine.column("source_file").to_pylist(),
                                         quarantine.column("source_row").to_pylist(),
                                         strict=True)})  # fmt: skip
    sheet.write_row(0, 0, ("Rows quarantined", rows), bold)
    sheet.write_row(1, 0, ("Warnings", warnings.num_rows), bold)
    header = ("severity", "file", "part", "column", "reason", "rule", "rows", "first records")
    sheet.write_row(3, 0, header, bold)
    for i, cause in enumerate(causes, start=4):
        first = first_records(cause["examples"])
        values = [cause[k] for k in ("severity", "source_file", "part", "column", "reason", "rule")]
        for j, value in enumerate(values):
            sheet.write_string(i, j, "" if value is None else str(value))
        sheet.write_number(i, 6, cause["rows"])
        sheet.write_string(i, 7, first)
    if not causes:
        sheet.write(4, 0, "No row was quarantined and nothing warned.")
    sheet.set_column(0, 7, 18)
    sheet.set_column(5, 5, 48)
    sheet.set_column(7, 7, 48)


def _by_file(quarantine: pa.Table) -> list[tuple[tuple[str, str | None], pa.Table]]:
    keys = sorted(
        set(zip(quarantine.column("source_file").to_pylist(),
                quarantine.column("part").to_pylist(), strict=True)),
        key=lambda k: (k[0], k[1] or ""),
    )  # fmt: skip
    out = []
    for source, part in keys:
        mask = pc.equal(quarantine.column("source_file"), source)
        part_mask = pc.is_null(quarantine.column("part")) if part is None else pc.equal(
            quarantine.column("part"), part)  # fmt: skip
        out.append(((source, part), quarantine.filter(pc.and_(mask, part_mask))))
    return out


def _sheet_name(wanted: str, taken: set[str]) -> str:
    """A file's own name, as Excel allows a sheet's: 31 characters, no []:*?/\\, unique."""
    base = _NOT_IN_A_SHEET_NAME.sub("_", wanted)[:31] or "sheet"
    name, n = base, 2
    while name.lower() in taken:
        suffix = f" ({n})"
        name, n = base[: 31 - len(suffix)] + suffix, n + 1
    taken.add(name.lower())
    return name


def _sheet(sheet: Any, bold: Any, rows: pa.Table, columns: Sequence[str], rest: str) -> None:
    sheet.write_row(0, 0, columns, bold)
    sheet.freeze_panes(1, 0)
    data = rows.select(list(columns)).slice(0, MAX_ROWS)
    # Each column's writer chosen once, not per cell as write_row does (~10% less time:
    # xlsxwriter's own ~4 µs a cell is the rest); row by row, as constant_memory requires.
    # Text stays text: "=HYPERLINK(...)" from an export is never made a formula or a link.
    writers = [
        sheet.write_number if pa.types.is_integer(data.schema.field(c).type)
        else sheet.write_string
        for c in columns
    ]  # fmt: skip
    values = [data.column(c).to_pylist() for c in columns]
    for i, row in enumerate(zip(*values, strict=True), start=1):
        for j, (write, value) in enumerate(zip(writers, row, strict=True)):
            if value is not None:
                write(i, j, value)
    if rows.num_rows > MAX_ROWS:
        sheet.write(MAX_ROWS + 1, 0, f"… {rows.num_rows - MAX_ROWS} more, {rest}")
    sheet.autofilter(0, 0, min(rows.num_rows, MAX_ROWS), len(columns) - 1)
    sheet.set_column(0, len(columns) - 1, 18)
