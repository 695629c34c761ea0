"""The streaming pass: one DuckDB query per source file that maps, pseudonymises, assigns visits
by window, checks every rule and finds rows of unknown or held patients.

Every row that breaks no hard rule (the common case) goes straight to its table's Parquet writer,
in file order: the pass costs what the bare conversion costs plus its CASE expressions. The SQL
decides only *whether* a row breaks a rule, from predicates derived from the same ``Column``
declarations as the pandera checks; the few flagged rows are then sent, with their raw input and
in bulk, through ``TableMapper.map`` (pandera, rule by rule), which names every failure. A row
that broke a hard rule is quarantined there, one that broke only a soft rule is written with its
warnings, and the two must agree with the SQL.

Whole-submission facts are two small tables, filled as tables settle (parents first): ``__ids``
(each patient of the subjects table, accepted or held) and ``__w0`` (each patient's W0 date, for
visits by window). The lookup reads them through their snapshot in memory (``Patients``); a
reshaped source, which the lookup does not see, joins them in its query.
"""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Collection, Generator, Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import PythonUDFType

from federate.ingest.lookup import PATIENT, PATIENT_STATUS, PATIENT_W0, Lookup
from federate.ingest.mapping import LOCAL_ID, TableMapper
from federate.ingest.patients import Patients
from federate.ingest.quarantine import Collector
from federate.ingest.reshape import MERGED, SKIPPED, without_skipped_patients
from federate.ingest.writer import BackgroundWriter
from federate.privacy.pseudonym import Pseudonymiser
from federate.readers.base import ROW_COLUMN
from federate.schema import DType, Schema, Table
from federate.sqltext import sql_ident, sql_str

PARENT = "subjects"
HARD = "__hard"  # breaks a hard rule or does not parse: quarantined
SOFT = "__soft"  # breaks a soft rule only: written, with a warning
VERDICT = "__verdict"
VISIT_WARN = "__visit_warn"
STATUS = "__status"
IN = "__in_"
BATCH_ROWS = 1 << 17
CAREFUL_ROWS = 1 << 16

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


