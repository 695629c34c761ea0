"""SAS datasets (transport XPT v5/v8 and sas7bdat) read with pyreadstat in chunks of rows.

Types come from the file's metadata, never from a chunk's values (pyreadstat types an all-missing
chunk column as null), so every batch has one schema: character -> string (SAS blank -> null),
numeric -> float64, numeric with a SAS date / datetime / time format -> date32 / timestamp[us] /
time64[us]. The conversion is ours and vectorised; the format lists are pyreadstat's own.
"""

from __future__ import annotations

import codecs
import io
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat

from federate.errors import InputError, Location
from federate.readers.base import ROW_COLUMN
from federate.readers.sdtm_xpt import LIBRARY, Layout, check_whole, chunk_files, layout, scan

_FORMAT = re.compile(r"^([A-Z][A-Z0-9]+[A-Z])(\d+)?(?(2)(?:\.\d+)?$|$)")
# pyreadstat's own lists, so a column is a date exactly when pyreadstat would make it one.
_DATE_FORMATS = (
    "WEEKDATE MMDDYY DDMMYY YYMMDD DATE DDMMYYB DDMMYYC DDMMYYD DDMMYYN DDMMYYP DDMMYYS MMDDYYB "
    "MMDDYYC MMDDYYD MMDDYYN MMDDYYP MMDDYYS WEEKDATX DTDATE IS8601DA E8601DA B8601DA YYMMDDB "
    "YYMMDDD YYMMDDN YYMMDDP YYMMDDS"
)
_DATETIME_FORMATS = "DATETIME E8601DT DATEAMPM MDYAMPM IS8601DT B8601DT B8601DN"
_TIME_FORMATS = "TIME HHMM TOD TIMEAMPM IS8601TM E8601TM B8601TM"
_DATE, _DATETIME, _TIME = (
    frozenset(names.split()) for names in (_DATE_FORMATS, _DATETIME_FORMATS, _TIME_FORMATS)
)
_EPOCH_DAYS = 3653  # SAS counts from 1960-01-01, Arrow from 1970-01-01
_EPOCH_SECONDS = _EPOCH_DAYS * 86400
SAS7BDAT_MAGIC = bytes.fromhex("000000000000000000000000c2ea8160b31411cfbd92080009c7318c181f1011")
_ICONV = {"utf-8": "UTF-8", "cp1252": "CP1252", "iso8859-1": "ISO-8859-1"}
_READ_ERRORS = (
    pyreadstat.ReadstatError,
    pyreadstat.PyreadstatError,
    UnicodeError,
    ValueError,
    OverflowError,
    OSError,
)


@dataclass(frozen=True)
class SasFile:
    kind: str  # "xpt" or "sas7bdat"
    encoding: str | None  # what readstat is told; None: the file's own (sas7bdat records it)
    encoding_name: str  # for the manifest
    dataset: str
    schema: pa.Schema  # the file's columns, typed, without ROW_COLUMN
    nobs: int | None  # the record count the file states, when it states one
    layout: Layout | None = None  # XPT only: lets records be read chunk by chunk in linear time
    shown: Mapping[str, str] = field(default_factory=dict)  # date variable -> how SAS shows it


def open_sas(path: Path, relpath: str, encodings: tuple[str, ...]) -> SasFile:
    """Check the file is a SAS dataset, settle its encoding and type its columns."""
    kind = "sas7bdat" if path.suffix.lower() == ".sas7bdat" else "xpt"
    where = Location(file=relpath)
    with path.open("rb") as fh:
        head = fh.read(80)
    if not head:
        raise InputError("the file is empty", code="empty-file", where=where)
    if kind == "sas7bdat":
        if not head.startswith(SAS7BDAT_MAGIC):
            raise InputError(
                "not a SAS dataset: the file does not start with the sas7bdat signature",
                code="not-sas7bdat",
                where=where,
            )
        meta = _metadata(path, relpath, kind, None)
        name = meta.file_encoding or "as recorded"
        dataset = meta.table_name or ""
        return SasFile(
            kind, None, name, dataset, _schema(meta), meta.number_rows, shown=_shown(meta)
        )
    if not head.startswith(LIBRARY):
        raise InputError(
            "not a SAS transport (XPT) file: it does not start with a LIBRARY header record",
            code="not-xpt",
            where=where,
        )
    metas = _metadata_by_encoding(path, relpath, encodings)  # a header readstat cannot read
    check_whole(path, relpath)
    candidates = tuple(metas)  # labels may already rule an encoding out
    meta = metas[candidates[0]]
    lay = layout(path, len(meta.column_names))
    if lay is not None and lay.row_length != sum(meta.variable_storage_width.values()):
        lay = None  # our reading of the header disagrees with readstat's: trust readstat
    if lay is None:  # a header shape we do not parse: let readstat try each encoding
        encoding, nobs = _probe(path, relpath, candidates, meta), None
    else:
        found = scan(path, lay, candidates, relpath)
        encoding, nobs = found.encoding, found.nobs
    meta = metas[encoding]
    name = meta.table_name or ""
    return SasFile(
        kind, _iconv(encoding), encoding, name, _schema(meta), nobs, lay, shown=_shown(meta)
    )


