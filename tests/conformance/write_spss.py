"""SPSS and Stata files, written with pyreadstat as an investigator's SPSS keeps a form: coded
variables as numbers with value labels (the labels are the spec's codes, in any case), a
user-missing code for "not known", numbers as numeric variables, dates as SPSS date variables
under any SPSS date format (or as text), the file plain or compressed, or a Stata file."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl
import pyreadstat

from federate.adapters.parsers import Code, Date, Decimal, Integer, Text, YearOf
from federate.readers.spss import SpssReader
from tests.conformance.cells import SUBJECT, Cell
from tests.conformance.tabular import Sheet
from tests.conformance.write_csv import Written

SPSS_DATES = ("DATE11", "ADATE10", "EDATE10", "SDATE10", "DATETIME20")
MISSING = 99  # the user-missing code of a labelled variable: "uppgift saknas"


@dataclass(frozen=True)
class SpssStyle:
    kind: str = "sav"  # sav, zsav (compressed) or dta (Stata), under the declared file name
    extension: bool = False  # the file named for its kind (patienter.zsav, patienter.dta)
    labelled_codes: bool = True  # coded variables as numbers with value labels (else text)
    user_missing: bool = False  # a missing code written as 99, declared user-missing
    date_variables: bool = True  # dates as date variables (else text yyyy-mm-dd)
    numeric_text: bool = False  # text columns holding numbers (MedDRA version...) as numbers
    numbers_as_text: bool = False  # numeric columns as text variables, in the locale's text


@dataclass
class Variable:
    values: list[Any]
    dtype: Any
    fmt: str | None = None
    labels: dict[float, str] | None = None
    missing: bool = False


def _kind(cell: Cell | None, reader: SpssReader, column: str, style: SpssStyle) -> str:
    if cell is None or cell.parser is None or cell.field == SUBJECT or cell.as_text:
        return "text"
    p = cell.parser
    decoded = reader.decode == "all" or column.casefold() in {d.casefold() for d in reader.decode}
    if isinstance(p, Code) and decoded and style.labelled_codes:
        return "label"
    if isinstance(p, Date | YearOf) and style.date_variables:
        return "date"
    if isinstance(p, Integer | Decimal):
        return "text" if style.numbers_as_text else "number"
    if isinstance(p, Text) and style.numeric_text and _numeric(cell.text):
        return "number"
    return "text"


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text != ""


def variable(
    column: str,
    cells: list[Cell | None],
    reader: SpssReader,
    style: SpssStyle,
    rng: random.Random,
    as_text: bool = False,
) -> tuple[Variable, list[str | None]]:
    """One variable of the file, and the text the reader yields for each of its cells
    (``as_text``: a text variable whatever it holds)."""
    kinds = {_kind(c, reader, column, style) for c in cells if c is not None and c.text != ""}
    kind = kinds.pop() if len(kinds) == 1 and not as_text else "text"
    if kind == "label":
        return _labelled(cells, style, rng)
    if kind == "date":
        days = [_day(c, rng) for c in cells]
        fmt = rng.choice(SPSS_DATES) if style.kind != "dta" else "%td"
        if fmt.startswith("DATETIME"):
            stamps = [None if d is None else dt.datetime.combine(d, dt.time()) for d in days]
            return Variable(stamps, pl.Datetime("ms"), fmt), _texts(cells)
        return Variable(days, pl.Date, fmt), _texts(cells)
    if kind == "number":
        numbers = [None if c is None or c.text == "" else float(_number(c)) for c in cells]
        return Variable(numbers, pl.Float64, _number_format(cells, style)), _texts(cells)
    texts = [None if c is None else c.text for c in cells]
    if style.kind != "dta":  # SPSS pads strings with spaces: trailing ones are not kept
        texts = [None if t is None else t.rstrip() for t in texts]
    return Variable([t or "" for t in texts], pl.Utf8), texts


def _number_format(cells: list[Cell | None], style: SpssStyle) -> str | None:
    """The display format of a numeric variable. Text kept as a number (a MedDRA version, 26.0)
    shows as many decimals as it was typed with, as a site sets them to see "26.0" and not
    "26.00" (which SPSS would show, and the spec reads, as what the site sees); numbers read as
    numbers take SPSS's F12.2, or Stata's default."""
    texts = [c.text for c in cells if c is not None and c.text and isinstance(c.parser, Text)]
    if not texts:
        return None if style.kind == "dta" else "F12.2"
    places = max(len(t.partition(".")[2]) for t in texts)
    return f"%12.{places}f" if style.kind == "dta" else f"F12.{places}"


def _number(cell: Cell) -> float:
    if isinstance(cell.parser, Integer | Decimal):
        return float(cell.value)
    return float(cell.text)


def _day(cell: Cell | None, rng: random.Random) -> dt.date | None:
    if cell is None or cell.value is None:
        return None
    if isinstance(cell.parser, YearOf):
        return dt.date(cell.value, 1, 1) + dt.timedelta(days=rng.randint(0, 364))
    assert isinstance(cell.value, dt.date)
    return cell.value


def _texts(cells: list[Cell | None]) -> list[str | None]:
    return [None if c is None else c.text for c in cells]


def _labelled(
    cells: list[Cell | None], style: SpssStyle, rng: random.Random
) -> tuple[Variable, list[str | None]]:
    """Codes as numbers whose value labels are the spec's codes (spelled as the cells are)."""
    labels: dict[float, str] = {}
    numbers: list[float | None] = []
    missing = False
    for cell in cells:
        text = None if cell is None else cell.text.strip()
        if not text:
            if style.user_missing and style.kind != "dta":  # Stata's are .a-.z: not drawn
                numbers.append(float(MISSING))
                missing = True
            else:
                numbers.append(None)
            continue
        code = next((k for k, v in labels.items() if v == text), None)
        if code is None:
            code = float(len(labels) + 1)
            labels[code] = text
        numbers.append(code)
    if missing:
        labels[float(MISSING)] = "uppgift saknas"
    shown = [None if c is None or not c.text.strip() else c.text.strip() for c in cells]
    return Variable(numbers, pl.Float64, "F2.0", labels, missing), shown


