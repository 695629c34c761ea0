"""SPSS (.sav, .zsav, .por) and Stata (.dta) files, one file per form, read in chunks.

Cells keep their types: numbers stay numbers; date, datetime and time formats become date32,
timestamp[us] and time64[us]. Dates are converted here from the stored numbers (pyreadstat's own
conversion is switched off) so every format is typed one way, including ones pyreadstat leaves as
numbers (SPSS QYR/MOYR/WKYR, Stata ``%td``/``%tc`` display variants). User-defined missing values
(SPSS missing values and ranges, Stata ``.a``-``.z``) are null; which codes were declared missing
is reported in ``source_facts`` (``user_missing.<variable>``). How SPSS or Stata shows a date
variable, or a number variable whose display format was chosen for it (``shown_number``), is
reported as ``shown_as.<variable>``: what the site sees, which a text read of the value shows
(MedDRA version 26 in ``F4.1`` is "26.0").

Value labels are often partial (only the missing codes labelled, say), so a labelled variable is
yielded as its codes unless the adapter names it in ``decode``, declaring it a closed code list.
A decoded variable is text: each value's label, or, for a value the label set lacks, the code
itself as text ("3") so the adapter's ``Code`` parser quarantines it as ``unknown-code``. The label
sets used are reported in ``source_facts`` (``code_list.<variable>``, ``base.CODE_LIST``) for the
manifest, and so the engine can name the label set in the quarantine rule.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyreadstat

from federate.errors import InputError, Location
from federate.readers.base import CODE_LIST, ROW_COLUMN, Reader, Reject, Source, file_version
from federate.readers.spss_whole import check_whole

if TYPE_CHECKING:
    import polars as pl

Kind = Literal["sav", "zsav", "por", "dta"]
_FORMAT_NAMES: dict[Kind, str] = {
    "sav": "SPSS system file (.sav)",
    "zsav": "SPSS compressed system file (.zsav)",
    "por": "SPSS portable file (.por)",
    "dta": "Stata file (.dta)",
}
_EXTENSIONS = (".sav", ".zsav", ".por", ".dta")
_SPSS_DAY0 = 141_428  # days from 1582-10-14 (SPSS's origin) to 1970-01-01
_STATA_DAY0 = 3_653  # days from 1960-01-01 (Stata's origin) to 1970-01-01
_SPSS_KINDS = {
    **dict.fromkeys(("DATE", "ADATE", "EDATE", "JDATE", "SDATE", "QYR", "MOYR", "WKYR"), "date"),
    **dict.fromkeys(("DATETIME", "YMDHMS"), "datetime"),
    "TIME": "time",  # DTIME (days and time) is a duration: it stays seconds
}
_LABELS_SHOWN = 20
_SPSS_DEFAULT = "F8.2"  # the display format SPSS gives a new numeric variable
_MAX_SECONDS = 8e12  # about 250,000 years: timestamp[us] ends near 292,000


@dataclass(frozen=True)
class LabelSet:
    """One variable's value labels. ``name`` is the file's own label-set name where the format has
    one (Stata), else the variable's name (SPSS label sets are anonymous)."""

    name: str
    labels: Mapping[float | str, str]

    def describe(self) -> str:
        items = [f"{_key_text(k)} = {v}" for k, v in list(self.labels.items())[:_LABELS_SHOWN]]
        more = len(self.labels) - _LABELS_SHOWN
        if not items:
            return f"{self.name}: no value labels in this file"
        return f"{self.name}: {', '.join(items)}" + (f", … ({more} more)" if more > 0 else "")


@dataclass(frozen=True)
class Variable:
    name: str
    type: pa.DataType  # as yielded
    kind: str  # text, number, date, datetime or time: how the stored value reads
    scale: float = 1.0  # seconds per stored unit (dates and times)
    origin_days: int = 0  # the format's day 0, in days before 1970-01-01
    decoded: LabelSet | None = None  # set when yielded through its value labels
    # How SPSS or Stata shows its values: dates a strftime pattern (``shown_as``), numbers a
    # printf one (``shown_number``).
    shown_as: str | None = None


@dataclass(frozen=True)
class SpssMetadata:
    """What a file's dictionary says, read once without its data."""

    kind: Kind
    encoding: str  # the file's declared one, the adapter's override, or "undeclared"
    rows: int | None  # None where the format does not record it (.por)
    variables: tuple[Variable, ...]
    variable_labels: Mapping[str, str]
    label_sets: Mapping[str, LabelSet]  # variable -> its value labels
    user_missing: Mapping[str, str]  # variable -> the declared missing codes, as text
    file_label: str | None


