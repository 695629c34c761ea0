"""Worker: the pandas + pandera baseline - the same mapping as ``federate ingest``, written as a
plain vectorised pandas pipeline (no ``apply`` per row).

    python benchmarks/pandas_pipeline.py italy EXPORT_DIR OUT_DIR KEY_FILE

Per form: read with ``pandas.read_csv`` (all text), parse every declared column
(pandas_parsers.py), pseudonymise each distinct local id once, derive the schema's computed
columns, validate with pandera (hard rules quarantine, soft rules warn). Then the
whole-submission rules: visits by window, exact duplicates, conflicting keys, orphans; the
identifier scan over each text column's distinct values; zstd Parquet in the shared schema. It
writes a summary (rows per table) so the benchmark can check both pipelines agree.
"""

from __future__ import annotations

import argparse
import importlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pandas_parsers as parsers
import pandera.errors
import pandera.pandas as pdr
import pyarrow as pa
import pyarrow.parquet as pq

from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter, TableMap
from federate.privacy.identifiers import scan_values
from federate.privacy.pseudonym import SiteKey, load_key, pseudonym
from federate.schema import DType, Schema, Table

TYPES = {
    DType.STRING: "string",
    DType.INT: "Int64",
    DType.FLOAT: "float64",
    DType.DATE: "datetime64[us]",
    DType.BOOL: "boolean",
}
PROVENANCE = ("site", "submission_id", "source_file", "source_row")
# The schema's code lists (installed as federate.schemas; the engine reaches them only through
# the registry, so no static import here either).
_CODES = importlib.import_module("federate.schemas.codelists")
ATC_CROSSWALK, LAB_ANALYTES, MSFC_TASK_FORCE = (
    _CODES.ATC_CROSSWALK,
    _CODES.LAB_ANALYTES,
    _CODES.MSFC_TASK_FORCE,
)
SUBMISSION = "pandas-baseline"


def _bound(value: object, dtype: DType) -> object:
    return pd.Timestamp(value) if dtype is DType.DATE else value


def pandera_schema(table: Table, *, soft: bool) -> pdr.DataFrameSchema:
    """The shared schema's rules for pandas: the same declaration federate gives to polars."""
    columns = {}
    for c in table.columns:
        checks = []
        if soft:
            if c.warn_min is not None:
                checks.append(pdr.Check.ge(_bound(c.warn_min, c.dtype)))
            if c.warn_max is not None:
                checks.append(pdr.Check.le(_bound(c.warn_max, c.dtype)))
        else:
            if c.codes is not None:
                checks.append(pdr.Check.isin(list(c.codes)))
            if c.min is not None:
                checks.append(pdr.Check.ge(_bound(c.min, c.dtype)))
            if c.max is not None:
                checks.append(pdr.Check.le(_bound(c.max, c.dtype)))
            if c.pattern is not None:
                checks.append(pdr.Check.str_matches(c.pattern))
        nullable = soft or not c.required
        columns[c.name] = pdr.Column(TYPES[c.dtype], checks, nullable=nullable)
    return pdr.DataFrameSchema(columns)


