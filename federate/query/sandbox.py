"""Read-only SQL over the warehouse: the relations of one role, and nothing else.

Each shared table is a view over DuckDB's own ``read_parquet`` of the current submission of
every site - the blinded role's from the warehouse's blinded area, which holds no restricted
column (federate.warehouse.blind) - plus the role's views (federate.query.roles), ``code_labels``
(every code list's labels) and ``intake`` (each site's row accounting). Then external access is
switched off with exactly those files in ``allowed_paths``, and the configuration locked: SQL
cannot read any other file, attach databases, load extensions or change a setting.

``allowed_paths`` lets DuckDB write the files it names as well as read them, so two checks of
the statement stand in front of the session (federate.query.statement): only a single SELECT
(or WITH ... SELECT) is accepted, as DuckDB's own parser classifies it (no SELECT writes a
file), and its syntax tree may name relations and a short list of table functions that open no
file (so even the role's own files are read through its relations only). Results stream as
Arrow batches within the limits of federate.query.bounds: one deadline for the whole command,
DuckDB's memory limit (nothing spills to disk), and --max-rows / --max-bytes. With
``--min-cell`` the time limit covers the release as a table (federate.query.release),
suppression and audit included.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from federate.adapters import registry
from federate.bundle.manifest import MANIFEST, read_manifest, sha256_file
from federate.errors import IntegrityError, Location, UsageError
from federate.query.bounds import (
    BATCH_ROWS,
    Check,
    Deadline,
    Limits,
    checked_batches,
    collect,
    engine_errors,
    overtime,
    process_memory,
)
from federate.query.hints import explain
from federate.query.release import release
from federate.query.roles import Role, record_unblinded, views
from federate.query.secondary import Overtime
from federate.query.shape import Shape, refuse, shape_of
from federate.query.sqltree import CONFIG
from federate.query.statement import first_line, parse_select
from federate.schema import DType
from federate.warehouse.blind import blinded_schema, current_blinded_files
from federate.warehouse.catalog import current_table_files, read_catalog

_DUCKDB_TYPE = {
    DType.STRING: "VARCHAR",
    DType.INT: "BIGINT",
    DType.FLOAT: "DOUBLE",
    DType.DATE: "DATE",
    DType.BOOL: "BOOLEAN",
}

__all__ = ["Limits", "Session", "Stream", "connect", "execute", "open_query", "parse_select"]
__all__ += ["role_files", "run_query"]

# DuckDB reads a path holding one of these as a glob pattern.
_GLOB_CHARS = frozenset("*?[]{}")


@dataclass(frozen=True)
class Session:
    """A sandboxed connection of one role, and its limits."""

    con: duckdb.DuckDBPyConnection
    role: Role
    limits: Limits

    def run(self, sql: str) -> pa.Table:
        return execute(self, sql)


def role_files(wh: Path, role: Role = Role.BLINDED) -> dict[str, list[Path]]:
    """Per shared table, the role's Parquet files of the current submissions, each checked
    against the catalog (absolute, symbolic links resolved): the blinded role's files never
    held a restricted column."""
    catalog = read_catalog(wh)
    if role is Role.UNBLINDED:
        files = current_table_files(wh, catalog)
    else:
        files = current_blinded_files(wh, catalog)
    resolved = {name: [p.resolve() for p in paths] for name, paths in files.items()}
    for paths in resolved.values():
        for path in paths:
            if _GLOB_CHARS & set(str(path)):
                raise UsageError(
                    f"the warehouse path {path.parent} holds a glob character "
                    f"({' '.join(sorted(_GLOB_CHARS))}): move the warehouse to a plain path",
                    code="bad-warehouse-path",
                )
    return resolved


def _listed(files: list[Path]) -> str:
    return "[" + ", ".join(_sql_str(str(p)) for p in files) + "]"


def _file_columns(
    con: duckdb.DuckDBPyConnection, files: list[Path]
) -> dict[str, frozenset[tuple[Any, ...]]]:
    """Per file, its columns (name and Parquet types): one read of every footer."""
    found: dict[str, set[tuple[Any, ...]]] = {str(p): set() for p in files}
    if files:
        rows = con.execute(
            "SELECT file_name, name, type, converted_type, scale, precision, logical_type "
            f"FROM parquet_schema({_listed(files)}) WHERE num_children IS NULL"
        ).fetchall()
        for file_name, *column in rows:
            found[file_name].add(tuple(column))
    return {f: frozenset(c) for f, c in found.items()}


def _table_view(
    name: str, shape: list[tuple[str, str]], files: list[Path], columns: list[frozenset[Any]]
) -> str:
    """A view of exactly the shared columns, typed as the schema says, as the pyarrow
    dataset of the schema read them: a column no file has is NULL (an older submission), a
    file's other columns are not shown. Files of one layout are read as they are; files of
    different layouts by column name."""
    present = {column[0] for file in columns for column in file}
    select = ", ".join(
        f"CAST({_sql_ident(c) if c in present else 'NULL'} AS {t}) AS {_sql_ident(c)}"
        for c, t in shape
    )
    by_name = ", union_by_name = true" if len(set(columns)) > 1 else ""
    return (
        f"CREATE VIEW {_sql_ident(name)} AS SELECT {select} "
        f"FROM read_parquet({_listed(files)}{by_name})"
    )


def connect(
    wh: Path,
    role: Role = Role.BLINDED,
    limits: Limits | None = None,
    *,
    purpose: str = "query",
    operator: str | None = None,
) -> Session:
    """A sandboxed in-memory session that sees only the role's relations. An unblinded
    session is recorded in the warehouse's audit log (who, what for) before it opens."""
    limits = limits or Limits()
    files = role_files(wh, role)  # checks the warehouse before anything is logged
    if role is Role.UNBLINDED:
        record_unblinded(wh, purpose, operator)
    con = duckdb.connect(":memory:", config={**CONFIG, "memory_limit": limits.duckdb_memory})
    every_file = [p for paths in files.values() for p in paths]
    layouts = _file_columns(con, every_file)
    schema = registry.schema()
    for table in schema:
        full = schema.arrow_schema(table)
        shape = full if role is Role.UNBLINDED else blinded_schema(schema, table)
        paths = files[table.name]
        if not paths:  # no submission has it: empty, typed
            con.register(table.name, shape.empty_table())
            continue
        typed = [(f.name, _DUCKDB_TYPE[table.column(f.name).dtype]) for f in shape]
        con.execute(_table_view(table.name, typed, paths, [layouts[str(p)] for p in paths]))
    con.register("code_labels", _code_labels())
    con.register("intake", _intake(wh))
    for statement in views(role):
        con.execute(statement)
    # Exactly the role's files, and nothing else, from here on.
    con.execute(f"SET allowed_paths = {_listed(every_file)}")
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return Session(con, role, limits)