def sas_batches(f: SasFile, path: Path, relpath: str, chunk_rows: int) -> Iterator[pa.RecordBatch]:
    """The records in chunks, ``ROW_COLUMN`` = the 1-based record number."""
    schema = f.schema.append(pa.field(ROW_COLUMN, pa.int64()))
    offset = 0
    for df in _frames(f, path, relpath, chunk_rows):
        n = int(df.height)
        if n:
            arrays = [
                _typed(df.get_column(fld.name).to_arrow(), fld, n, relpath) for fld in f.schema
            ]
            rows = pa.array(np.arange(offset + 1, offset + n + 1, dtype=np.int64))
            yield pa.RecordBatch.from_arrays([*arrays, rows], schema=schema)
        offset += n
    if f.nobs is not None and offset != f.nobs:
        raise InputError(
            f"the file states {f.nobs} records but {offset} could be read: it looks truncated",
            code="truncated-file",
            where=Location(file=relpath),
        )


def _frames(f: SasFile, path: Path, relpath: str, chunk_rows: int) -> Iterator[Any]:
    """pyreadstat data frames of up to ``chunk_rows`` records, in file order."""
    offset = 0
    if f.layout is not None:
        for data, n in chunk_files(path, f.layout, chunk_rows):
            df = _read(io.BytesIO(data), relpath, f.kind, f.encoding)
            if df.height != n and n == chunk_rows:  # only the last chunk may end in padding
                df = _read(path, relpath, f.kind, f.encoding, row_offset=offset, row_limit=n)
            offset += df.height
            yield df
        return
    while True:
        df = _read(path, relpath, f.kind, f.encoding, row_offset=offset, row_limit=chunk_rows)
        offset += df.height
        yield df
        if df.height < chunk_rows:
            return


def blank_to_null(arr: pa.Array) -> pa.Array:
    """SAS has no empty string: a blank character value is missing."""
    blank = pc.equal(pc.utf8_trim_whitespace(arr), "")
    return pc.if_else(blank, pa.scalar(None, arr.type), arr)


def _typed(arr: pa.Array, fld: pa.Field, n: int, relpath: str) -> pa.Array:
    if pa.types.is_null(arr.type):
        return pa.nulls(n, fld.type)
    if pa.types.is_string(fld.type):
        return blank_to_null(arr.cast(pa.string()))
    num = arr.cast(pa.float64())
    num = pc.if_else(pc.is_nan(num), pa.scalar(None, pa.float64()), num)
    try:
        if pa.types.is_date(fld.type):
            days = pc.subtract(pc.floor(num), _EPOCH_DAYS)
            return days.cast(pa.int32()).cast(pa.date32())
        if pa.types.is_timestamp(fld.type):
            micros = pc.round(pc.multiply(pc.subtract(num, _EPOCH_SECONDS), 1e6))
            return micros.cast(pa.int64()).cast(fld.type)
        if pa.types.is_time(fld.type):
            return pc.round(pc.multiply(num, 1e6)).cast(pa.int64()).cast(fld.type)
    except pa.ArrowInvalid:
        raise InputError(
            "a value with a SAS date or time format is out of range",
            code="bad-sas-date",
            where=Location(file=relpath, column=fld.name),
        ) from None
    return num


# How SAS shows a date format's dates (the date part), by the format's width: DATE9. 12JUN2014,
# DATE7. 12JUN14 (see ``federate.adapters.parsers.strftime_sql`` for %^b).
_SEPARATORS = {"": "/", "S": "/", "D": "-", "P": ".", "B": " ", "C": ":", "N": ""}
_SAS_SHOWN: dict[str, tuple[str, int]] = {
    "DATE": ("%d%^b%Y", 9),
    "DTDATE": ("%d%^b%Y", 9),
    "DATETIME": ("%d%^b%Y", 0),
    "DATEAMPM": ("%d%^b%Y", 0),
    "MDYAMPM": ("%-m/%-d/%Y", 0),
    **{name: ("%Y-%m-%d", 0) for name in ("E8601DA", "IS8601DA", "E8601DT", "IS8601DT")},
    **{name: ("%Y%m%d", 0) for name in ("B8601DA", "B8601DT", "B8601DN")},
    **{f"DDMMYY{k}": (f"%d{v}%m{v}%Y", 8 if k == "N" else 10) for k, v in _SEPARATORS.items()},
    **{f"MMDDYY{k}": (f"%m{v}%d{v}%Y", 8 if k == "N" else 10) for k, v in _SEPARATORS.items()},
    **{f"YYMMDD{k}": (f"%Y{v}%m{v}%d", 8 if k == "N" else 10) for k, v in _SEPARATORS.items()},
    "YYMMDD": ("%Y-%m-%d", 10),  # SAS's YYMMDD default separator is the dash
}


