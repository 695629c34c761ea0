"""Read-only SQL over the warehouse: the relations of one role, and nothing else.

Each shared table is registered as a pyarrow dataset over the current submission of every
site — the blinded role's from the warehouse's blinded area, which holds no restricted column
(federate.warehouse_blind) — plus the role's views (federate.roles), ``code_labels`` (every
code list's labels) and ``intake`` (each site's row accounting). Then external access is
switched off and the configuration locked: SQL cannot read or write files, attach databases,
load extensions or change a setting. On top, only a single SELECT (or WITH ... SELECT) is
accepted, as DuckDB's own parser classifies it; it is interrupted at the time limit and
refused past the memory limit (nothing spills to disk).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from federate import disclosure, registry, warehouse
from federate.bundle import MANIFEST, read_manifest, sha256_file
from federate.errors import IntegrityError, Location, UsageError
from federate.roles import Role, record_unblinded, views
from federate.warehouse_blind import blinded_schema

# Set before anything is registered; python_enable_replacements=false stops SQL from
# scanning Python variables by name; no temp directory: a query never writes to disk.
_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,
    "temp_directory": "",
}


@dataclass(frozen=True)
class Limits:
    seconds: float = 60.0
    memory: str = "2GB"


@dataclass(frozen=True)
class Session:
    """A sandboxed connection of one role, and its limits."""

    con: duckdb.DuckDBPyConnection
    role: Role
    limits: Limits

    def run(self, sql: str) -> pa.Table:
        return execute(self, sql)


def datasets(wh: Path, role: Role = Role.BLINDED) -> dict[str, ds.Dataset]:
    """Per shared table, a dataset over the role's files of the current submissions (empty,
    typed, if none): the blinded role's files never held a restricted column."""
    schema = registry.schema()
    catalog = warehouse.read_catalog(wh)
    if role is Role.UNBLINDED:
        files, shape = warehouse.current_table_files(wh, catalog), schema.arrow_schema
    else:
        files = warehouse.current_blinded_files(wh, catalog)
        shape = lambda table: blinded_schema(schema, table)  # noqa: E731
    return {
        t.name: ds.dataset([str(p) for p in files[t.name]], schema=shape(t), format="parquet")
        for t in schema
    }


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
    relations = datasets(wh, role)  # checks the warehouse before anything is logged
    if role is Role.UNBLINDED:
        record_unblinded(wh, purpose, operator)
    con = duckdb.connect(":memory:", config={**_CONFIG, "memory_limit": limits.memory})
    for name, dataset in relations.items():
        con.register(name, dataset)
    con.register("code_labels", _code_labels())
    con.register("intake", _intake(wh))
    for statement in views(role):
        con.execute(statement)
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
    for sub in warehouse.read_catalog(wh).current_submissions():
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


def parse_select(sql: str) -> duckdb.Statement:
    """The single SELECT statement in ``sql``; anything else is a usage error."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(_first_line(exc), code="sql-syntax") from None
    if len(statements) != 1:
        raise UsageError(
            f"expected exactly one SQL statement, got {len(statements)}", code="sql-refused"
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise UsageError(
            f"only a SELECT (or WITH ... SELECT) query is allowed, not {kind.name}",
            code="sql-refused",
        )
    return statements[0]


def execute(session: Session, sql: str) -> pa.Table:
    """Run one checked SELECT; interrupted at the time limit. DuckDB errors are usage errors."""
    statement = parse_select(sql)
    con, limits = session.con, session.limits
    timer = threading.Timer(limits.seconds, con.interrupt)
    timer.start()
    try:
        return con.sql(statement).to_arrow_table()
    except duckdb.InterruptException:
        raise UsageError(
            f"refused: the query ran past the time limit ({limits.seconds:g} s) and was stopped",
            code="sql-timeout",
        ) from None
    except duckdb.OutOfMemoryException:
        raise UsageError(
            f"refused: the query needs more than the memory limit ({limits.memory})",
            code="sql-memory",
        ) from None
    except duckdb.PermissionException as exc:
        raise UsageError(
            f"refused: queries may read only the role's relations ({_first_line(exc)})",
            code="sql-refused",
        ) from None
    except duckdb.Error as exc:
        raise UsageError(_first_line(exc), code="sql-error") from None
    finally:
        timer.cancel()


def run_query(
    sql: str,
    wh: Path,
    *,
    role: Role = Role.BLINDED,
    limits: Limits | None = None,
    min_cell: int | None = None,
    operator: str | None = None,
) -> pa.Table:
    """One SELECT in a fresh session of ``role``; with ``min_cell``, released as a table:
    integer columns are counts, floating ones statistics (federate.disclosure)."""
    parse_select(sql)  # refuse before opening anything
    digest = hashlib.sha256(sql.encode()).hexdigest()
    session = connect(wh, role, limits, purpose=f"query sha256:{digest}", operator=operator)
    result = execute(session, sql)
    if min_cell is None:
        return result
    rule = disclosure.inferred_rule(result)
    result = disclosure.complete(result, rule)
    return disclosure.apply(result, rule, disclosure.protect(result, rule, min_cell))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
