"""Write a site's export as SPSS system files (.sav), one per form, as its SPSS users keep them.

Each variable's SPSS type follows how the adapter declares the column is read:

* a ``Code`` the reader decodes (``SpssReader.decode``): a number with value labels, the site's
  code text being the label; yes/no lists are 1 = yes, 0 = no, others 1, 2, 3... in the order
  declared. Where the shared column's empty value means "not known" (``NOT_KNOWN``) it is
  written as the user-missing code 99, labelled in the site's language; other empty values are
  system-missing.
* ``Date`` and ``YearOf``: a date variable; ``Integer`` and ``Decimal``: a number.
* anything else (ids, text, verbatims, partial dates, lab values kept as printed, the dropped
  identifiers): a string variable.

Typed values are the rendered text read through the adapter's own parser, so they read back to
exactly the truth. A column with a value its type cannot hold (an injected "n.d." in a count,
31 February) is written whole as a string variable, as SPSS types data imported with such a
value: the reader then hands the value to the parser, which reports it. A code the label set
lacks gets an unlabelled number. SAV cases are numbered from 1 (there is no header record).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat

from federate.adapters.declaration import SiteAdapter
from federate.adapters.parsers import Code, Date, Decimal, Integer, Parser, YearOf
from federate.readers.spss import SpssReader
from federate.synth.practice import practice

if TYPE_CHECKING:
    from federate.synth.writers import RenderedMap, Written

MISSING_CODE = 99
# The label of the user-missing code, in the site's language.
MISSING_LABELS = {
    "sv": "uppgift saknas",
    "da": "uoplyst",
    "en": "not known",
    "fr": "inconnu",
    "it": "non noto",
    "es": "desconocido",
}
# Shared columns whose empty value means "not known" rather than "not applicable": a labelled
# export records them as the user-missing code.
NOT_KNOWN = {("relapses", "recovery"), ("adverse_events", "relatedness_harvest")}
DATE_FORMAT = "SDATE10"  # yyyy/mm/dd: how SPSS shows an ISO date
# The header's creation stamp ("dd Mon yy", "hh:mm:ss") at this offset: readstat writes the
# clock time there; the export's fixed stamp (database lock) keeps the simulator deterministic.
STAMP_AT = 92
EXPORTED_AT = b"20 Dec 1914:30:00"


@dataclass(frozen=True)
class Variable:
    values: pl.Series
    format: str | None = None  # SPSS print format; None: pyreadstat's default
    measure: str = "nominal"
    labels: dict[int | float, str] | None = None
    missing: tuple[int, ...] = ()


def _decoded(adapter: SiteAdapter, source: str) -> bool:
    reader = adapter.reader
    assert isinstance(reader, SpssReader), f"{adapter.name}: the spss format needs SpssReader"
    if reader.decode == "all":
        return True
    return source.casefold() in {d.casefold() for d in reader.decode}


def value_codes(parser: Code) -> dict[object, int]:
    """Shared value -> the number that stands for it in the file."""
    shared = list(dict.fromkeys(parser.mapping.values()))
    if all(isinstance(v, bool) for v in shared):
        return {True: 1, False: 0}
    return {v: i for i, v in enumerate(shared, start=1)}


def _parsed(con: duckdb.DuckDBPyConnection, sql: str, text: pa.Array) -> pa.Array | None:
    """``text`` read through a parser's SQL (over ``v``); None if a value does not read."""
    con.register("rendered", pa.table({"v": text}))
    try:
        out = con.sql(
            f"SELECT ({sql}) AS t, nullif(trim(v), '') IS NOT NULL AS given FROM rendered"
        )
        table = out.to_arrow_table()
    finally:
        con.unregister("rendered")
    parsed, given = table.column("t").combine_chunks(), table.column("given")
    if pc.any(pc.and_(given, pc.is_null(parsed))).as_py():
        return None
    return parsed


def _labelled(parser: Code, text: pa.Array, not_known: bool, missing_label: str) -> Variable:
    codes = value_codes(parser)
    labels: dict[int | float, str] = {}
    for site_code, shared in parser.mapping.items():
        labels.setdefault(codes[shared], site_code)
    by_text = {k.strip().lower(): codes[v] for k, v in parser.mapping.items()}
    unlabelled = max(labels) + 1 if max(labels) + 1 != MISSING_CODE else MISSING_CODE + 1
    numbers: list[float | None] = []
    for value in text.to_pylist():
        if value is None or not value.strip():
            numbers.append(float(MISSING_CODE) if not_known else None)
        else:
            numbers.append(float(by_text.get(value.strip().lower(), unlabelled)))
    missing: tuple[int, ...] = ()
    if not_known:
        labels[MISSING_CODE] = missing_label
        missing = (MISSING_CODE,)
    width = len(str(int(max([*labels, *(n for n in numbers if n is not None)]))))
    return Variable(pl.Series(numbers, dtype=pl.Float64), f"F{width}.0", "nominal", labels, missing)


