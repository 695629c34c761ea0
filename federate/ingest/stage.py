"""Staging one table: each of its sources streamed through its table map into the table's
Parquet file (with each source's row accounting), its keys settled (and, for the tables others
join with, what they join with filled), then its text scanned for identifiers.

Tables are staged on worker threads, side by side (``federate.ingest.workers``): a table only
ever touches its own sources' entries here, and the subjects table, the only one that adds to
``held``, runs alone, before every other.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.bundle.manifest import table_path
from federate.ingest.accounts import (
    SourceAccount,
    apply_settlement,
    close_account,
    unread_file,
)
from federate.ingest.export import NOT_IN_SPEC, shown_name, unclaimed_hint
from federate.ingest.flood import Flood
from federate.ingest.mapping import TableMapper, unknown_columns
from federate.ingest.pass_sql import PARENT, Checks
from federate.ingest.patients import Patients
from federate.ingest.plans import Plan, Plans
from federate.ingest.quarantine import Collector
from federate.ingest.reshape import Counter, counted, reshape_sql, stream
from federate.ingest.settle import Settler
from federate.ingest.streaming import Outcome, Pass
from federate.ingest.writer import BackgroundWriter
from federate.privacy.gate import Scan, scan_table
from federate.readers.base import NO_PART, Reject, Source
from federate.schema import Schema, Table
from federate.sqltext import sql_ident

ProgressFn = Callable[[str, int], None]


@dataclass
class TableStager:
    """Stages the tables of one submission: ``schedule`` says in which order, ``stage`` is one
    table's task (on a worker thread), ``sources`` gives the accounts they came to."""

    adapter: SiteAdapter
    schema: Schema
    found: list[tuple[TableMap, Source]]
    plans: Plans  # by the index of a source in ``found``
    stage_dir: Path
    submission_id: str
    patients: Patients
    failures: Collector
    warnings: Collector
    allowed: set[str]  # columns allowed to hold identifiers
    progress: ProgressFn | None
    # By a source's index in ``found``: its account and its column notes (the report's).
    by_plan: dict[int, tuple[SourceAccount, dict[str, Any]]] = field(default_factory=dict)
    held: set[str] = field(default_factory=set)  # subjects whose every row was quarantined
    # Patients the subjects table skipped (its Keep), with the reason: their rows are skipped.
    skipped: list[tuple[pa.Table, str]] = field(default_factory=list)
    order: list[str] = field(init=False)  # the tables, as the adapter first names them

    def __post_init__(self) -> None:
        self.order = list(dict.fromkeys(tm.table for tm, _ in self.found))

    def schedule(self) -> tuple[list[str], dict[str, list[str]]]:
        """The tables in the order to start them and the tables each waits on: each table once
        the tables it joins with are settled; of those ready, the ones others wait on first,
        then the largest (the Collectors sort: the order leaves no trace)."""
        maps = [tm for tm, _ in self.found]
        after = {name: joins_with(name, maps, self.schema) for name in self.order}
        waited_on = {n for needs in after.values() for n in needs}

        def size(name: str) -> int:
            return sum(src.path.stat().st_size for tm, src in self.found if tm.table == name)

        return sorted(self.order, key=lambda n: (n not in waited_on, -size(n))), after

    def stage(self, table_name: str, cur: duckdb.DuckDBPyConnection) -> Scan:
        """Map a table's sources into its Parquet file, settle its keys (and, for the tables
        others join with, fill what they join with), then scan it for identifiers."""
        table = self.schema.table(table_name)
        indices = [i for i, (tm, _) in enumerate(self.found) if tm.table == table_name]
        checks = Checks(
            parents=table_name != PARENT and PARENT in self.order,
            by_window=by_window(table, self.found[indices[0]][0]),
            windows=dict(self.schema.visit_windows),
        )
        settler = Settler(
            cur,
            self.stage_dir,
            self.schema,
            self.adapter,
            self.submission_id,
            self.failures,
            self.warnings,
        )
        seen = self._write(table, indices, cur, checks)
        settler.keys(table, self.held, seen if table_name == PARENT else None)
        apply_settlement(settler.result, [self.by_plan[i][0] for i in indices])
        if table_name == PARENT:
            settler.parents(seen, self.held)
            for ids, reason in self.skipped:
                settler.skipped(ids, reason)
            self.patients.load_ids(cur)
            self.patients.pseudonymise.settle(self.patients.subjects_of)
        elif table_name == "visits":
            settler.baselines()
            self.patients.load_w0(cur)
        path = table_path(self.stage_dir, table_name)
        return scan_table(cur, path, self.schema, table_name, self.allowed)

    def sources(self) -> tuple[list[SourceAccount], list[dict[str, Any]]]:
        """Each staged source's account and column notes, as the adapter declares them."""
        return (
            [self.by_plan[i][0] for i in sorted(self.by_plan)],
            [self.by_plan[i][1] for i in sorted(self.by_plan)],
        )

    def unclaimed(self, sources: list[Source]) -> list[SourceAccount]:
        """The accounts of the files nothing claims (skipped whole, never read), each with a
        warning the coordinator sees."""
        accounts = []
        for source in sources:
            shown = shown_name(source.relpath)
            accounts.append(unread_file(source, shown, NOT_IN_SPEC))
            self.warnings.add(
                site=self.adapter.name,
                submission_id=self.submission_id,
                table="",
                source_file=shown,
                rows=[0],  # the whole file
                column=None,
                shared_column=None,
                values=None,
                reason=NOT_IN_SPEC,
                rule=unclaimed_hint(self.adapter, shown),
                severity="warning",
            )
        return accounts

    def _write(
        self, table: Table, indices: list[int], cur: duckdb.DuckDBPyConnection, checks: Checks
    ) -> list[pa.Table]:
        """Stream the sources at ``indices`` into the table's Parquet file, in declared order;
        the (local id, pseudonym) pairs they saw (subjects only)."""
        seen: list[pa.Table] = []
        path = table_path(self.stage_dir, table.name)
        with BackgroundWriter(path, self.schema.arrow_schema(table)) as writer:
            for i in indices:
                columns = self._note_columns(self.plans[i])
                account, outcome, mapper = self._map_source(
                    self.plans[i], table, cur, writer, checks
                )
                self.by_plan[i] = (account, columns)
                seen += outcome.ids
                if table.name == PARENT:
                    self.held.update(mapper.quarantined_subjects)
                    if (keep := self.plans[i].tm.keep) is not None:
                        ids = skipped_patients(self.adapter, self.plans[i], mapper, cur)
                        self.skipped.append((ids, keep.reason))
        return seen

    def _unknown(self, plan: Plan) -> list[str]:
        """The columns of ``plan``'s file that no table map of the file reads, each warned of
        once: at the first map of its file and part (a file read for two tables, France's DM),
        or, for a column of no part (REDCap's column of no form), at the file's first part."""
        source = plan.source
        system = set(plan.facts.get("system_columns", "").split(","))
        of_no_part = set(json.loads(plan.facts.get(NO_PART, "[]")))
        same_file = [(tm, s) for tm, s in self.found if s.relpath == source.relpath]
        same = [(tm, s) for tm, s in same_file if s.part == source.part]
        read = {c.strip().lower() for tm, _ in same for c in [*tm.input_columns(), *tm.dropped]}
        first_here = same[0][1] is source
        first_of_file = same_file[0][1] is source
        return [
            c
            for c in unknown_columns(plan.tm, plan.header)
            if c not in system
            and c.strip().lower() not in read
            and (first_of_file if c in of_no_part else first_here)
        ]

    def _note_columns(self, plan: Plan) -> dict[str, Any]:
        """Unknown columns are ignored with a warning; identifying ones are listed as dropped."""
        tm, source = plan.tm, plan.source
        extra = self._unknown(plan)
        dropped = [h for h in plan.header if h.strip().lower() in {d.lower() for d in tm.dropped}]
        # Readers drop what the format flags as identifying (e.g. REDCap's Identifier? column).
        flagged = plan.facts.get("identifier_fields_dropped", "")
        dropped += [f for f in flagged.split(",") if f and f not in dropped]
        note = functools.partial(
            self.warnings.add,
            site=self.adapter.name,
            submission_id=self.submission_id,
            table=tm.table,
            source_file=source.relpath,
            part=source.part,
            shared_column=None,
            severity="warning",
        )
        for column in extra:  # each named as the site's export names it
            note(
                rows=[1],
                column=column,
                values=None,
                reason="unknown-column",
                rule="column not declared by the adapter: ignored, never written",
            )
        # Columns the spec does not require, left out: read as empty. Said, as a misspelt
        # header would look the same.
        absent = [] if tm.pivot else [c for c in tm.input_columns() if c not in plan.columns]
        for column in absent:
            note(
                rows=[1],
                column=column,
                values=[None],
                reason="optional-column-absent",
                rule="not in the export: the spec does not require it, its values are empty",
            )
        return {
            "file": source.relpath,
            "part": source.part,
            "table": tm.table,
            "ignored_unknown": extra,
            "absent_optional": absent,
            "dropped_identifiers": dropped,
        }

    def _map_source(
        self,
        plan: Plan,
        table: Table,
        con: duckdb.DuckDBPyConnection,
        writer: BackgroundWriter,
        checks: Checks,
    ) -> tuple[SourceAccount, Outcome, TableMapper]:
        """Stream one source through its table map into the table's writer, with its
        accounting."""
        tm, source, reader = plan.tm, plan.source, self.adapter.reader
        reshaping = tm.keep is not None or tm.pivot is not None
        # After a pivot the columns carry their declared names.
        columns = {c: c for c in tm.source_columns()} if tm.pivot else plan.columns
        mapper = TableMapper(
            self.adapter,
            self.schema,
            table,
            tm,
            columns,
            source.relpath,
            self.submission_id,
            self.patients.pseudonymise,
            con.cursor(),
            facts=plan.facts,
        )
        account = SourceAccount(
            source.relpath,
            tm.table,
            reader.sha256(source),
            source.path.stat().st_size,
            part=source.part,
        )
        account.facts = plan.facts
        rejects: list[Reject] = []
        counter = Counter()
        flood = Flood(source.relpath, rejects, self.failures)
        read = flood.reading(reader.batches(source, rejects), counter)
        batches = stream(counted(read, counter), plan.header)
        reshape = reshape_sql(tm, plan.columns) if reshaping else None
        id_source = tm.subject.source if tm.subject else None
        progress = self.progress
        run = Pass(
            con,
            self.schema,
            mapper,
            checks,
            writer,
            self.failures,
            self.warnings,
            date_column=_date_column(tm, table),
            id_column=columns.get(id_source) if id_source else None,
            settled=self.patients,
            progress=(lambda n: progress(source.relpath, n)) if progress else None,
            watch=flood,
        )
        try:
            outcome = run.run(batches, reshape)
        finally:
            mapper.con.close()
        self._quarantine_rejects(rejects, tm.table, source)
        close_account(account, counter.rows, rejects, outcome, tm.keep)
        return account, outcome, mapper

    def _quarantine_rejects(self, rejects: list[Reject], table: str, source: Source) -> None:
        """Rows the reader could not read, one record per reason and column."""
        for (reason, column), group in _group_rejects(
            [r for r in rejects if not r.deleted]
        ).items():
            self.failures.add(
                site=self.adapter.name,
                submission_id=self.submission_id,
                table=table,
                source_file=source.relpath,
                part=source.part,
                rows=[r.row for r in group],
                column=column,
                shared_column=None,
                values=None,
                reason=reason,
                rule="; ".join(sorted({r.detail for r in group})),
            )


