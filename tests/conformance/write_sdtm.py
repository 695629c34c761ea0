"""CDISC SDTM datasets, written with pyreadstat (SAS transport v5 or v8) or the csv module, as a
data manager delivers them: one dataset per domain; the tables one domain holds merged into one
record per patient (DM); findings one record per test (``--TESTCD``, ``--STRESN``), grouped by
the declaration's pivot; variables the SDTM IG does not define sent to a SUPP-- dataset with
the right IDVAR; numbers numeric where the IG types them. Which variable is what comes from the
declaration (its ``Pivot``, ``Keep`` and parsers) and from the SDTM IG's naming, written here."""

from __future__ import annotations

import csv
import io
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl
import pyreadstat

from federate.adapters.parsers import Code, Decimal, Integer, Text
from tests.conformance.cells import SUBJECT, Cell
from tests.conformance.tabular import EXTRA, Sheet
from tests.conformance.truth import LOCAL
from tests.conformance.write_csv import Written

# The SDTM IG's numeric variables: by suffix after the two-letter domain prefix, or by name.
NUMERIC_SUFFIXES = {"SEQ", "STRESN", "DOSE", "PTCD", "SOCCD", "DY", "STDY", "ENDY", "GRPNUM"}
NUMERIC_NAMES = {"VISITNUM", "VISITDY", "AGE"}
# Variables every domain may carry besides its own prefixed ones.
COMMON = {"STUDYID", "DOMAIN", "USUBJID", "VISIT", "VISITNUM", "VISITDY", "EPOCH"}
COMMON |= {"SITEID", "ARMCD", "ARM", "SEX", "RFSTDTC", "BRTHDTC", "AGE"}


@dataclass(frozen=True)
class SdtmStyle:
    version: int = 5  # SAS transport v5 or v8
    csv_files: bool = False  # datasets as .csv (the spec lists it beside .xpt and .sas7bdat)
    other_records: bool = False  # other tests, events and domains, skipped with their reason
    screen_failure: bool = False  # a screen failure in DM (ARMCD SCRNFAIL): skipped
    screen_failure_records: bool = False  # ... with records in the other domains too
    qualifiers_in_parent: bool = False  # SUPP-- qualifiers as the parent's own variables
    selector_case: bool = False  # (set from the knobs) test codes in another case
    define_xml: bool = False  # the submission's Define-XML and its stylesheet beside the data


def numeric(name: str) -> bool:
    upper = name.upper()
    return upper in NUMERIC_NAMES or upper[2:] in NUMERIC_SUFFIXES


@dataclass
class Dataset:
    name: str  # file stem, e.g. "mo"
    first: str  # the first table written to it: a second one (DM) joins its records
    records: list[dict[str, Any]] = field(default_factory=list)  # variable -> value
    supp: list[dict[str, Any]] = field(default_factory=list)
    at: dict[tuple[str, int], int] = field(default_factory=dict)  # (table, row) -> record
    extras: set[str] = field(default_factory=set)  # variables the spec does not know
    declared: list[str] = field(default_factory=list)  # the columns, should no record come
    read: set[str] = field(default_factory=set)  # columns a parser of one of its tables reads


def standard(domain: str, variable: str) -> bool:
    v = variable.upper()
    return v in COMMON or v.startswith(domain.upper()[:2])


def _typed(name: str, cell: Cell) -> Any:
    """A cell as the dataset holds it: a number where the IG types the variable."""
    if cell.text.strip() == "":
        return None
    if not numeric(name) or cell.as_text:
        return cell.text
    p = cell.parser
    if isinstance(p, Integer | Decimal) and cell.value is not None:
        return float(cell.value)
    if isinstance(p, Code | Text):
        return float(cell.text.strip())
    return cell.text


def build(sheets: list[Sheet], style: SdtmStyle, rng: random.Random) -> dict[str, Dataset]:
    datasets: dict[str, Dataset] = {}
    for sheet in sheets:  # first what each dataset's tables read, then their records
        tm = sheet.tm
        ds = datasets.setdefault(tm.file.rsplit(".", 1)[0], Dataset(tm.file[:-4], tm.table))
        ds.declared += [c for c in tm.input_columns() if c not in ds.declared]
        ds.read |= {p.source for p in tm.fields.values() if p.source}
    for sheet in sheets:
        tm = sheet.tm
        stem = tm.file.rsplit(".", 1)[0]
        ds = datasets[stem]
        for i, record in enumerate(sheet.records):
            cells = dict(record.cells)
            for name, cell in record.cells.items():
                if cell.field == EXTRA and name not in tm.dropped:
                    cells.pop(name)
                    cells[name.upper()] = cell
                    ds.extras.add(name.upper())
            if tm.pivot is not None:
                _findings(ds, sheet, i, cells, stem, style.selector_case)
            else:
                _record(ds, sheet, i, record.row[LOCAL], cells)
    return datasets


