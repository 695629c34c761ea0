"""The streaming pass's query, built from the adapter's declaration and the schema: the shared
columns mapped from the raw ones (``pass_sql``), visits assigned by window and each row's
patient verdict (``settle_sql``), and whether a row breaks a hard or only a soft rule
(``_flagged_sql``), with the input a flagged row carries to the careful path (``carried``).
Run by ``federate.ingest.streaming.Pass``."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import pyarrow as pa

from federate.ingest.lookup import PATIENT, PATIENT_STATUS, PATIENT_W0
from federate.ingest.mapping import LOCAL_ID, TableMapper
from federate.ingest.reshape import MERGED, SKIPPED
from federate.readers.base import ROW_COLUMN
from federate.schema import DType, Table
from federate.sqltext import sql_ident, sql_str

PARENT = "subjects"
HARD = "__hard"  # breaks a hard rule or does not parse: quarantined
SOFT = "__soft"  # breaks a soft rule only: written, with a warning
VERDICT = "__verdict"
VISIT_WARN = "__visit_warn"
STATUS = "__status"
IN = "__in_"

_DUCK_TYPES = {
    DType.STRING: "VARCHAR",
    DType.INT: "BIGINT",
    DType.FLOAT: "DOUBLE",
    DType.DATE: "DATE",
    DType.BOOL: "BOOLEAN",
}
VISIT_WARNINGS = {
    "no-baseline-visit": "the patient has no W0 visit: the visit is UNS",
    "outside-visit-windows": "the date is outside every visit window: UNS",
}


def window_sql(windows: dict[str, tuple[int, int]], day: str) -> str:
    whens = " ".join(
        f"WHEN {day} BETWEEN {lo} AND {hi} THEN {sql_str(code)}"
        for code, (lo, hi) in windows.items()
    )
    return f"CASE {whens} ELSE 'UNS' END"


@dataclass
class Checks:
    """Which whole-submission joins apply to one table."""

    parents: bool  # the subjects table is settled: flag rows of unknown or held patients
    by_window: bool  # the export does not name the visit: assign it from the date
    windows: dict[str, tuple[int, int]]


def settle_sql(
    table: Table, source: str, checks: Checks, status: str, w0: str | None = None
) -> str:
    """Visit by window and the patient's verdict over ``source`` (shared columns, ``status``;
    ``w0``: its column of the patient's W0 date, else it is joined from ``__w0``)."""
    if checks.by_window:
        date = sql_ident(table.visit_date or "")
        base = f"s.{w0}" if w0 else "w.w0"
        day = f"date_diff('day', {base}, s.{date})"
        joined = "" if w0 else "LEFT JOIN __w0 w ON w.subject_id = s.subject_id"
        source = (
            f"(SELECT s.* REPLACE ({window_sql(checks.windows, day)} AS visit_code), "
            f"{base} IS NULL AS __no_w0 FROM {source} s {joined})"
        )
        warn = (
            "CASE WHEN visit_code = 'UNS' THEN CASE WHEN __no_w0 THEN 'no-baseline-visit' "
            "ELSE 'outside-visit-windows' END END"
        )
    else:
        warn = "NULL::VARCHAR"
    verdict = (
        f"CASE WHEN {status} IS NULL THEN 'unknown-subject' "
        f"WHEN {status} = 'held' THEN 'parent-quarantined' "
        f"WHEN starts_with({status}, '{SKIPPED}') THEN {status} END"
        if checks.parents and table.per_subject and table.name != PARENT
        else "NULL::VARCHAR"
    )
    return f"SELECT *, {warn} AS {VISIT_WARN}, {verdict} AS {VERDICT} FROM {source}"


def carried(raw: pa.Schema) -> dict[str, str]:
    """Input columns the pass keeps with a flagged row, and their names there."""
    return {f.name: f"{IN}{i}" for i, f in enumerate(raw) if f.name not in (ROW_COLUMN, MERGED)}


def pass_sql(
    mapper: TableMapper,
    raw: pa.Schema,
    checks: Checks,
    looked_up: Collection[str] = (),
    patients_ahead: bool = False,
) -> str:
    """The whole streaming query over ``raw`` for one source (``looked_up``: input columns
    whose mapped columns ``Lookup`` computes ahead, beside the reader's columns;
    ``patients_ahead``: so are each row's patient, status and W0 date, and the query has no
    join, which keeps the file's order): map, type, settle, flag, select."""
    carry = carried(raw)
    if MERGED in raw.names:
        carry[MERGED] = MERGED
    ahead = {c: c for c in (PATIENT, PATIENT_STATUS, PATIENT_W0)} if patients_ahead else {}
    mapped = mapper.build_sql({f.name: f.type for f in raw}, carry | ahead, looked_up)
    typed = _typed_sql(mapper, mapped, carry, patients_ahead)
    w0 = PATIENT_W0 if patients_ahead else None
    settled = settle_sql(mapper.table, typed, checks, STATUS, w0)
    return _flagged_sql(mapper, settled, carry)