def _code_labels() -> pa.Table:
    rows = [
        {"table_name": t.name, "column_name": c.name, "code": code, "label": label}
        for t in registry.schema()
        for c in t.columns
        if not c.restricted
        for code, label in c.code_labels.items()
    ]
    names = ("table_name", "column_name", "code", "label")
    return pa.Table.from_pylist(rows, schema=pa.schema([(n, pa.string()) for n in names]))


_INTAKE_COUNTS = ("rows_read", "rows_mapped", "rows_quarantined", "rows_skipped")


def _intake(wh: Path) -> pa.Table:
    """Per current submission and source file, the row accounting of its manifest."""
    rows = []
    for sub in read_catalog(wh).current_submissions():
        manifest = wh / sub.path / MANIFEST
        if not manifest.is_file() or sha256_file(manifest) != sub.manifest_sha256:
            raise IntegrityError(
                f"submission {sub.submission_id} changed since it was published",
                code="warehouse-tampered",
                where=Location(file=f"{sub.path}/{MANIFEST}"),
            )
        for source in read_manifest(wh / sub.path).get("sources", []):
            rows.append(
                {
                    "site": sub.site,
                    "submission_id": sub.submission_id,
                    "table_name": source.get("table"),
                    "source_file": source.get("path"),
                    **{k: int(source.get(k) or 0) for k in _INTAKE_COUNTS},
                    "rows_parent_quarantined": int(source.get("rows_parent_quarantined") or 0),
                }
            )
    fields = [(n, pa.string()) for n in ("site", "submission_id", "table_name", "source_file")]
    fields += [(n, pa.int64()) for n in (*_INTAKE_COUNTS, "rows_parent_quarantined")]
    return pa.Table.from_pylist(rows, schema=pa.schema(fields))


@dataclass
class Stream:
    """A query's result on its way out: its schema, and its batches, each checked against
    the limits (federate.query.bounds) before it is handed on; ``check`` raises past the
    deadline, for whoever writes them."""

    schema: pa.Schema
    batches: Iterator[pa.RecordBatch]
    check: Check


