"""Write a site's export as CDISC SDTM datasets, one SAS transport file (XPT v5) per domain and
one per SUPP-- dataset, as a French data management delivers them; read back by ``SdtmReader``.

* The first table map of each shared table is written; later maps of the same table are the
  alternatives an export may carry instead (EDSS in RS rather than QS, LB split by category)
  and get no file. The maps of one file (DM: subjects and randomisation) make one dataset.
* A rendered column among the domain's standard variables (``layout_sdtm``) is a variable; any
  other is a SUPP-- qualifier, tied to its record by --SEQ (to the patient in DM, to the
  assessment's --GRPID in a pivoted domain).
* A pivoted map is unpivoted back to findings: one record per test with a result (--TESTCD,
  --TEST, --CAT, --ORRES, --STRESC, --STRESN, units); an assessment without any result is one
  record with --STAT ``NOT DONE``. Records are sorted by patient, test code, then assessment, as
  SDTM findings are; an assessment's first record is where its truth row points.
* Coded values (an arm, a visit, a test code a Keep selects) are written as their code list
  spells them: SDTM codes are controlled terminology, never recased by hand.
* Variables SDTM declares numeric (--SEQ, --STRESN, EXDOSE, VISITNUM, VISITDY, MedDRA codes) are
  SAS numbers, unless a value is no number (an injected error): then the variable is text.
* Text is cp1252, as SAS wlatin1 sessions write it (XPT records no encoding), or UTF-8 when a
  value has a character cp1252 lacks. The header's timestamps are the fixed database lock, so
  the same truth gives the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa
import pyreadstat

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import Code
from federate.readers.sdtm_supp import sdtm_numeric
from federate.readers.sdtm_xpt import layout
from federate.synth.layout_sdtm import DOMAINS, Domain

if TYPE_CHECKING:
    from federate.synth.writers import RenderedMap, Written

Value = str | None
Columns = dict[str, list[Value]]
SUBJECT = "USUBJID"
EXPORTED_AT = b"20DEC19:14:30:00"  # the database lock, in place of the writing time
_STAMP = re.compile(rb"\d\d[A-Z]{3}\d\d:\d\d:\d\d:\d\d")
UNPLANNED = "UNS"


def _text(values: pa.Array) -> list[Value]:
    return [None if v is None or v == "" else str(v) for v in values.cast(pa.string()).to_pylist()]


def _declared(values: list[Value], spellings: Iterable[str]) -> list[Value]:
    """Coded values in the spelling of their code list (a habit may have recased them)."""
    spelling = {str(v).strip().lower(): str(v) for v in spellings}
    return [None if v is None else spelling.get(v.strip().lower(), v) for v in values]


def _codes(tm: TableMap) -> dict[str, tuple[str, ...]]:
    """Column -> the code list it is written in: a Keep's values, a Code parser's keys."""
    lists = {
        p.source: tuple(map(str, p.mapping)) for p in tm.fields.values() if isinstance(p, Code)
    }
    if tm.keep is not None:
        lists[tm.keep.column] = tm.keep.values
    return {column: codes for column, codes in lists.items() if column}


def _per_subject(subjects: list[Value]) -> list[int]:
    """1, 2, 3... within each patient, in record order (--SEQ)."""
    seen: dict[Value, int] = {}
    out = []
    for s in subjects:
        seen[s] = seen.get(s, 0) + 1
        out.append(seen[s])
    return out


def _wide(maps: list[RenderedMap]) -> tuple[Columns, list[int]]:
    """The maps of one file as one dataset sorted by patient, and each truth row's record."""
    cols: Columns = {}
    for r in maps:
        for name, values in r.columns.items():
            text = _text(values)
            if name in cols and cols[name] != text:
                raise ValueError(f"{r.tm.file}: the maps of the file disagree on {name}")
            cols[name] = text
    for r in maps:  # once every map's columns are in: another map may write the Keep column
        if r.tm.keep is not None and r.tm.keep.column not in cols:
            cols[r.tm.keep.column] = [r.tm.keep.values[0]] * r.truth.num_rows
        for column, codes in _codes(r.tm).items():
            cols[column] = _declared(cols[column], codes)
    subjects = cols[SUBJECT]
    order = sorted(range(len(subjects)), key=lambda i: subjects[i] or "")
    records = {name: [values[i] for i in order] for name, values in cols.items()}
    position = np.empty(len(order), np.int64)
    position[order] = np.arange(1, len(order) + 1)
    return records, position.tolist()