@dataclass(frozen=True)
class SpssReader(Reader):
    # Variables read through their value labels (closed code lists), matched ignoring case; "all"
    # decodes every labelled variable. A name the file lacks is ignored (one reader, many forms).
    decode: tuple[str, ...] | Literal["all"] = ()
    encoding: str | None = None  # overrides the file's declared encoding (an iconv name)
    chunk_rows: int = 50_000
    format: str = field(default="spss")
    _meta: dict[str, SpssMetadata] = field(default_factory=dict, compare=False, repr=False)

    def describe(self) -> str:
        decoded = "every labelled variable" if self.decode == "all" else ", ".join(self.decode)
        return (
            "SPSS (.sav, .zsav, .por) or Stata (.dta) files, one per form, each under the "
            "form's name below with any of these extensions"
            + (f"; value labels decoded for {decoded}" if decoded else "")
            + (f"; encoding {self.encoding}" if self.encoding else "")
        )

    def file_names(self, declared: str) -> tuple[str, ...]:
        """``patienter.sav`` may be ``patienter.zsav``, ``.por`` or ``.dta`` (the format is
        told from the file's first bytes, not its name)."""
        stem = PurePosixPath(declared).stem
        return tuple(dict.fromkeys([declared, *(stem + ext for ext in _EXTENSIONS)]))

    def metadata(self, source: Source) -> SpssMetadata:
        key = file_version(source.path, source.relpath)
        if key not in self._meta:
            self._meta[key] = self._read_metadata(source)
        return self._meta[key]

    def columns(self, source: Source) -> list[str]:
        return [v.name for v in self.metadata(source).variables]

    def source_facts(self, source: Source) -> dict[str, str]:
        meta = self.metadata(source)
        facts = {"format": _FORMAT_NAMES[meta.kind], "encoding": meta.encoding}
        if self.encoding:  # pyreadstat then reports it as the file's: say who chose it
            facts["encoding_set_by"] = "adapter"
        if meta.rows is not None:
            facts["cases"] = str(meta.rows)
        if meta.file_label:
            facts["file_label"] = meta.file_label
        facts |= {
            CODE_LIST + v.name: f"the file's value labels {v.decoded.describe()}"
            for v in meta.variables
            if v.decoded
        }
        facts |= {f"user_missing.{name}": codes for name, codes in meta.user_missing.items()}
        facts |= {f"shown_as.{v.name}": v.shown_as for v in meta.variables if v.shown_as}
        return facts

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        # Every case has every variable; only a case holding a date no calendar can show (a
        # damaged cell) goes to ``rejects``, so one bad cell does not stop the file.
        meta = self.metadata(source)
        schema = pa.schema(
            [*(pa.field(v.name, v.type) for v in meta.variables), (ROW_COLUMN, pa.int64())]
        )
        chunks = pyreadstat.read_file_in_chunks(
            self._read_fn(meta.kind),
            str(source.path),
            chunksize=self.chunk_rows,
            output_format="polars",
            disable_datetime_conversion=True,
        )
        import polars as pl  # pyreadstat's chunks; imported only for SPSS / Stata / SAS files

        row = 1
        with _readstat_errors(source, meta.kind):
            for frame, _ in chunks:
                assert isinstance(frame, pl.DataFrame)
                yield _batch(frame, meta.variables, schema, row, rejects)
                row += frame.height
        if meta.rows is not None and row - 1 != meta.rows:
            raise InputError(
                f"the file holds {row - 1} cases but its header declares {meta.rows}: "
                "it looks truncated",
                code="truncated-file",
                where=Location(file=source.relpath),
            )

    def _read_fn(self, kind: Kind) -> Callable[..., Any]:
        if kind == "por":  # portable files carry their own character table
            return pyreadstat.read_por
        read = pyreadstat.read_dta if kind == "dta" else pyreadstat.read_sav
        return functools.partial(read, encoding=self.encoding) if self.encoding else read

    def _read_metadata(self, source: Source) -> SpssMetadata:
        kind = _sniff(source)
        # user_missing=True only here, for the declared codes; data are read with them as null.
        missing = {} if kind == "por" else {"user_missing": True}
        with _readstat_errors(source, kind):
            _, m = self._read_fn(kind)(
                str(source.path), metadataonly=True, output_format="polars", **missing
            )
        if kind == "sav":  # a header without a case count: the data must end with a case
            check_whole(source.path, source.relpath)
        label_sets = {
            var: LabelSet(m.variable_to_label[var] if kind == "dta" else var, labels)
            for var, labels in m.variable_value_labels.items()
        }
        wanted = None if self.decode == "all" else {d.casefold() for d in self.decode}
        variables = []
        for name in m.column_names:
            vtype = m.readstat_variable_types[name]
            if vtype == "string":
                kind_, scale, origin = "text", 1.0, 0
            else:
                kind_, scale, origin = _date_kind(kind, m.original_variable_types[name])
            labels = label_sets.get(name)
            # Dates are never decoded: a label on a date is no code list.
            chosen = name in label_sets if wanted is None else name.casefold() in wanted
            if chosen and kind_ in ("text", "number"):
                decoded = labels or LabelSet(name, {})
                variables.append(Variable(name, pa.string(), kind_, decoded=decoded))
            else:
                fmt = m.original_variable_types[name] or ""
                dated = kind_ in ("date", "datetime")
                shown = shown_as(kind, fmt) if dated and fmt else None
                shown = shown_number(kind, fmt) if kind_ == "number" else shown
                arrow = _arrow_type(kind_, vtype)
                variables.append(Variable(name, arrow, kind_, scale, origin, shown_as=shown))
        declared = m.file_encoding or (
            "UTF-8" if kind == "dta" and _dta_release(source) >= 118 else None
        )
        return SpssMetadata(
            kind=kind,
            encoding=self.encoding or declared or "undeclared",
            rows=m.number_rows if m.number_rows is not None and m.number_rows >= 0 else None,
            variables=tuple(variables),
            variable_labels={k: v for k, v in m.column_names_to_labels.items() if v},
            label_sets=label_sets,
            user_missing={k: _ranges_text(v) for k, v in m.missing_ranges.items() if v},
            file_label=m.file_label or None,
        )