def write_spss(
    reader: SpssReader, sheets: list[Sheet], folder: Path, style: SpssStyle, rng: random.Random
) -> Written:
    written = Written({}, {}, {})
    for sheet in sheets:
        name = sheet.tm.file
        if style.extension and style.kind != "sav":
            name = name.rsplit(".", 1)[0] + "." + style.kind
        variables: dict[str, Variable] = {}
        texts: list[dict[str, str | None]] = [{} for _ in sheet.records]
        for column in sheet.columns:
            cells = [r.cells.get(column) for r in sheet.records]
            # A column two fields read (a lab value and its text as exported) is the text the
            # lab system printed: a text variable, as the spec's "kept as exported" says.
            shared = sum(1 for p in sheet.tm.fields.values() if p.source == column) > 1
            var, shown = variable(column, cells, reader, style, rng, shared)
            variables[sheet.header[column]] = var
            for row, text in zip(texts, shown, strict=True):
                row[column] = text
        _save(folder / name, variables, style)
        written.files[sheet.tm.table] = name
        written.numbers[sheet.tm.table] = list(range(1, len(sheet.records) + 1))
        written.texts[sheet.tm.table] = texts
    return written


def _save(path: Path, variables: dict[str, Variable], style: SpssStyle) -> None:
    frame = pl.DataFrame({n: pl.Series(n, v.values, dtype=v.dtype) for n, v in variables.items()})
    formats = {n: v.fmt for n, v in variables.items() if v.fmt}
    labels = {n: v.labels for n, v in variables.items() if v.labels}
    if style.kind == "dta":
        pyreadstat.write_dta(
            frame, str(path), variable_value_labels=labels, variable_format=formats
        )
        return
    pyreadstat.write_sav(
        frame,
        str(path),
        compress=style.kind == "zsav",
        variable_value_labels=labels,
        missing_ranges={n: [float(MISSING)] for n, v in variables.items() if v.missing},
        variable_format=formats,
    )