def skipped_patients(
    adapter: SiteAdapter, plan: Plan, mapper: TableMapper, con: duckdb.DuckDBPyConnection
) -> pa.Table:
    """The local ids of the subjects rows a Keep skipped (the file read again: a subjects
    table is one row per patient), to skip their patients' other rows with the same reason."""
    tm = plan.tm
    assert tm.keep is not None
    batches = stream(adapter.reader.batches(plan.source, []), plan.header)
    local = mapper.local_id_sql({f.name: f.type for f in batches.schema})
    if local is None:
        return pa.table({"local_id": pa.array([], pa.string())})
    kept = tm.keep.sql(sql_ident(plan.columns[tm.keep.column]))
    cur = con.cursor()
    cur.register("raw", batches)
    try:
        sql = f"SELECT DISTINCT {local} AS local_id FROM raw WHERE NOT ({kept})"
        return cur.sql(sql).to_arrow_table()
    finally:
        cur.close()


def joins_with(name: str, maps: list[TableMap], schema: Schema) -> list[str]:
    """The tables a table's pass joins with, which must be settled first: every table with the
    patients (subjects), and a table whose visits are assigned by window with the W0 dates
    (visits)."""
    present = {tm.table for tm in maps}
    first = next(tm for tm in maps if tm.table == name)
    wanted = [PARENT] if name != PARENT else []
    if by_window(schema.table(name), first):
        wanted.append("visits")
    return [n for n in wanted if n in present and n != name]


def by_window(table: Table, tm: TableMap) -> bool:
    # A visit the export does not name is assigned from the date, by window.
    return bool(table.visit_date) and "visit_code" not in tm.fields


def _date_column(tm: TableMap, table: Table) -> str | None:
    parser = tm.fields.get(table.visit_date or "")
    return parser.source if parser else None


def _group_rejects(rejects: list[Reject]) -> dict[tuple[str, str | None], list[Reject]]:
    groups: dict[tuple[str, str | None], list[Reject]] = {}
    for reject in rejects:
        groups.setdefault((reject.reason, reject.column), []).append(reject)
    return groups