def _sniff(source: Source) -> Kind:
    """The format from the file's first bytes (an extension can lie); InputError if none fits."""
    where = Location(file=source.relpath)
    try:
        with source.path.open("rb") as fh:
            head = fh.read(1024)
            fh.seek(max(0, source.path.stat().st_size - 64))
            tail = fh.read()
    except OSError as exc:
        raise InputError(
            f"the file cannot be opened: {exc.strerror}", code="unreadable-file", where=where
        ) from None
    if not head:
        raise InputError("the file is empty", code="empty-file", where=where)
    if head.startswith((b"$FL2", b"$FL3")):
        return "zsav" if head.startswith(b"$FL3") else "sav"
    if head.startswith(b"<stata_dta>"):
        if not tail.endswith(b"</stata_dta>"):
            raise InputError(
                "the Stata file does not end with </stata_dta>: it looks truncated",
                code="truncated-file",
                where=where,
            )
        return "dta"
    if len(head) > 2 and 102 <= head[0] <= 115 and head[1] in (1, 2) and head[2] == 1:
        return "dta"  # Stata 8-13 binary header: release, byte order, file type
    if b"SPSSPORT" in head.replace(b"\r", b"").replace(b"\n", b""):
        if not tail.rstrip(b"\r\n ").endswith(b"Z"):  # data end with Z padding
            raise InputError(
                "the SPSS portable file does not end with its Z end marker: it looks truncated",
                code="truncated-file",
                where=where,
            )
        return "por"
    shown = head[:24].decode("latin-1").encode("unicode_escape").decode("ascii")
    raise InputError(
        f"the file is not an SPSS (.sav, .zsav, .por) or Stata (.dta) file: it starts with "
        f"'{shown}'",
        code="wrong-format",
        where=where,
    )


@contextmanager
def _readstat_errors(source: Source, kind: Kind) -> Iterator[None]:
    """pyreadstat's errors as one clear InputError naming the file."""
    try:
        yield
    except (pyreadstat.ReadstatError, pyreadstat.PyreadstatError) as exc:
        text = str(exc).strip()
        lowered = text.lower()
        if "encoding" in lowered or "character set" in lowered:
            code, hint = "wrong-encoding", ": set the reader's encoding to the file's real one"
        elif "expected number of rows" in lowered:
            code, hint = "truncated-file", ": the file looks truncated"
        else:
            code, hint = "unreadable-file", ": it may be truncated or damaged"
        raise InputError(
            f"the {_FORMAT_NAMES[kind]} cannot be read ({text}){hint}",
            code=code,
            where=Location(file=source.relpath),
        ) from None