def _record(ds: Dataset, sheet: Sheet, i: int, local: str, cells: dict[str, Cell]) -> None:
    """One record per row; a second table of the same dataset (DM) joins the patient's."""
    same = next((n for n, r in enumerate(ds.records) if r.get("USUBJID") == local), None)
    if same is not None and sheet.tm.table != ds.first:
        rec, number = ds.records[same], same + 1
    else:
        rec = {"STUDYID": "MESEMS-FR", "DOMAIN": ds.name[:2].upper()}
        ds.records.append(rec)
        number = len(ds.records)
        seq = f"{ds.name[:2].upper()}SEQ"
        rec[seq] = float(sum(1 for r in ds.records if r.get("USUBJID") in (local, None)))
        rec["USUBJID"] = local
    keep = sheet.tm.keep
    if keep is not None and keep.column not in ds.read:  # nothing else writes it: the value
        rec.setdefault(keep.column, keep.values[0])  # of a record the table keeps
    for column, cell in cells.items():
        rec[column] = local if cell.field == SUBJECT else _typed(column, cell)
    ds.at[(sheet.tm.table, i)] = number


def _findings(
    ds: Dataset, sheet: Sheet, i: int, cells: dict[str, Cell], stem: str, selector_case: bool
) -> None:
    """An assessment as one record per test with a result (``--TESTCD``/``--STRESN``)."""
    p = sheet.tm.pivot
    assert p is not None
    prefix = p.name[:2]
    first = None
    group = f"{stem.upper()}{i + 1}"
    for test in p.tests:
        cell = cells.get(test)
        if cell is None or cell.text.strip() == "":
            continue
        rec: dict[str, Any] = {"STUDYID": "MESEMS-FR", "DOMAIN": prefix}
        for column in (*p.by, *p.carry):
            c = cells.get(column)
            if c is not None:
                rec[column] = c.text if c.field != SUBJECT else c.value
        rec[p.name] = test.lower() if selector_case else test
        value = _typed(p.value, cell)
        rec[p.value] = value
        rec[f"{prefix}ORRES"] = cell.text.strip()
        rec[f"{prefix}GRPID"] = group
        rec[f"{prefix}SEQ"] = float(len(ds.records) + 1)
        for column in ds.extras:  # columns the spec does not know, on every record
            rec[column] = cells[column].text if column in cells else ""
        ds.records.append(rec)
        first = first or len(ds.records)
    if first is not None:
        ds.at[(sheet.tm.table, i)] = first


def to_supp(ds: Dataset, style: SdtmStyle) -> None:
    """Move the variables the IG does not define to SUPP-- records, keyed by --SEQ (or by
    --GRPID for findings, by the patient in DM)."""
    if style.qualifiers_in_parent:
        return
    domain = ds.name[:2].upper()
    for rec in ds.records:
        extra = [k for k in rec if not standard(domain, k) and k not in ds.extras]
        if domain == "DM":
            idvar, idval = "", ""
        elif f"{domain}GRPID" in rec:
            idvar, idval = f"{domain}GRPID", rec[f"{domain}GRPID"]
        else:
            idvar, idval = f"{domain}SEQ", _csv_text(rec[f"{domain}SEQ"])
        for q in extra:
            value = rec.pop(q)
            if value is None:
                continue
            seen = any(
                s["QNAM"] == q and s["IDVARVAL"] == idval and s["USUBJID"] == rec["USUBJID"]
                for s in ds.supp
            )
            if seen:
                continue
            ds.supp.append(
                {
                    "STUDYID": "MESEMS-FR",
                    "RDOMAIN": domain,
                    "USUBJID": rec["USUBJID"],
                    "IDVAR": idvar,
                    "IDVARVAL": idval,
                    "QNAM": q,
                    "QLABEL": q.title(),
                    "QVAL": str(value),
                    "QORIG": "CRF",
                }
            )


def _noise(datasets: dict[str, Dataset], sheets: list[Sheet], style: SdtmStyle) -> None:
    """Records the spec skips with a declared reason, after every kept one (kept records keep
    their numbers): other tests and events, a screen failure, other domains' datasets."""
    first = sheets[0].records[0].row[LOCAL]
    for sheet in sheets:
        tm, stem = sheet.tm, sheet.tm.file.rsplit(".", 1)[0]
        ds = datasets.get(stem)
        if ds is None or not ds.records or tm.keep is None or not style.other_records:
            continue
        if tm.table in ("subjects", "randomisation"):
            continue
        other = dict(ds.records[-1])
        other[tm.keep.column] = "ZZOTHER"
        other[f"{stem[:2].upper()}SEQ"] = float(len(ds.records) + 1)
        ds.records.append(other)
    if style.screen_failure or style.screen_failure_records:
        dm = datasets["dm"]
        failed = {**dm.records[0], "USUBJID": "SCRNFAIL-01", "ARMCD": "SCRNFAIL"}
        dm.records.append(failed)
        for stem in ("sv", "lb", "qs", "rs", "mo") if style.screen_failure_records else ():
            ds = datasets.get(stem)
            if ds and ds.records:
                ds.records.append({**ds.records[0], "USUBJID": "SCRNFAIL-01"})
    if style.other_records:
        datasets["vs"] = Dataset("vs", "", [{"STUDYID": "MESEMS-FR", "DOMAIN": "VS"}])
        datasets["vs"].records[0] |= {"USUBJID": first, "VSTESTCD": "SYSBP", "VSSTRESN": 120.0}