def _text(values: pa.Array) -> Variable:
    # SPSS strings have no null: an empty cell is an empty string.
    filled = pc.fill_null(pc.cast(values, pa.string()), "")
    return Variable(pl.Series(filled.to_pylist(), dtype=pl.String))


def _typed(
    con: duckdb.DuckDBPyConnection, parser: Parser, text: pa.Array, adapter: SiteAdapter
) -> Variable:
    """A Date, YearOf, Integer or Decimal column as an SPSS date or number."""
    date = parser.date if isinstance(parser, YearOf) else parser
    parsed = _parsed(con, date.sql("v", adapter.locale), text)
    if parsed is None:
        return _text(text)
    if isinstance(date, Date):
        return Variable(pl.Series(parsed.to_pylist(), dtype=pl.Date), DATE_FORMAT, "scale")
    places = date.places if isinstance(date, Decimal) else 0
    numbers = pc.cast(parsed, pa.float64()).to_pylist()
    return Variable(pl.Series(numbers, dtype=pl.Float64), f"F8.{places}", "scale")


def _variables(
    con: duckdb.DuckDBPyConnection, adapter: SiteAdapter, r: RenderedMap, missing_label: str
) -> dict[str, Variable]:
    readers: dict[str, list[tuple[str, Parser]]] = {}
    for name, parser in r.tm.fields.items():
        if parser.source:
            readers.setdefault(parser.source, []).append((name, parser))
    out: dict[str, Variable] = {}
    for column, text in r.columns.items():
        parsers = readers.get(column, [])
        if len(parsers) == 1 and isinstance(parsers[0][1], Code) and _decoded(adapter, column):
            name, code = parsers[0]
            assert isinstance(code, Code)
            not_known = (r.tm.table, name) in NOT_KNOWN
            out[column] = _labelled(code, text, not_known, missing_label)
        elif len(parsers) == 1 and isinstance(parsers[0][1], Date | YearOf | Integer | Decimal):
            out[column] = _typed(con, parsers[0][1], text, adapter)
        else:
            out[column] = _text(text)
    return out


def write_sav(path: Path, variables: dict[str, Variable]) -> None:
    frame = pl.DataFrame({name: v.values for name, v in variables.items()})
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_sav(
        frame,
        str(path),
        file_label=f"MESEMS {path.stem}",
        variable_value_labels={n: v.labels for n, v in variables.items() if v.labels},
        missing_ranges={n: list(v.missing) for n, v in variables.items() if v.missing},
        variable_format={n: v.format for n, v in variables.items() if v.format},
        variable_measure={n: v.measure for n, v in variables.items()},
    )
    with path.open("r+b") as fh:
        fh.seek(STAMP_AT)
        if not re.fullmatch(rb"[ \d]\d \w{3} \d\d\d\d:\d\d:\d\d", fh.read(len(EXPORTED_AT))):
            raise ValueError(f"{path.name}: no creation stamp where the SAV header keeps it")
        fh.seek(STAMP_AT)
        fh.write(EXPORTED_AT)


def write_spss_export(adapter: SiteAdapter, rendered: list[RenderedMap], folder: Path) -> Written:
    from federate.synth.writers import Written  # writers registers this module: import late

    missing_label = MISSING_LABELS.get(practice(adapter.name).language, "missing")
    files: list[Path] = []
    provenance: dict[str, tuple[pa.Array, pa.Array]] = {}
    con = duckdb.connect()
    for r in rendered:
        if r.tm.keep is not None or r.tm.pivot is not None:
            raise NotImplementedError(f"{r.tm.file}: the SPSS writer writes one form per file")
        path = folder / r.tm.file
        write_sav(path, _variables(con, adapter, r, missing_label))
        files.append(path)
        n = r.truth.num_rows
        provenance[r.tm.table] = (
            pa.repeat(pa.scalar(r.tm.file, pa.string()), n),
            pa.array(np.arange(1, n + 1), pa.int64()),
        )
    return Written(files, provenance)