def _date_kind(kind: Kind, fmt: str | None) -> tuple[str, float, int]:
    """How a numeric variable's stored value reads: (kind, seconds per unit, origin in days
    before 1970-01-01)."""
    if kind != "dta":  # SPSS: seconds since 1582-10-14
        name = (fmt or "").upper().rstrip("0123456789.")
        return _SPSS_KINDS.get(name, "number"), 1.0, _SPSS_DAY0
    fmt = (fmt or "").replace("%-", "%")
    if fmt.startswith("%td") or fmt == "%d":  # days since 1960-01-01
        return "date", 86_400.0, _STATA_DAY0
    if fmt.startswith(("%tc", "%tC")):  # milliseconds since 1960-01-01
        kind_ = "time" if fmt[3:] in ("HH:MM:SS", "HH:MM") else "datetime"
        return kind_, 0.001, _STATA_DAY0
    return "number", 1.0, 0


# How SPSS shows a date format's dates (the date part only), by the format's width: DATE11
# 12-JUN-2014, DATE9 12-JUN-14. See ``federate.adapters.parsers.strftime_sql`` for the tokens.
_SPSS_SHOWN = {
    "DATE": ("%d-%^b-%Y", "%d-%^b-%y", 11),
    "ADATE": ("%m/%d/%Y", "%m/%d/%y", 10),
    "EDATE": ("%d.%m.%Y", "%d.%m.%y", 10),
    "SDATE": ("%Y/%m/%d", "%y/%m/%d", 10),
    "JDATE": ("%Y%j", "%y%j", 7),
    "MOYR": ("%^b %Y", "%^b %y", 8),
    "QYR": ("%q Q %Y", "%q Q %y", 8),
    "WKYR": ("%K WK %Y", "%K WK %y", 10),
    "DATETIME": ("%d-%^b-%Y", "%d-%^b-%Y", 0),
    "YMDHMS": ("%Y-%m-%d", "%Y-%m-%d", 0),
}
# Stata's date display codes (``%tdDD/NN/CCYY``), longest first; time codes show no date.
_STATA_CODES = (
    ("CCYY", "%Y"), ("Month", "%B"), ("month", "%B"), ("Mon", "%b"), ("mon", "%_b"),
    ("YY", "%y"), ("NN", "%m"), ("nn", "%-m"), ("DD", "%d"), ("dd", "%-d"), ("_", " "),
)  # fmt: skip


def shown_as(kind: Kind, fmt: str) -> str | None:
    """How the file's software shows a date variable's dates (a strftime pattern), from its
    display format; None where it is not a date format we know."""
    if kind != "dta":
        match = re.fullmatch(r"([A-Z]+)(\d*)(\.\d+)?", fmt.upper())
        if not match or match[1] not in _SPSS_SHOWN:
            return None
        long, short, width = _SPSS_SHOWN[match[1]]
        return short if match[2] and int(match[2]) < width else long
    codes = fmt.replace("%-", "%")[3:] if fmt.startswith(("%td", "%tc", "%tC")) else ""
    if not codes:
        return "%d%_b%Y"  # Stata's default: 12jun2014
    shown, at = "", 0
    while at < len(codes):
        code = next(((c, p) for c, p in _STATA_CODES if codes.startswith(c, at)), None)
        if code:
            shown, at = shown + code[1], at + len(code[0])
        elif codes[at] == "!" and at + 1 < len(codes):
            shown, at = shown + codes[at + 1], at + 2
        elif codes[at].isalpha():  # a time of day (hh, MM, ss...) or the weekday: not shown
            at += 1
        else:
            shown, at = shown + codes[at], at + 1
    return shown.strip(" :") or "%d%_b%Y"


def shown_number(kind: Kind, fmt: str) -> str | None:
    """How the file's software shows a numeric variable's numbers (a printf pattern), from a
    display format chosen for it: SPSS ``F4.1`` and Stata ``%4.1f`` show one decimal ("26.0"),
    SPSS ``N5`` five digits with leading zeros ("00026"). None for SPSS's default ``F8.2``,
    which every new numeric variable gets and so says nothing of its values (MedDRA version
    19.1 is 19.1, PT code 10019211 is 10019211), for a general format (Stata's ``%9.0g``) and
    for one we do not know: the number is then shown in its shortest form."""
    if kind != "dta":
        match = re.fullmatch(r"(F|N)(\d+)(?:\.(\d+))?", fmt.upper())
        if not match or fmt.upper() == _SPSS_DEFAULT:
            return None
        if match[1] == "N":
            return f"%0{int(match[2])}d"
        return f"%.{int(match[3] or 0)}f"
    match = re.fullmatch(r"%-?0?\d*\.(\d+)f", fmt)
    return f"%.{int(match[1])}f" if match else None


def _arrow_type(kind: str, vtype: str) -> pa.DataType:
    types = {"date": pa.date32(), "datetime": pa.timestamp("us"), "time": pa.time64("us")}
    if kind in types:
        return types[kind]
    if kind == "text":
        return pa.string()
    return pa.int64() if vtype.startswith("int") else pa.float64()