def write_sdtm(sheets: list[Sheet], folder: Path, style: SdtmStyle, rng: random.Random) -> Written:
    datasets = build(sheets, style, rng)
    for ds in datasets.values():
        to_supp(ds, style)
    _noise(datasets, sheets, style)
    for ds in datasets.values():
        _save(folder, ds.name, ds.records, style, ds.declared)
        if ds.supp:
            _save(folder, f"supp{ds.name}", ds.supp, style)
    ext = "csv" if style.csv_files else "xpt"
    if style.define_xml:
        _define(folder, [ds.name for ds in datasets.values()], ext)
    written = Written({}, {}, {})
    for sheet in sheets:
        stem = sheet.tm.file.rsplit(".", 1)[0]
        ds = datasets[stem]
        written.files[sheet.tm.table] = f"{stem}.{ext}"
        header = 1 if style.csv_files else 0  # a CSV dataset's header is its record 1
        written.numbers[sheet.tm.table] = [
            ds.at[(sheet.tm.table, i)] + header if (sheet.tm.table, i) in ds.at else 0
            for i in range(len(sheet.records))
        ]
        written.texts[sheet.tm.table] = [
            {c: cell.text for c, cell in r.cells.items()} for r in sheet.records
        ]
    return written


def _define(folder: Path, names: list[str], ext: str) -> None:
    """A Define-XML 2.0 as a submission carries it (metadata about each dataset, never rows),
    and the stylesheet its processing instruction names."""
    groups = "\n".join(
        f'      <ItemGroupDef OID="IG.{n.upper()}" Name="{n.upper()}" Repeating="Yes" '
        f'SASDatasetName="{n.upper()}" def:Structure="One record per record">\n'
        f'        <def:leaf ID="LF.{n.upper()}" xlink:href="{n}.{ext}"/>\n'
        "      </ItemGroupDef>"
        for n in names
    )
    (folder / "define.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<?xml-stylesheet type="text/xsl" href="define2-0-0.xsl"?>\n'
        '<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3" xmlns:def="http://www.cdisc.org/ns/def/'
        'v2.0" xmlns:xlink="http://www.w3.org/1999/xlink" ODMVersion="1.3.2" '
        'FileType="Snapshot" FileOID="MESEMS.SDTM" CreationDateTime="2015-06-01T12:00:00">\n'
        '  <Study OID="MESEMS">\n'
        "    <GlobalVariables><StudyName>MESEMS</StudyName><StudyDescription>MESEMS"
        "</StudyDescription><ProtocolName>MESEMS</ProtocolName></GlobalVariables>\n"
        '    <MetaDataVersion OID="MDV.MESEMS" Name="SDTM" def:DefineVersion="2.0.0">\n'
        f"{groups}\n    </MetaDataVersion>\n  </Study>\n</ODM>\n",
        encoding="utf-8",
    )
    (folder / "define2-0-0.xsl").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n<xsl:stylesheet version="1.0" '
        'xmlns:xsl="http://www.w3.org/1999/XSL/Transform"/>\n',
        encoding="utf-8",
    )


def _save(
    folder: Path,
    stem: str,
    records: list[dict[str, Any]],
    style: SdtmStyle,
    declared: list[str] | None = None,
) -> None:
    names = list(dict.fromkeys(k for r in records for k in r)) or list(declared or [])
    if style.csv_files:
        out = io.StringIO()
        w = csv.writer(out, lineterminator="\n")
        w.writerow(names)
        for r in records:
            w.writerow(["" if r.get(n) is None else _csv_text(r.get(n)) for n in names])
        (folder / f"{stem}.csv").write_text(out.getvalue(), encoding="utf-8")
        return
    columns = {}
    for n in names:
        values = [r.get(n) for r in records]
        if numeric(n) and all(v is None or isinstance(v, float) for v in values):
            columns[n] = pl.Series(n, values, dtype=pl.Float64)
        else:
            texts = ["" if v is None else _csv_text(v) for v in values]
            columns[n] = pl.Series(n, texts, dtype=pl.Utf8)
    frame = pl.DataFrame(columns)
    pyreadstat.write_xport(
        frame,
        str(folder / f"{stem}.xpt"),
        table_name=stem.upper()[:8],
        file_format_version=style.version,
    )


def _csv_text(value: Any) -> str:
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    return str(value)
