"""``federate ingest``: a site's export in, a validated, sealed bundle out.

read -> map -> pseudonymise -> validate -> write, batch by batch, so memory does not grow with
the export. Every source row ends up accepted or quarantined (with a reason), and the manifest's
row accounting proves it: rows_read = rows_mapped + rows_quarantined + rows_skipped.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fnmatch
import functools
import getpass
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from federate import __version__
from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter, SkipFiles, TableMap
from federate.bundle.manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    QUARANTINE,
    QUARANTINE_CSV,
    QUARANTINE_XLSX,
    REPORT,
    SIGNATURE,
    seal,
    staged_dir,
    table_path,
    write_json,
)
from federate.bundle.signing import SigningKey, load_signing_key
from federate.errors import ExitCode, InputError, Location, UsageError
from federate.ingest.mapping import TableMapper, unknown_columns
from federate.ingest.patients import Patients
from federate.ingest.plans import Plan, Plans
from federate.ingest.quarantine import Collector
from federate.ingest.quarantine_xlsx import write_quarantine_xlsx
from federate.ingest.reshape import Counter, counted, reshape_sql, stream
from federate.ingest.settle import ROW_COUNTS_AS, Settlement, Settler
from federate.ingest.streaming import PARENT, Checks, Outcome, Pass, prepare
from federate.ingest.workers import WORKERS, run_when_ready
from federate.ingest.writer import BackgroundWriter
from federate.privacy.gate import Scan, check_column_names, identifier_verdict, scan_table
from federate.privacy.pseudonym import Pseudonymiser, SiteKey
from federate.readers.base import Reader, Reject, Source
from federate.schema import Schema, Table

ProgressFn = Callable[[str, int], None]


@dataclass
class SourceAccount:
    """Row accounting for one source file feeding one table."""

    path: str
    table: str
    sha256: str
    bytes: int
    rows_read: int = 0
    rows_mapped: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    rows_parent_quarantined: int = 0  # part of rows_quarantined: held for their patient's row
    part: str | None = None
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)

    def balanced(self) -> bool:
        return self.rows_read == self.rows_mapped + self.rows_quarantined + self.rows_skipped


@dataclass
class IngestResult:
    bundle: Path
    manifest: dict[str, Any]
    report: dict[str, Any]
    quarantine: pa.Table
    warnings: pa.Table

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.QUARANTINED if self.quarantine.num_rows else ExitCode.OK


def use_jemalloc() -> None:
    """Arrow's jemalloc pool, where the platform's pyarrow has it, for the whole process. Its
    default (mimalloc) hands freed batches back to the system and takes them again for the next:
    at 5M lab rows that was 1.2 s of page faults more and 0.15 GB more resident memory."""
    if "ARROW_DEFAULT_MEMORY_POOL" in os.environ:  # the user's choice stands
        return
    with contextlib.suppress(NotImplementedError):
        pa.set_memory_pool(pa.jemalloc_memory_pool())


def new_submission_id(site: str, now: dt.datetime) -> str:
    return f"{site}-{now.strftime('%Y%m%dT%H%M%SZ')}-{uuid.uuid4().hex[:8]}"


def find_source(export_dir: Path, name: str, part: str | None = None) -> Source:
    """The declared file, matched case-insensitively (Windows exports vary the case)."""
    exact = export_dir / name
    if exact.is_file():
        return Source(exact, name, part)
    for path in export_dir.iterdir():
        if path.is_file() and path.name.lower() == name.lower():
            return Source(path, path.name, part)
    present = ", ".join(sorted(p.name for p in export_dir.iterdir() if p.is_file())) or "none"
    raise InputError(
        f"the export has no {name} (files present: {present})",
        code="missing-file",
        where=Location(file=name),
    )


def _check_paths(export_dir: Path, out: Path) -> None:
    if not export_dir.is_dir():
        raise UsageError(
            f"export folder {export_dir} does not exist or is not a folder", code="no-export"
        )
    exp, dest = export_dir.resolve(), out.resolve()
    if dest == exp or exp in dest.parents:
        raise UsageError(
            f"--out {out} is inside the export folder; ingest never writes into an export",
            code="out-in-export",
        )


def ingest(
    adapter: SiteAdapter,
    export_dir: Path,
    out: Path,
    key: SiteKey,
    *,
    operator: str | None = None,
    progress: ProgressFn | None = None,
    allow_identifiers_in: tuple[str, ...] = (),
    signing: SigningKey | None = None,
) -> IngestResult:
    _check_paths(export_dir, out)
    signing = signing or load_signing_key(adapter.name, None)
    check_column_names(adapter)
    schema = registry.schema()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    submission_id = new_submission_id(adapter.name, now)
    reader = adapter.reader

    # Resolve every file before doing any work: a missing file stops the run with exit 2 and
    # nothing written (and a missing column or an unreadable file likewise: ``Plans``).
    found: list[tuple[TableMap, Source]] = []
    for tm in adapter.tables:
        try:
            found.append((tm, find_source(export_dir, tm.file, tm.part)))
        except InputError:
            if tm.optional:
                continue
            raise
    workers = WORKERS if reader.side_by_side else 1
    used = {source.relpath.lower() for _, source in found}
    skipped_files = [
        (rule, source)
        for rule in adapter.skip
        for source in matching_files(export_dir, rule.pattern)
        if source.relpath.lower() not in used
    ]

    failures, warnings = Collector(), Collector()
    table_rows: dict[str, int] = {}
    pseudonymise = Pseudonymiser(key, adapter.country)
    patients = Patients(pseudonymise)
    with (
        Plans(reader, found, PARENT, ahead=workers > 1) as plans,
        staged_dir(out) as stage,
        _connection(stage, workers) as con,
    ):
        prepare(con, pseudonymise)
        order = list(dict.fromkeys(tm.table for tm, _ in found))
        held: set[str] = set()  # subjects whose every row was quarantined
        allowed = set(allow_identifiers_in)
        by_plan: dict[int, tuple[SourceAccount, dict[str, Any]]] = {}

        def stage_table(table_name: str, cur: duckdb.DuckDBPyConnection) -> Scan:
            """Map a table's sources into its Parquet file, settle its keys (and, for the tables
            others join with, fill what they join with), then scan it for identifiers."""
            table = schema.table(table_name)
            indices = [i for i, (tm, _) in enumerate(found) if tm.table == table_name]
            checks = Checks(
                parents=table_name != PARENT and PARENT in order,
                by_window=_by_window(table, found[indices[0]][0]),
                windows=dict(schema.visit_windows),
            )
            settler = Settler(cur, stage, schema, adapter, submission_id, failures, warnings)
            seen: list[pa.Table] = []
            with BackgroundWriter(table_path(stage, table_name), schema.arrow_schema(table)) as w:
                for i in indices:
                    columns = _note_columns(plans[i], adapter, submission_id, warnings)
                    account, outcome, mapper = _map_source(
                        plans[i], adapter, table, submission_id, patients, cur, w, checks,
                        failures, warnings, progress,
                    )  # fmt: skip
                    by_plan[i] = (account, columns)
                    seen += outcome.ids
                    if table_name == PARENT:
                        held.update(mapper.quarantined_subjects)
            settler.keys(table, held)
            _apply(settler.result, [by_plan[i][0] for i in indices])
            if table_name == PARENT:
                settler.parents(seen, held)
                patients.load_ids(cur)
                pseudonymise.settle(patients.subjects_of)
            elif table_name == "visits":
                settler.baselines()
                patients.load_w0(cur)
            return scan_table(cur, table_path(stage, table_name), schema, table_name, allowed)

        # Each table once the tables it joins with are settled; of those ready, the ones others
        # wait on first, then the largest (the Collectors sort: the order leaves no trace).
        after = {name: _joins_with(name, [tm for tm, _ in found], schema) for name in order}
        waited_on = {n for needs in after.values() for n in needs}

        def size(name: str) -> int:
            return sum(src.path.stat().st_size for tm, src in found if tm.table == name)

        by_priority = sorted(order, key=lambda n: (n not in waited_on, -size(n)))
        scans = run_when_ready(
            con,
            {name: functools.partial(stage_table, name) for name in by_priority},
            after,
            workers,
            before=lambda name: None if name == PARENT else plans.ready(),
        )
        plans.ready()  # every file resolved, whichever tables read them
        patients.clear()  # every table is staged: what remains needs none of them
        # The manifest lists sources as the adapter declares them.
        accounts = [by_plan[i][0] for i in sorted(by_plan)]
        report_columns = [by_plan[i][1] for i in sorted(by_plan)]
        for rule, source in skipped_files:
            accounts.append(_skip_file(rule.reader or reader, source, rule))

        identifier_scan = identifier_verdict([scans[n] for n in order], allowed)
        for account in accounts:
            if account.table:  # files skipped whole feed no table
                table_rows[account.table] = table_rows.get(account.table, 0) + account.rows_mapped

        quarantine = failures.table()
        warning_table = warnings.table()
        pq.write_table(quarantine, stage / QUARANTINE, compression="zstd")
        pa_csv.write_csv(quarantine, stage / QUARANTINE_CSV)
        write_quarantine_xlsx(stage / QUARANTINE_XLSX, quarantine, warning_table)
        report = _report(
            adapter, submission_id, accounts, quarantine, warning_table, report_columns
        )
        write_json(stage / REPORT, report)
        manifest = {
            "manifest_version": MANIFEST_VERSION,
            "site": adapter.name,
            "country": adapter.country,
            "submission_id": submission_id,
            "schema": {"name": schema.name, "version": schema.version},
            "adapter": {"name": adapter.name, "version": adapter.version},
            "tool": {"name": "federate", "version": __version__},
            "created_utc": now.isoformat().replace("+00:00", "Z"),
            "operator": operator or getpass.getuser(),
            "pseudonym_key_id": key.key_id,
            "identifier_scan": identifier_scan,
            "sources": [vars(a) for a in accounts],
            "tables": {
                name: {"file": table_path(stage, name).relative_to(stage).as_posix(), "rows": rows}
                for name, rows in table_rows.items()
            },
            "quarantine": {"file": QUARANTINE, "rows": quarantine.num_rows},
        }
        manifest["files"] = seal(stage)
        write_json(stage / MANIFEST, manifest)
        # One signature over the manifest covers every file: it holds their SHA-256.
        write_json(
            stage / SIGNATURE,
            {
                "algorithm": "ed25519",
                "public_key": signing.public,
                "signature": signing.sign((stage / MANIFEST).read_bytes()),
            },
        )
    return IngestResult(out, manifest, report, quarantine, warning_table)


def _note_columns(
    plan: Plan, adapter: SiteAdapter, submission_id: str, warnings: Collector
) -> dict[str, Any]:
    """Unknown columns are ignored with a warning; identifying ones are listed as dropped."""
    tm, source = plan.tm, plan.source
    system = set(plan.facts.get("system_columns", "").split(","))
    extra = [c for c in unknown_columns(tm, plan.header) if c not in system]
    dropped = [h for h in plan.header if h.strip().lower() in {d.lower() for d in tm.dropped}]
    # Readers drop what the format flags as identifying (e.g. REDCap's Identifier? column).
    flagged = plan.facts.get("identifier_fields_dropped", "")
    dropped += [f for f in flagged.split(",") if f and f not in dropped]
    if extra:
        warnings.add(
            site=adapter.name,
            submission_id=submission_id,
            table=tm.table,
            source_file=source.relpath,
            part=source.part,
            rows=[1] * len(extra),
            column=None,
            shared_column=None,
            values=list(extra),
            reason="unknown-column",
            rule="column not declared by the adapter: ignored, never written",
            severity="warning",
        )
    return {
        "file": source.relpath,
        "part": source.part,
        "table": tm.table,
        "ignored_unknown": extra,
        "dropped_identifiers": dropped,
    }


def _map_source(
    plan: Plan,
    adapter: SiteAdapter,
    table: Table,
    submission_id: str,
    patients: Patients,
    con: duckdb.DuckDBPyConnection,
    writer: BackgroundWriter,
    checks: Checks,
    failures: Collector,
    warnings: Collector,
    progress: ProgressFn | None,
) -> tuple[SourceAccount, Outcome, TableMapper]:
    """Stream one source through its table map into the table's writer, with its accounting."""
    tm, source, reader = plan.tm, plan.source, adapter.reader
    reshaping = tm.keep is not None or tm.pivot is not None
    # After a pivot the columns carry their declared names.
    columns = {c: c for c in tm.source_columns()} if tm.pivot else plan.columns
    mapper = TableMapper(
        adapter,
        registry.schema(),
        table,
        tm,
        columns,
        source.relpath,
        submission_id,
        patients.pseudonymise,
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
    batches = stream(counted(reader.batches(source, rejects), counter), plan.header)
    reshape = reshape_sql(tm, plan.columns) if reshaping else None
    id_source = tm.subject.source if tm.subject else None
    run = Pass(
        con,
        registry.schema(),
        mapper,
        checks,
        writer,
        failures,
        warnings,
        date_column=_date_column(tm, table),
        id_column=columns.get(id_source) if id_source else None,
        settled=patients,
        progress=(lambda n: progress(source.relpath, n)) if progress else None,
    )
    try:
        outcome = run.run(batches, reshape)
    finally:
        mapper.con.close()
    _reject(rejects, adapter, submission_id, tm.table, source, failures)
    account.rows_read = counter.rows + len(rejects)
    account.rows_mapped = outcome.written
    account.rows_quarantined = outcome.failed + len(rejects) + sum(outcome.removed.values())
    account.rows_parent_quarantined = outcome.removed.get("parent-quarantined", 0)
    if outcome.merged:
        _add_skipped(account, "merged-into-record", outcome.merged)
    unkept = account.rows_read - account.rows_mapped - account.rows_quarantined - outcome.merged
    if unkept and tm.keep is not None:
        _add_skipped(account, tm.keep.reason, unkept)
    if not account.balanced():
        raise RuntimeError(f"row accounting does not add up for {account}")
    return account, outcome, mapper


def _add_skipped(account: SourceAccount, reason: str, n: int) -> None:
    account.rows_skipped += n
    account.skipped_reasons[reason] = account.skipped_reasons.get(reason, 0) + n


def _reject(
    rejects: list[Reject],
    adapter: SiteAdapter,
    submission_id: str,
    table: str,
    source: Source,
    failures: Collector,
) -> None:
    for reason, group in _group_rejects(rejects).items():
        failures.add(
            site=adapter.name,
            submission_id=submission_id,
            table=table,
            source_file=source.relpath,
            part=source.part,
            rows=[r.row for r in group],
            column=None,
            shared_column=None,
            values=None,
            reason=reason,
            rule="; ".join(sorted({r.detail for r in group})),
        )


def _skip_file(reader: Reader, source: Source, rule: SkipFiles) -> SourceAccount:
    """Count a file the schema has no place for: every row read and skipped, with the reason."""
    account = SourceAccount(source.relpath, "", reader.sha256(source), source.path.stat().st_size)
    rejects: list[Reject] = []
    rows = sum(b.num_rows for b in reader.batches(source, rejects)) + len(rejects)
    account.facts = reader.source_facts(source)
    account.rows_read = rows
    _add_skipped(account, rule.reason, rows)
    return account


def matching_files(export_dir: Path, pattern: str) -> list[Source]:
    return [
        Source(p, p.name)
        for p in sorted(export_dir.iterdir())
        if p.is_file() and fnmatch.fnmatch(p.name.lower(), pattern.lower())
    ]


def _joins_with(name: str, maps: list[TableMap], schema: Schema) -> list[str]:
    """The tables a table's pass joins with, which must be settled first: every table with the
    patients (subjects), and a table whose visits are assigned by window with the W0 dates
    (visits)."""
    present = {tm.table for tm in maps}
    first = next(tm for tm in maps if tm.table == name)
    wanted = [PARENT] if name != PARENT else []
    if _by_window(schema.table(name), first):
        wanted.append("visits")
    return [n for n in wanted if n in present and n != name]


def _by_window(table: Table, tm: TableMap) -> bool:
    # A visit the export does not name is assigned from the date, by window.
    return bool(table.visit_date) and "visit_code" not in tm.fields


def _date_column(tm: TableMap, table: Table) -> str | None:
    parser = tm.fields.get(table.visit_date or "")
    return parser.source if parser else None


@contextlib.contextmanager
def _connection(stage: Path, workers: int) -> Iterator[duckdb.DuckDBPyConnection]:
    """The ingest's DuckDB: bounded memory, spilling beside the stage (never inside it: the
    stage is sealed whole), and the cores shared between the tables staged at once: on two
    cores, a thread each ran 10M lab rows in 19.9 s instead of 20.8 s with 0.08 GB less."""
    spill = stage.parent / f"{stage.name}.spill"
    threads = max(1, _cores() // workers)
    con = duckdb.connect(
        config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill), "threads": threads}
    )
    try:
        yield con
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))  # the cores this process may use
    except AttributeError:  # not on every platform
        return os.cpu_count() or 1


