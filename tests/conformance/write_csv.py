"""Delimited text exports, written with Python's ``csv`` module as a spreadsheet or an EDC's CSV
export writes them: the reader's delimiter and quote, any declared encoding, either line end,
minimal or full quoting, the file name in any case."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass
from pathlib import Path

from federate.readers.csv import CsvReader
from tests.conformance.tabular import Sheet, cell_texts


@dataclass(frozen=True)
class CsvStyle:
    encoding: str = "utf-8"
    newline: str = "\n"
    quote_all: bool = False
    final_newline: bool = True
    file_case: bool = False  # PAZIENTI.CSV for pazienti.csv (Windows exports vary it)
    blank_lines: bool = False  # empty lines between records
    delimiter_lines: bool = False  # lines of delimiters only (";;;;"), as Excel saves them
    delimiter: str | None = None  # (never drawn: the spec forbids it) another delimiter


@dataclass
class Written:
    files: dict[str, str]  # table -> file name as written
    numbers: dict[str, list[int]]  # table -> record number of each row
    texts: dict[str, list[dict[str, str | None]]]  # table -> each row's cells as read


def write_csv(
    reader: CsvReader, sheets: list[Sheet], folder: Path, style: CsvStyle, rng: random.Random
) -> Written:
    written = Written({}, {}, {})
    for sheet in sheets:
        name = sheet.tm.file
        if style.file_case:
            name = rng.choice((name.upper(), name.title(), name))
        out = io.StringIO()
        quoting = csv.QUOTE_ALL if style.quote_all else csv.QUOTE_MINIMAL
        delimiter = style.delimiter or reader.delimiter
        writer = csv.writer(
            out,
            delimiter=delimiter,
            quotechar=reader.quote,
            quoting=quoting,
            lineterminator=style.newline,
        )
        writer.writerow([sheet.header[c] for c in sheet.columns])
        line = 1
        numbers = []
        for i, record in enumerate(sheet.records):
            for _ in range(_noise(style, rng, first=i == 0)):
                line += 1
                if style.delimiter_lines and (not style.blank_lines or rng.random() < 0.5):
                    out.write(delimiter * (len(sheet.columns) - 1) + style.newline)
                else:
                    out.write(style.newline)
            writer.writerow(
                [record.cells[c].text if c in record.cells else "" for c in sheet.columns]
            )
            line += 1
            numbers.append(line)
        text = out.getvalue()
        if not style.final_newline:
            text = text[: -len(style.newline)]
        (folder / name).write_bytes(text.encode(style.encoding))
        written.files[sheet.tm.table] = name
        written.numbers[sheet.tm.table] = numbers
        written.texts[sheet.tm.table] = [cell_texts(r) for r in sheet.records]
    return written


def _noise(style: CsvStyle, rng: random.Random, first: bool) -> int:
    """How many blank or delimiter-only lines go before a record (at least one before the
    first, so an export drawn with them has them)."""
    if not (style.blank_lines or style.delimiter_lines):
        return 0
    return rng.choice((1, 2) if first else (0, 0, 1, 2))