def _long(r: RenderedMap, domain: str, spec: Domain) -> tuple[Columns, list[int]]:
    """A pivoted map back to findings, one record per test; each truth row's first record."""
    p = r.tm.pivot
    assert p is not None
    cols = {name: _text(values) for name, values in r.columns.items()}
    for column, codes in _codes(r.tm).items():
        if column in cols:
            cols[column] = _declared(cols[column], codes)
    n = r.truth.num_rows
    subjects = cols[SUBJECT]
    group = _per_subject(subjects)
    entries: list[tuple[str, int, int, str, Value]] = []
    for i in range(n):
        found = [(k, t, cols[t][i]) for k, t in enumerate(p.tests) if t in cols and cols[t][i]]
        for k, test, value in found or [(0, p.tests[0], None)]:
            entries.append((subjects[i] or "", k, i, test, value))
    entries.sort(key=lambda e: e[:3])
    shared = [c for c in (*p.by, *p.carry) if c in cols]
    records: Columns = {c: [] for c in (*shared, f"{domain}GRPID", p.name, p.value)}
    tests: Columns = {f"{domain}{v}": [] for v in ("TEST", "CAT", "ORRES", "ORRESU", "STAT")}
    first = [0] * n
    for j, (_, _, i, test, value) in enumerate(entries):
        for c in shared:
            records[c].append(cols[c][i])
        records[f"{domain}GRPID"].append(str(group[i]))
        records[p.name].append(test)
        records[p.value].append(value)
        about = spec.tests.get(test)
        tests[f"{domain}TEST"].append(about.name if about else None)
        tests[f"{domain}CAT"].append(about.category or None if about else None)
        tests[f"{domain}ORRES"].append(value)
        tests[f"{domain}ORRESU"].append(about.unit or None if about and value else None)
        tests[f"{domain}STAT"].append(None if value else "NOT DONE")
        first[i] = first[i] or j + 1
    records |= tests
    records[f"{domain}STRESC"] = records[f"{domain}ORRES"]
    records[f"{domain}STRESU"] = records[f"{domain}ORRESU"]
    if r.tm.keep is not None and r.tm.keep.column not in records:
        records[r.tm.keep.column] = [r.tm.keep.values[0]] * len(entries)
    return records, first


def _findings(records: Columns, domain: str, spec: Domain) -> None:
    """Test names and categories, and the standard result as text, for a findings dataset
    written one record per row (LB)."""
    codes = records.get(f"{domain}TESTCD")
    if not spec.tests or codes is None or f"{domain}TEST" in records:
        return
    about = [spec.tests.get(c or "") for c in codes]
    records[f"{domain}TEST"] = [a.name if a else None for a in about]
    records[f"{domain}CAT"] = [a.category or None if a else None for a in about]
    if (numbers := records.get(f"{domain}STRESN")) is not None:
        records[f"{domain}STRESC"] = [None if v is None else _shortest(v) for v in numbers]


def _shortest(value: str) -> str:
    try:
        return f"{float(value):.10g}"
    except ValueError:
        return value


def _visit_numbers(visits: list[Value], subjects: list[Value], planned: list[str]) -> list[Value]:
    """VISITNUM: the planned visit's rank; an unplanned visit the previous one's plus .1 each,
    as SDTMIG numbers them."""
    rank = {label.upper(): i + 1 for i, label in enumerate(planned)}
    out: list[Value] = []
    last: dict[Value, tuple[int, int]] = {}
    for visit, subject in zip(visits, subjects, strict=True):
        number = rank.get((visit or "").strip().upper())
        if number is not None:
            last[subject] = (number, 0)
            out.append(str(number))
        else:
            base, extra = last.get(subject, (0, 0))
            last[subject] = (base, extra + 1)
            out.append(f"{base}.{extra + 1}")
    return out


def _planned(maps: list[RenderedMap]) -> list[str]:
    """The planned visits' labels, in the adapter's order (its VISIT code list)."""
    for r in maps:
        for parser in r.tm.fields.values():
            if isinstance(parser, Code) and parser.source == "VISIT":
                return [str(k) for k, v in parser.mapping.items() if v != UNPLANNED]
    return []


def _dataset(
    records: Columns, domain: str, spec: Domain, study: str, pivoted: bool
) -> tuple[Columns, Columns]:
    """The dataset's variables in SDTMIG order and its SUPP-- dataset."""
    n = len(records[SUBJECT])
    seq = f"{domain}SEQ"
    if seq in spec.variables and seq not in records:
        records[seq] = [str(s) for s in _per_subject(records[SUBJECT])]
    fixed = {"STUDYID": study, "DOMAIN": domain, **spec.constants}
    out: Columns = {}
    for name in spec.variables:
        if name in records:
            out[name] = records[name]
        elif name in fixed:
            out[name] = [fixed[name]] * n
    idvar = "" if domain == "DM" else f"{domain}GRPID" if pivoted else seq
    supp: Columns = {c: [] for c in ("STUDYID", "RDOMAIN", "USUBJID", "IDVAR", "IDVARVAL")}
    supp |= {c: [] for c in ("QNAM", "QLABEL", "QVAL", "QORIG")}
    qualifiers = [c for c in records if c not in spec.variables]
    written: set[tuple[Value, Value, str]] = set()
    for j in range(n if qualifiers else 0):
        subject = records[SUBJECT][j]
        at = records[idvar][j] if idvar else ""
        for q in qualifiers:
            value = records[q][j]
            if value is None or (subject, at, q) in written:
                continue
            written.add((subject, at, q))
            row = (study, domain, subject, idvar, at, q, spec.qualifiers.get(q, q), value, "CRF")
            for column, v in zip(supp, row, strict=True):
                supp[column].append(v)
    return out, supp