def prepare(con: duckdb.DuckDBPyConnection, pseudonymise: Pseudonymiser) -> None:
    """The join tables (empty until their tables settle; not TEMP, so every cursor sees them)
    and the pseudonym function."""
    # Joins as written: the stream probes, the small table builds (a flipped join would hold the
    # whole stream in memory and lose the file's order).
    con.execute("SET disabled_optimizers = 'join_order,build_side_probe_side'")
    con.execute("CREATE TABLE __ids (local_id VARCHAR, subject_id VARCHAR, status VARCHAR)")
    con.execute("CREATE TABLE __w0 (subject_id VARCHAR, w0 DATE)")
    con.create_function(
        "__pseudonym",
        pseudonymise,
        ["varchar"],
        "varchar",
        type=PythonUDFType.ARROW,
        side_effects=False,
    )


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
    keep = ", ".join(
        f"CASE WHEN {HARD} OR {SOFT} THEN {sql_ident(dst)} END AS {sql_ident(dst)}"
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


@dataclass
class Outcome:
    """What one source's pass did with its rows."""

    written: int = 0
    failed: int = 0  # rows the careful path quarantined
    merged: int = 0
    removed: dict[str, int] = field(default_factory=dict)  # patient verdict -> rows
    skipped: dict[str, int] = field(default_factory=dict)  # a skipped patient's reason -> rows
    ids: list[pa.Table] = field(default_factory=list)  # (local id, pseudonym), subjects only


@dataclass
class Pass:
    """Runs one source through the streaming query and routes its rows."""

    con: duckdb.DuckDBPyConnection
    schema: Schema
    mapper: TableMapper
    checks: Checks
    writer: BackgroundWriter
    failures: Collector
    warnings: Collector
    date_column: str | None  # the site's column of the visit date, for visit warnings
    id_column: str | None  # the site's patient id column, for patient verdicts
    settled: Patients | None = None  # the settled patients, for the lookup
    progress: Callable[[int], None] | None = None
    # After each batch, with the rows quarantined so far and a way to name them (``Flood``).
    watch: Callable[[int, int, Callable[[], None]], None] | None = None
    outcome: Outcome = field(default_factory=Outcome)
    _checked: int = 0
    _quarantined: int = 0
    _held: list[pa.Table] = field(default_factory=list)
    _held_rows: int = 0

    def run(self, stream: pa.RecordBatchReader, reshape: str | None = None) -> Outcome:
        """Stream ``stream`` (SQL ``raw``; or ``stream``, then ``raw`` is ``reshape`` over it)."""
        table = self.mapper.table
        self._arrow = self.schema.arrow_schema(table)
        self._raw = stream.schema
        if reshape:  # the reshaped columns' types, from the same SQL over no rows
            self.con.register("stream", stream.schema.empty_table())
            self._raw = self.con.sql(reshape).limit(0).to_arrow_table().schema
        # A reader's error (e.g. a truncated file) surfaces as itself, not as DuckDB's.
        errors: list[Exception] = []

        def guarded() -> Iterator[pa.RecordBatch]:
            try:
                yield from stream
            except Exception as exc:
                errors.append(exc)
                raise

        side = self.con.cursor()  # the lookup's: the pass's query holds self.con
        registered = "stream" if reshape else "raw"
        lookup: Lookup | None = None
        feed: Generator[pa.RecordBatch] | None = None  # the lookup's output
        source: pa.RecordBatchReader | None = None
        result: pa.RecordBatchReader | None = None
        try:
            batches = guarded()
            if not reshape:  # a reshaped stream is grouped by DuckDB first: no lookup ahead
                self.mapper.raw_types = {f.name: f.type for f in self._raw}
                first = next(batches, None)
                if first is not None:
                    subject = self.mapper.tm.subject
                    patients = self.mapper.columns[subject.source] if subject else None
                    lookup = Lookup.plan(
                        self.mapper.lookup_sql(), first, side, patients, self.settled
                    )
                    batches = itertools.chain([first], batches)
            looked_up = lookup.columns if lookup else ()
            ahead = lookup is not None and lookup.patients is not None
            sql = pass_sql(self.mapper, self._raw, self.checks, looked_up, ahead)
            if reshape:
                sql = f"WITH raw AS ({reshape}) {sql}"
            if self.mapper.tm.subject and not ahead:  # joined in the pass: loses the order
                sql += f" ORDER BY {sql_ident('source_row')}"
            if lookup is not None:
                batches = feed = lookup(batches)
            source = pa.RecordBatchReader.from_batches(
                lookup.schema if lookup else stream.schema, batches
            )
            self.con.register(registered, source)
            result = self.con.sql(sql).to_arrow_reader(BATCH_ROWS)
            for batch in result:
                self._route(pa.Table.from_batches([batch]))
                if self.progress:
                    self.progress(batch.num_rows)
        except (duckdb.Error, pa.ArrowException, OSError):
            # The reader's or the lookup's own error, not DuckDB's (or Arrow's, when it comes
            # through the stream mid-file) report of it.
            if errors:
                raise errors[0] from None
            if lookup is not None and lookup.error is not None:
                raise lookup.error from None
            raise
        finally:
            # Closed now, not by the garbage collector: the lookup's thread must not outlive
            # a failed run (it would still be running when the interpreter exits). Each step
            # runs even if one before it fails; the last registered runs first.
            with contextlib.ExitStack() as cleanup:
                cleanup.callback(side.close)
                if feed is not None:
                    cleanup.callback(feed.close)
                cleanup.callback(self.con.unregister, registered)
                for closable in (source, result):
                    if closable is not None:
                        cleanup.callback(closable.close)
        self._careful()
        return self.outcome

    def _route(self, rows: pa.Table) -> None:
        rows, skipped = without_skipped_patients(rows, VERDICT)
        for reason, n in skipped.items():
            self.outcome.skipped[reason] = self.outcome.skipped.get(reason, 0) + n
        if MERGED in rows.column_names:
            self.outcome.merged += int(pc.sum(rows.column(MERGED)).as_py() or 0)
        if LOCAL_ID in rows.column_names and self.mapper.table.name == PARENT:
            ids = rows.select([LOCAL_ID, "subject_id"]).filter(pc.is_valid(rows.column(LOCAL_ID)))
            self.outcome.ids.append(ids.rename_columns(["local_id", "subject_id"]))
        out = [*self.mapper.table.names, VISIT_WARN, VERDICT]
        hard = rows.column(HARD)
        flagged = pc.or_(hard, rows.column(SOFT))
        if pc.any(flagged).as_py():
            self._hold(rows.filter(flagged))
        if pc.any(hard).as_py():
            self._quarantined += int(pc.sum(hard).as_py() or 0)
            rows = rows.filter(pc.invert(hard))
        self._emit(rows.select(out))
        if self.watch is not None:
            self._checked += len(hard)
            bad = self._quarantined + sum(self.outcome.removed.values())
            self.watch(self._checked, bad, self._careful)

    def _hold(self, flagged: pa.Table) -> None:
        """Keep flagged rows' input for the careful path, which runs once per CAREFUL_ROWS of
        them (pandera has a high fixed cost per call), not once per batch."""
        self._held.append(flagged.select([*carried(self._raw).values(), "source_row", HARD]))
        self._held_rows += flagged.num_rows
        if self._held_rows >= CAREFUL_ROWS:
            self._careful()

    def _careful(self) -> None:
        """The flagged rows, as the reader gave them, through the careful path, which names
        every rule each breaks. Rows that broke a hard rule were not written and must all be
        quarantined here; rows that broke only a soft rule were written and must all pass."""
        if not self._held:
            return
        flagged = pa.concat_tables(self._held)
        self._held, self._held_rows = [], 0
        types = {f.name: f.type for f in self._raw}
        inputs = {
            name: flagged.column(kept).cast(types[name])
            for name, kept in carried(self._raw).items()
        }
        inputs[ROW_COLUMN] = flagged.column("source_row")
        raw = pa.Table.from_pydict(inputs).select([n for n in self._raw.names if n in inputs])
        batches = raw.combine_chunks().to_batches()  # one pandera call, not one per batch held
        parts = [self.mapper.map(b, self.failures, self.warnings) for b in batches]
        accepted = pa.concat_tables(parts).column("source_row") if parts else pa.array([])
        hard = flagged.filter(flagged.column(HARD)).column("source_row")
        wrong = pc.sum(pc.is_in(accepted, hard)).as_py() or 0
        soft_rows = flagged.num_rows - len(hard)
        if wrong or len(accepted) - wrong != soft_rows:
            raise RuntimeError(
                f"{self.mapper.relpath}: the SQL rules and pandera disagree on "
                f"{wrong + soft_rows - (len(accepted) - wrong)} row(s) (a bug in the engine)"
            )
        self.outcome.failed += len(hard)

    def _emit(self, rows: pa.Table) -> None:
        """Record visit warnings and patient verdicts; write the rows that remain."""
        table = self.mapper.table
        warn = rows.column(VISIT_WARN)
        if warn.null_count < len(warn):
            for reason, rule in VISIT_WARNINGS.items():
                hit = rows.filter(pc.equal(warn, reason))
                if hit.num_rows:
                    self._record(
                        self.warnings,
                        hit,
                        self.date_column,
                        table.visit_date,
                        pc.cast(hit.column(table.visit_date or ""), pa.string()),
                        reason,
                        rule,
                        "warning",
                    )
        verdict = rows.column(VERDICT)
        if verdict.null_count < len(verdict):
            for reason, rule in PATIENT_VERDICTS.items():
                hit = rows.filter(pc.equal(verdict, reason))
                if hit.num_rows:
                    self._record(
                        self.failures, hit, self.id_column, "subject_id", None, reason, rule,
                        "error",
                    )  # fmt: skip
                    self.outcome.removed[reason] = (
                        self.outcome.removed.get(reason, 0) + hit.num_rows
                    )
            rows = rows.filter(pc.is_null(verdict))
        if rows.num_rows:
            self.writer.write_table(rows.select(table.names).cast(self._arrow))
            self.outcome.written += rows.num_rows

    def _record(
        self,
        sink: Collector,
        rows: pa.Table,
        column: str | None,
        shared: str | None,
        values: pa.ChunkedArray | None,
        reason: str,
        rule: str,
        severity: str,
    ) -> None:
        sink.add(
            site=self.mapper.adapter.name,
            submission_id=self.mapper.submission_id,
            table=self.mapper.table.name,
            source_file=self.mapper.relpath,
            part=self.mapper.tm.part,
            rows=rows.column("source_row").combine_chunks(),
            column=column,
            shared_column=shared,
            values=None if values is None else values.combine_chunks(),
            reason=reason,
            rule=rule,
            severity=severity,
        )


PATIENT_VERDICTS = {
    "unknown-subject": f"the patient is not in the submission's {PARENT}",
    "parent-quarantined": f"the patient's {PARENT} row is quarantined",
}
