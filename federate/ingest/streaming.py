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
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
from duckdb.func import PythonUDFType

from federate.ingest.lookup import Lookup
from federate.ingest.mapping import LOCAL_ID, TableMapper
from federate.ingest.pass_sql import (
    HARD,
    PARENT,
    SOFT,
    VERDICT,
    VISIT_WARN,
    VISIT_WARNINGS,
    Checks,
    carried,
    pass_sql,
)
from federate.ingest.patients import Patients
from federate.ingest.quarantine import Collector
from federate.ingest.reshape import MERGED, without_skipped_patients
from federate.ingest.writer import BackgroundWriter
from federate.privacy.pseudonym import Pseudonymiser
from federate.readers.base import ROW_COLUMN
from federate.schema import Schema
from federate.sqltext import sql_ident

BATCH_ROWS = 1 << 17
CAREFUL_ROWS = 1 << 16


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
        dated = carried(self._raw).get(self.date_column or "", "")
        out += [dated] if dated in rows.column_names else []  # the date as written, for warnings
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
                        self._as_written(hit),
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

    def _as_written(self, rows: pa.Table) -> pa.ChunkedArray:
        """The visit date as the site wrote it, where the pass kept its input."""
        kept = carried(self._raw).get(self.date_column or "", "")
        written = rows.column(kept) if kept in rows.column_names else pa.chunked_array([], "null")
        if pa.types.is_struct(written.type):  # a spreadsheet's cell: its text as shown
            written = pc.struct_field(written, "text")
        if pa.types.is_string(written.type) or pa.types.is_temporal(written.type):
            return pc.cast(written, pa.string())
        return pc.cast(rows.column(self.mapper.table.visit_date or ""), pa.string())

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