def _numbers(values: Sequence[Value]) -> list[float | None] | None:
    """The values as numbers, or None if one is no number."""
    out: list[float | None] = []
    for v in values:
        try:
            out.append(None if v is None else float(v))
        except ValueError:
            return None
    return out


def write_xpt(path: Path, domain: str, label: str, columns: Mapping[str, Sequence[Value]]) -> None:
    """One dataset as SAS transport v5, text in cp1252 where it can be, fixed timestamps."""
    series = []
    for name, values in columns.items():
        numbers = _numbers(values) if sdtm_numeric(name) else None
        if numbers is not None:
            series.append(pl.Series(name, numbers, dtype=pl.Float64))
        else:  # SAS has no missing text: blank
            series.append(pl.Series(name, [v or "" for v in values], dtype=pl.String))
    frame = pl.DataFrame(series)
    path.parent.mkdir(parents=True, exist_ok=True)
    pyreadstat.write_xport(
        frame, str(path), file_label=label, table_name=domain, file_format_version=5
    )
    _finish(path, frame.width, frame.height)


def _finish(path: Path, ncols: int, nrows: int) -> None:
    lay = layout(path, ncols)
    if lay is None:
        raise ValueError(f"{path.name}: no transport header where pyreadstat writes it")
    raw = path.read_bytes()
    head = _STAMP.sub(EXPORTED_AT, raw[: lay.obs_start])
    body = bytearray(raw[lay.obs_start :])
    width, fields = lay.row_length, lay.char_fields
    grid = np.frombuffer(bytes(body[: nrows * width]), np.uint8).reshape(nrows, width)
    for row in np.flatnonzero((grid >= 0x80).any(axis=1)).tolist():
        for off, w in fields:
            at = row * width + off
            text = bytes(body[at : at + w])
            if max(text, default=0) < 0x80:
                continue
            try:
                body[at : at + w] = text.decode("utf-8").encode("cp1252").ljust(w, b" ")
            except UnicodeEncodeError:  # a character cp1252 lacks: the file stays UTF-8
                body = bytearray(raw[lay.obs_start :])
                path.write_bytes(head + bytes(body))
                return
    path.write_bytes(head + bytes(body))


def write_sdtm_export(adapter: SiteAdapter, rendered: list[RenderedMap], folder: Path) -> Written:
    from federate.synth.writers import Written  # writers registers this module: import late

    study = f"MESEMS-{adapter.country.upper()}"
    by_file: dict[str, list[RenderedMap]] = {}
    tables: set[str] = set()
    for r in rendered:
        if r.tm.table not in tables:  # a later map of a table is an alternative source
            tables.add(r.tm.table)
            by_file.setdefault(r.tm.file, []).append(r)
    files: list[Path] = []
    provenance: dict[str, tuple[pa.Array, pa.Array]] = {}
    for file, maps in by_file.items():
        domain = Path(file).stem.upper()
        spec = DOMAINS[domain]
        pivoted = maps[0].tm.pivot is not None
        if pivoted:
            if len(maps) > 1:
                raise NotImplementedError(f"{file}: a pivoted dataset holds one table")
            records, rows = _long(maps[0], domain, spec)
        else:
            records, rows = _wide(maps)
            _findings(records, domain, spec)
        if domain == "SV":
            records["VISITNUM"] = _visit_numbers(records["VISIT"], records[SUBJECT], _planned(maps))
        variables, supp = _dataset(records, domain, spec, study, pivoted)
        write_xpt(folder / file, domain, spec.label, variables)
        files.append(folder / file)
        if supp["QNAM"]:
            supp_file = folder / f"supp{file}"
            write_xpt(supp_file, f"SUPP{domain}", f"Supplemental Qualifiers for {domain}", supp)
            files.append(supp_file)
        for r in maps:
            n = r.truth.num_rows
            provenance[r.tm.table] = (pa.array([file] * n, pa.string()), pa.array(rows, pa.int64()))
    return Written(files, provenance)