def _typed_sql(
    mapper: TableMapper, mapped: str, carry: dict[str, str], patients_ahead: bool
) -> str:
    """The mapped rows in the shared columns' types, with what the checks need beside them:
    whether a value did not parse, the input carried, the local id and the patient's status."""
    tm = mapper.tm
    aux = [
        f"({_unparsed_sql(mapper)}) AS __unparsed",
        *(f"m.{sql_ident(dst)} AS {sql_ident(dst)}" for dst in carry.values()),
    ]
    if tm.subject:
        aux.append(f"m.{LOCAL_ID} AS {LOCAL_ID}")
    if patients_ahead:
        joined, status = "", f"m.{PATIENT_STATUS}"
        aux.append(f"m.{PATIENT_W0} AS {PATIENT_W0}")
    elif tm.subject:
        joined = f"LEFT JOIN __ids i ON i.local_id = m.{LOCAL_ID}"
        status = "i.status"
    else:
        joined, status = "", "NULL"
    aux.append(f"{status} AS {STATUS}")
    shared = _shared_sql(mapper, patients_ahead)
    return f"(SELECT {', '.join(shared + aux)} FROM ({mapped}) m {joined})"


def _shared_sql(mapper: TableMapper, patients_ahead: bool) -> list[str]:
    """Each shared column, cast to its type: the engine's own, or mapped from the export."""
    outputs = set(mapper.outputs())
    shared = []
    for col in mapper.table.columns:
        kind = _DUCK_TYPES[col.dtype]
        if col.name == "site":
            expr = sql_str(mapper.adapter.name)
        elif col.name == "subject_id" and patients_ahead:
            expr = f"m.{PATIENT}"
        elif col.name == "subject_id" and mapper.tm.subject:
            # Patients of the subjects table are joined; only others reach the Python function.
            expr = f"coalesce(i.subject_id, __pseudonym(m.{LOCAL_ID}))"
        elif col.name == "submission_id":
            expr = sql_str(mapper.submission_id)
        elif col.name == "source_file":
            expr = sql_str(mapper.relpath)
        elif col.name == "source_row":
            expr = f"m.{sql_ident(ROW_COLUMN)}"
        elif col.name in outputs:
            expr = f"m.{sql_ident(col.name)}"
        else:
            expr = "NULL"
        shared.append(f"CAST({expr} AS {kind}) AS {sql_ident(col.name)}")
    return shared


def _unparsed_sql(mapper: TableMapper) -> str:
    """A value that was there but did not parse, a missing patient id, an underivable column."""
    table, tm = mapper.table, mapper.tm
    unparsed = [
        f"(m.{sql_ident('__raw_' + name)} IS NOT NULL AND m.{sql_ident(name)} IS NULL)"
        for name, parser in tm.fields.items()
        if parser.source
    ]
    if tm.subject:
        unparsed.append(f"m.{LOCAL_ID} IS NULL")
    for name, derived in table.derived.items():
        if derived.inputs:
            present = " AND ".join(f"m.{sql_ident(c)} IS NOT NULL" for c in derived.inputs)
            unparsed.append(f"(m.{sql_ident(name)} IS NULL AND {present})")
    return " OR ".join(unparsed) or "false"


def _flagged_sql(mapper: TableMapper, settled: str, carry: dict[str, str]) -> str:
    """Over the settled rows: whether each breaks a hard rule or only a soft one, and what
    leaves the query - the shared columns, the flags and verdicts, and a flagged row's input."""
    table, tm = mapper.table, mapper.tm
    hard: list[str] = ["__unparsed"]
    soft: list[str] = []
    for col in table.columns:
        if col.name in ("site", "subject_id", "submission_id", "source_file"):
            continue  # written by the engine, right by construction
        for rules, is_soft in ((hard, False), (soft, True)):
            test = col.violation_sql(sql_ident(col.name), soft=is_soft)
            if test:
                rules.append(f"({test})")
    names = ", ".join(sql_ident(c) for c in table.names)
    # A visit warning shows the date as the site wrote it: its input is kept for those rows too.
    date = tm.fields.get(table.visit_date or "")
    dated = carry.get(date.source or "") if date else None
    keep = ", ".join(
        f"CASE WHEN {HARD} OR {SOFT}{f' OR {VISIT_WARN} IS NOT NULL' if dst == dated else ''} "
        f"THEN {sql_ident(dst)} END AS {sql_ident(dst)}"
        if dst != MERGED
        else MERGED
        for dst in carry.values()
    )
    # Local ids leave the query only where ``__ids`` is filled from them.
    extra = f", {LOCAL_ID}" if tm.subject and table.name == PARENT else ""
    flagged = (
        f"SELECT *, {' OR '.join(hard)} AS {HARD}, {' OR '.join(soft) or 'false'} AS {SOFT} "
        f"FROM ({settled})"
    )
    return (
        f"SELECT {names}, {HARD}, {SOFT}, {VERDICT}, {VISIT_WARN}{extra}"
        f"{', ' + keep if keep else ''} FROM ({flagged})"
    )