def _batch(
    frame: pl.DataFrame,
    variables: tuple[Variable, ...],
    schema: pa.Schema,
    first_row: int,
    rejects: list[Reject],
) -> pa.RecordBatch:
    rows = np.arange(first_row, first_row + frame.height, dtype=np.int64)
    rejected = np.zeros(frame.height, dtype=bool)
    arrays = []
    for var in variables:
        array, bad = _typed(frame.get_column(var.name).to_arrow(), var)
        for at in np.flatnonzero(bad & ~rejected):
            value = frame.get_column(var.name)[int(at)]
            detail = f"{var.name} has a {var.kind} format but holds {value!r}: out of range"
            rejects.append(Reject(int(rows[at]), "invalid-date", detail))
        rejected |= bad
        arrays.append(array)
    batch = pa.RecordBatch.from_arrays([*arrays, pa.array(rows)], schema=schema)
    return batch.filter(pa.array(~rejected)) if rejected.any() else batch


def _typed(raw: pa.Array, var: Variable) -> tuple[pa.Array, np.ndarray]:
    """The yielded array, and where a date-formatted value is out of any calendar's range."""
    fine = np.zeros(len(raw), dtype=bool)
    if pa.types.is_null(raw.type):  # a chunk where the variable is all missing
        return pa.nulls(len(raw), var.type), fine
    if var.decoded is not None:
        return _decode(raw, var.decoded, var.kind != "text"), fine
    if var.kind in ("text", "number"):
        return raw.cast(var.type), fine
    seconds = pc.multiply(raw.cast(pa.float64()), var.scale)
    bad = pc.fill_null(pc.greater(pc.abs(seconds), _MAX_SECONDS), False)
    if pc.any(bad).as_py():
        seconds = pc.if_else(bad, pa.scalar(None, pa.float64()), seconds)
    return _from_epoch(seconds, var), bad.to_numpy(zero_copy_only=False)


def _from_epoch(seconds: pa.Array, var: Variable) -> pa.Array:
    """Seconds since the format's origin -> date32, timestamp[us] or time64[us]. Whole seconds
    and their fraction are kept apart: 1e10 s x 1e6 does not fit a double exactly."""
    if var.kind == "date":
        days = pc.floor(pc.divide(seconds, 86_400.0)).cast(pa.int64())
        return pc.subtract(days, var.origin_days).cast(pa.int32()).cast(pa.date32())
    whole = pc.floor(seconds)
    fraction = pc.round(pc.multiply(pc.subtract(seconds, whole), 1e6)).cast(pa.int64())
    if var.kind == "time":  # the time of day, as pyreadstat reads it
        whole = pc.subtract(whole, pc.multiply(pc.floor(pc.divide(whole, 86_400.0)), 86_400.0))
        micros = pc.add(pc.multiply(whole.cast(pa.int64()), 1_000_000), fraction)
        return pc.min_element_wise(micros, 86_399_999_999, skip_nulls=False).cast(pa.time64("us"))
    since_1970 = pc.subtract(whole.cast(pa.int64()), var.origin_days * 86_400)
    micros = pc.add(pc.multiply(since_1970, 1_000_000), fraction)
    return micros.cast(pa.timestamp("us"))


def _decode(raw: pa.Array, labels: LabelSet, numeric: bool) -> pa.Array:
    """Each value's label; the value itself as text where the label set has none."""
    keys = [k for k in labels.labels if isinstance(k, (int, float)) == numeric]
    key_array = pa.array(keys, pa.float64() if numeric else pa.string())
    values = raw.cast(pa.float64() if numeric else pa.string())
    index = pc.index_in(values, value_set=key_array)
    texts = pa.array([labels.labels[k] for k in keys], pa.string())
    return pc.if_else(pc.is_valid(index), pc.take(texts, index), values.cast(pa.string()))


def _key_text(key: float | str) -> str:
    if isinstance(key, float) and key.is_integer():
        return str(int(key))
    return str(key)


def _ranges_text(ranges: list[dict[str, Any]]) -> str:
    parts = []
    for r in ranges:
        lo, hi = _key_text(r["lo"]), _key_text(r["hi"])
        parts.append(lo if lo == hi else f"{lo} thru {hi}")
    return "; ".join(parts)


def _dta_release(source: Source) -> int:
    with source.path.open("rb") as fh:
        head = fh.read(128)
    start = head.find(b"<release>") + len(b"<release>")
    digits = head[start : head.find(b"</release>")]
    return int(digits) if digits.isdigit() else 0