MEMORY_LIMIT = "512MB"


def _apply(settlement: Settlement, accounts: list[SourceAccount]) -> None:
    """Move the rows the key rules removed from mapped to skipped or quarantined."""
    for (table, source, verdict), n in settlement.removed.items():
        account = next(a for a in accounts if a.table == table and a.path == source)
        account.rows_mapped -= n
        if ROW_COUNTS_AS[verdict] == "skipped":
            account.rows_skipped += n
            account.skipped_reasons[verdict] = account.skipped_reasons.get(verdict, 0) + n
        else:
            account.rows_quarantined += n
        if not account.balanced():
            raise RuntimeError(f"row accounting does not add up for {account}")
    settlement.removed.clear()


def _group_rejects(rejects: list[Reject]) -> dict[str, list[Reject]]:
    groups: dict[str, list[Reject]] = {}
    for reject in rejects:
        groups.setdefault(reject.reason, []).append(reject)
    return groups


def _counts(table: pa.Table, by: list[str]) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(by).aggregate([([], "count_all")])
    return sorted(grouped.to_pylist(), key=lambda r: [str(r[k]) for k in by])


def _report(
    adapter: SiteAdapter,
    submission_id: str,
    accounts: list[SourceAccount],
    quarantine: pa.Table,
    warnings: pa.Table,
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    quarantined_rows = (
        quarantine.select(["source_file", "source_row"])
        .group_by(["source_file", "source_row"])
        .aggregate([])
        .num_rows
        if quarantine.num_rows
        else 0
    )
    examples = quarantine.slice(0, 200).to_pylist()
    warning_examples = warnings.slice(0, 200).to_pylist()
    return {
        "site": adapter.name,
        "submission_id": submission_id,
        "sources": [vars(a) for a in accounts],
        "columns": columns,
        "quarantine": {
            "rows": quarantined_rows,
            "failures": quarantine.num_rows,
            "by_reason": _counts(quarantine, ["table", "reason"]),
            "examples": examples,
        },
        "warnings": {
            "count": warnings.num_rows,
            "by_reason": _counts(warnings, ["table", "reason", "shared_column"]),
            "examples": warning_examples,
        },
    }