def failed_rows(schema: pdr.DataFrameSchema, frame: pd.DataFrame) -> np.ndarray:
    """Positions of the rows any rule rejects (lazy: every failure, like the engine)."""
    try:
        schema.validate(frame, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        index = exc.failure_cases["index"].dropna().astype(int).unique()
        return np.asarray(frame.index.get_indexer(index))
    return np.array([], dtype=int)


def derive(table: Table, frame: pd.DataFrame) -> pd.Series:
    """The schema's derived columns (declared there as DuckDB SQL, written here in pandas).
    Returns the rows whose inputs were all present but gave nothing (quarantined)."""
    bad = pd.Series(False, index=frame.index)
    if table.name == "labs":
        factors = {(a, u): f for a, an in LAB_ANALYTES.items() for u, f in an.factors.items()}
        index = pd.MultiIndex.from_frame(frame[["analyte", "unit_reported"]].astype(object))
        factor = pd.Series(index.map(factors), index=frame.index, dtype="float64")
        frame["value"] = frame["value_reported"] * factor
        frame["unit"] = frame["analyte"].map({a: an.unit for a, an in LAB_ANALYTES.items()})
        present = frame[["analyte", "unit_reported", "value_reported"]].notna().all(axis=1)
        bad |= present & frame["value"].isna()
    elif table.name == "conmeds":
        frame["atc_code_current"] = frame["atc_code"].map(ATC_CROSSWALK).fillna(frame["atc_code"])
    elif table.name == "msfc":
        ref = MSFC_TASK_FORCE
        t25 = (frame["t25fw_trial1_s"] + frame["t25fw_trial2_s"]) / 2
        dom = (frame["nhpt_dominant_trial1_s"] + frame["nhpt_dominant_trial2_s"]) / 2
        non = (frame["nhpt_nondominant_trial1_s"] + frame["nhpt_nondominant_trial2_s"]) / 2
        nhpt = (1 / dom + 1 / non) / 2
        frame["msfc_z"] = (
            (nhpt - ref.nhpt_inverse_mean) / ref.nhpt_inverse_sd
            - (t25 - ref.t25fw_mean) / ref.t25fw_sd
            + (frame["pasat3"].astype("float64") - ref.pasat_mean) / ref.pasat_sd
        ) / 3
        frame["msfc_reference"] = ref.name
    elif table.derived:
        raise NotImplementedError(f"pandas baseline: derive {list(table.derived)} of {table.name}")
    return bad


def read(path: Path, delimiter: str) -> pd.DataFrame:
    options = {"sep": delimiter, "dtype": str, "keep_default_na": False, "quotechar": '"'}
    try:
        return pd.read_csv(path, encoding="utf-8-sig", **options)
    except UnicodeDecodeError:
        return pd.read_csv(path, encoding="cp1252", **options)


def map_form(
    tm: TableMap,
    raw: pd.DataFrame,
    adapter: SiteAdapter,
    table: Table,
    key: SiteKey,
    names: dict[str, str],
) -> tuple[pd.DataFrame, int, int]:
    """One form onto its shared table: (accepted rows, rows quarantined, warnings)."""
    header = {h.strip().lower(): h for h in raw.columns}
    out = pd.DataFrame(index=raw.index)
    bad = pd.Series(False, index=raw.index)
    if tm.subject:
        local = parsers.blank_to_na(raw[header[tm.subject.source.lower()]])
        if tm.subject.upper:
            local = local.str.upper()
        if tm.subject.zero_pad:
            digits = local.str.fullmatch(r"[0-9]+").fillna(False).astype(bool)
            local = local.where(~digits, local.str.zfill(tm.subject.zero_pad))
        for value in local.dropna().unique():  # each distinct id once, as the engine does
            if value not in names:
                names[value] = pseudonym(key, adapter.country, value)
        out["subject_id"] = local.map(names)
        bad |= local.isna()
    for name, parser in tm.fields.items():
        column = raw[header[parser.source.lower()]] if parser.source else None
        parsed = parsers.parse(name, parser, column, adapter.locale, raw.index)
        for shared, values in parsed.items():
            out[shared] = values
        if column is not None:
            bad |= parsers.blank_to_na(column).notna() & parsed[name].isna()
    bad |= derive(table, out)
    if table.visit_date and "visit_code" not in tm.fields:
        out["visit_code"] = "UNS"  # assigned by window once every form is read
    out["site"] = adapter.name
    out["submission_id"] = SUBMISSION
    out["source_file"] = tm.file
    out["source_row"] = np.arange(2, len(raw) + 2)
    for c in table.columns:
        out[c.name] = (out[c.name] if c.name in out else pd.Series(None, index=out.index)).astype(
            TYPES[c.dtype]
        )
    out = out[table.names]
    rejected = failed_rows(pandera_schema(table, soft=False), out)
    bad.iloc[rejected] = True
    accepted = out[~bad.to_numpy()]
    warnings = len(failed_rows(pandera_schema(table, soft=True), accepted))
    return accepted, int(bad.sum()), warnings


def assign_visits(frame: pd.DataFrame, table: Table, visits: pd.DataFrame, schema: Schema) -> int:
    """The visit whose window (days from the patient's W0) holds the date; else UNS."""
    w0 = visits[visits["visit_code"] == "W0"].groupby("subject_id")["visit_date"].min()
    day = (frame[table.visit_date] - frame["subject_id"].map(w0)).dt.days
    windows = list(schema.visit_windows.items())
    conditions = [day.between(lo, hi).fillna(False).to_numpy(bool) for _, (lo, hi) in windows]
    frame["visit_code"] = pd.array(
        np.select(conditions, [code for code, _ in windows], "UNS"), dtype="string"
    )
    return int((frame["visit_code"] == "UNS").sum())


def settle(
    frame: pd.DataFrame, table: Table, subjects: set[str] | None
) -> tuple[pd.DataFrame, int]:
    """Exact duplicates kept once, rows sharing a key but disagreeing all quarantined, orphans
    quarantined. Returns (kept rows, rows removed)."""
    content = [c for c in table.names if c not in PROVENANCE]
    digest = pd.util.hash_pandas_object(frame[content], index=False)
    keyed = frame[list(table.key)].assign(__h=digest.to_numpy())
    conflict = keyed.groupby(list(table.key), dropna=False)["__h"].transform("nunique") > 1
    repeat = keyed.duplicated(keep="first") & ~conflict
    drop = conflict | repeat
    if subjects is not None and table.per_subject:
        drop |= ~frame["subject_id"].isin(subjects)
    return frame[~drop.to_numpy()], int(drop.sum())


def identifier_hits(frame: pd.DataFrame, table: Table) -> int:
    hits = 0
    for c in table.columns:
        if c.dtype is not DType.STRING or c.name in (
            "site",
            "subject_id",
            "submission_id",
            "source_file",
        ):
            continue
        distinct = frame[c.name].dropna().unique()
        hits += len(scan_values(pa.array(distinct, pa.string()), free_text=c.free_text))
    return hits


def write(frame: pd.DataFrame, table: Table, schema: Schema, out: Path) -> None:
    arrow = schema.arrow_schema(table)
    relaxed = pa.schema([f.with_nullable(True) for f in arrow])
    data = pa.Table.from_pandas(frame, preserve_index=False).cast(relaxed, safe=False)
    pq.write_table(data.cast(arrow), out / f"{table.name}.parquet", compression="zstd")


def main() -> None:
    parser = argparse.ArgumentParser()
    for name in ("site", "export_dir", "out", "key_file"):
        parser.add_argument(name)
    args = parser.parse_args()
    adapter = registry.adapter(args.site)
    schema = registry.schema()
    key = load_key(adapter.name, Path(args.key_file))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    delimiter = getattr(adapter.reader, "delimiter", ",")
    names: dict[str, str] = {}
    frames: dict[str, pd.DataFrame] = {}
    summary: dict[str, dict[str, int]] = {}
    for tm in adapter.tables:
        table = schema.table(tm.table)
        raw = read(Path(args.export_dir) / tm.file, delimiter)
        accepted, quarantined, warned = map_form(tm, raw, adapter, table, key, names)
        frames[tm.table] = accepted
        summary[tm.table] = {"read": len(raw), "quarantined": quarantined, "warnings": warned}
    subjects = set(frames["subjects"]["subject_id"].dropna()) if "subjects" in frames else None
    for name, frame in frames.items():
        table = schema.table(name)
        if table.visit_date and "visit_code" not in adapter.table_map(name).fields:
            summary[name]["warnings"] += assign_visits(frame, table, frames["visits"], schema)
        kept, removed = settle(frame, table, None if name == "subjects" else subjects)
        summary[name]["removed_by_settling"] = removed
        summary[name]["identifier_hits"] = identifier_hits(kept, table)
        summary[name]["written"] = len(kept)
        write(kept, table, schema, out)
    (out / "summary.json").write_text(json.dumps(summary, indent=2), "utf-8")


if __name__ == "__main__":
    main()