def execute(session: Session, sql: str, *, deadline: Deadline | float | None = None) -> pa.Table:
    """Run one checked SELECT, whole; interrupted at the time limit (or at ``deadline``, a
    Deadline or a time.monotonic() instant). DuckDB errors are usage errors."""
    statement = parse_select(sql)
    if not isinstance(deadline, Deadline):
        deadline = Deadline(session.limits, deadline)
    with _streaming(session, statement, deadline) as (schema, batches):
        return collect(schema, batches)


@contextmanager
def _streaming(
    session: Session, statement: duckdb.Statement, deadline: Deadline
) -> Iterator[tuple[pa.Schema, Iterator[pa.RecordBatch]]]:
    """The statement's result as Arrow batches, fetched as they are read."""
    limits = session.limits
    with engine_errors(limits, deadline, _explainer(session)), deadline.interrupting(session.con):
        reader = session.con.sql(statement).to_arrow_reader(BATCH_ROWS)
        yield reader.schema, checked_batches(reader, limits, deadline)


@contextmanager
def open_query(
    sql: str,
    wh: Path,
    *,
    role: Role = Role.BLINDED,
    limits: Limits | None = None,
    min_cell: int | None = None,
    operator: str | None = None,
    whole_process: bool = False,
) -> Iterator[Stream]:
    """One SELECT in a fresh session of ``role``, its result streamed, within the time limit
    from start to the end of the block; with ``min_cell``, released as a table
    (federate.query.release): its shape is read from the SQL, and anything past the limit,
    suppression included, is refused. ``whole_process`` (a command's own process): the
    memory limit caps the process too, from the open session to the end of the block."""
    limits = limits or Limits()
    deadline = Deadline(limits)
    statement = parse_select(sql)  # refuse before opening anything
    table_shape = shape_of(sql) if min_cell is not None else None
    digest = hashlib.sha256(sql.encode()).hexdigest()
    session = connect(wh, role, limits, purpose=f"query sha256:{digest}", operator=operator)
    with ExitStack() as bounds:
        if whole_process:
            bounds.enter_context(process_memory(limits))
        bounds.callback(session.con.close)
        if table_shape is None or min_cell is None:
            with _streaming(session, statement, deadline) as (schema, batches):
                yield Stream(schema, batches, deadline.check)
            return
        names = _checked_names(session, sql, table_shape)
        result = execute(session, table_shape.sql, deadline=deadline)
        try:
            released = release(result, table_shape, names, min_cell, deadline.at)
        except Overtime:
            raise overtime(limits) from None
        yield Stream(released.schema, iter(released.to_batches()), deadline.check)


def run_query(
    sql: str,
    wh: Path,
    *,
    role: Role = Role.BLINDED,
    limits: Limits | None = None,
    min_cell: int | None = None,
    operator: str | None = None,
) -> pa.Table:
    """open_query's result as one table (bounded by the limits' --max-rows and --max-bytes)."""
    with open_query(
        sql, wh, role=role, limits=limits, min_cell=min_cell, operator=operator
    ) as result:
        return collect(result.schema, result.batches)


def _checked_names(session: Session, sql: str, table_shape: Shape) -> list[str]:
    """The query's column names (bound, not run). Where it was rewritten to show its totals,
    the rewrite must bind too, its first columns being the query's own."""
    with engine_errors(session.limits, explain=_explainer(session)):
        query = session.con.sql(parse_select(sql))
    if table_shape.sql != sql:
        try:
            types = session.con.sql(parse_select(table_shape.sql)).types
        except (duckdb.Error, UsageError) as exc:
            raise refuse(f"its rewrite to show totals does not bind: {first_line(exc)}") from None
        extra = [*table_shape.dims, *(m for m in table_shape.markers if m is not None)]
        if types[: table_shape.width] != query.types or len(types) <= max(extra, default=0):
            raise refuse("its rewrite to show totals does not keep its columns")
    return list(query.columns)


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _explainer(session: Session) -> Callable[[str], str]:
    """A failed query's message in the user's terms, with the session's own relations."""

    def explained(message: str) -> str:
        try:
            rows = session.con.sql("SELECT table_name FROM information_schema.tables").fetchall()
        except duckdb.Error:
            rows = []
        relations = [name for (name,) in rows]
        return explain(message, blinded=session.role is Role.BLINDED, relations=relations)

    return explained