def _shown(meta: Any) -> dict[str, str]:
    """How SAS shows each date variable's dates (a strftime pattern), from its format: a
    narrower width shows a two-digit year."""
    shown = {}
    for name in meta.column_names:
        match = _FORMAT.match(meta.original_variable_types.get(name) or "")
        if (
            not match
            or match.group(1) not in _SAS_SHOWN
            or _arrow_type(meta, name)
            not in (
                pa.date32(),
                pa.timestamp("us"),
            )
        ):
            continue
        pattern, full = _SAS_SHOWN[match.group(1)]
        width = int(match.group(2) or full)
        shown[name] = pattern.replace("%Y", "%y") if width < full else pattern
    return shown


def _schema(meta: Any) -> pa.Schema:
    return pa.schema([pa.field(name, _arrow_type(meta, name)) for name in meta.column_names])


def _arrow_type(meta: Any, name: str) -> pa.DataType:
    if meta.readstat_variable_types.get(name) == "string":
        return pa.string()
    match = _FORMAT.match(meta.original_variable_types.get(name) or "")
    fmt = match.group(1) if match else ""
    if fmt in _DATE:
        return pa.date32()
    if fmt in _DATETIME:
        return pa.timestamp("us")
    if fmt in _TIME:
        return pa.time64("us")
    return pa.float64()


def _metadata_by_encoding(path: Path, relpath: str, encodings: tuple[str, ...]) -> dict[str, Any]:
    """Metadata (names, labels) in each declared encoding that decodes it; at least one."""
    metas: dict[str, Any] = {}
    error: InputError | None = None
    for enc in encodings:
        try:
            metas[enc] = _metadata(path, relpath, "xpt", _iconv(enc))
        except InputError as exc:
            if exc.code != "wrong-encoding":
                raise
            error = exc
    if error is not None and not metas:
        raise error
    return metas


def _probe(path: Path, relpath: str, encodings: tuple[str, ...], meta: Any) -> str:
    """The first declared encoding in which readstat reads every character value."""
    chars = [c for c in meta.column_names if meta.readstat_variable_types.get(c) == "string"]
    for enc in encodings:
        try:
            offset, step = 0, 1 << 16
            while chars and (
                n := _read(path, relpath, "xpt", _iconv(enc), chars, offset, step).height
            ):
                offset += n
            return enc
        except InputError as exc:
            if exc.code != "wrong-encoding":
                raise
    raise InputError(
        f"the file's text is not in a declared encoding ({', '.join(encodings)})",
        code="wrong-encoding",
        where=Location(file=relpath),
    )


def _metadata(path: Path, relpath: str, kind: str, encoding: str | None) -> Any:
    reader = pyreadstat.read_sas7bdat if kind == "sas7bdat" else pyreadstat.read_xport
    try:
        _, meta = reader(path, metadataonly=True, encoding=encoding, output_format="dict")
    except _READ_ERRORS as exc:
        raise _unreadable(exc, relpath, kind, encoding) from None
    return meta


def _read(
    path: Path | io.BytesIO,
    relpath: str,
    kind: str,
    encoding: str | None,
    usecols: list[str] | None = None,
    row_offset: int = 0,
    row_limit: int = 0,
) -> Any:
    reader = pyreadstat.read_sas7bdat if kind == "sas7bdat" else pyreadstat.read_xport
    try:
        df, _ = reader(
            path,
            encoding=encoding,
            usecols=usecols,
            row_offset=row_offset,
            row_limit=row_limit,
            disable_datetime_conversion=True,  # typed by us, from the format, chunk-independent
            output_format="polars",
        )
    except _READ_ERRORS as exc:
        raise _unreadable(exc, relpath, kind, encoding) from None
    return df


def _unreadable(exc: Exception, relpath: str, kind: str, encoding: str | None) -> InputError:
    what = "SAS transport (XPT)" if kind == "xpt" else "SAS dataset (sas7bdat)"
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    where = Location(file=relpath)
    if isinstance(exc, UnicodeError) or "encoding" in msg:
        return InputError(
            f"the file's text is not in {encoding or 'its recorded encoding'} ({msg})",
            code="wrong-encoding",
            where=where,
        )
    if "Unable to read from file" in msg:
        msg = "it ends early: truncated, or not a " + what + " file"
    return InputError(
        f"the file cannot be read as {what}: {msg}", code="unreadable-file", where=where
    )


def _iconv(encoding: str) -> str:
    """readstat converts with iconv, which spells encodings its own way."""
    name = codecs.lookup(encoding).name
    return _ICONV.get(name, name.upper())
