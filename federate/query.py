"""Read-only SQL over the warehouse: one DuckDB relation per shared table, nothing else.

Each shared table is registered as a pyarrow dataset over the current submission of every
site (so SQL never needs a file path), then external access is switched off and the
configuration locked: SQL cannot read or write files, attach databases, load extensions or
change a setting. On top, only a single SELECT (or WITH ... SELECT) is accepted, as DuckDB's
own parser classifies it.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from federate import registry, warehouse
from federate.errors import UsageError

# Set before anything is registered; python_enable_replacements=false stops SQL from
# scanning Python variables by name.
_CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,
}


def datasets(wh: Path) -> dict[str, ds.Dataset]:
    """Per shared table, a dataset over the current submissions (empty, typed, if none)."""
    schema = registry.schema()
    files = warehouse.current_table_files(wh)
    return {
        t.name: ds.dataset(
            [str(p) for p in files[t.name]], schema=schema.arrow_schema(t), format="parquet"
        )
        for t in schema
    }


def connect(wh: Path) -> duckdb.DuckDBPyConnection:
    """A sandboxed in-memory connection that sees only the shared tables."""
    con = duckdb.connect(":memory:", config=_CONFIG)
    for name, dataset in datasets(wh).items():
        con.register(name, dataset)
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")
    return con


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


def execute(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    """Run one checked SELECT on a sandboxed connection; DuckDB errors become usage errors."""
    statement = parse_select(sql)
    try:
        return con.sql(statement).to_arrow_table()
    except duckdb.PermissionException as exc:
        raise UsageError(
            f"refused: queries may read only the shared tables ({_first_line(exc)})",
            code="sql-refused",
        ) from None
    except duckdb.Error as exc:
        raise UsageError(_first_line(exc), code="sql-error") from None


def run_query(sql: str, wh: Path) -> pa.Table:
    parse_select(sql)  # refuse before opening anything
    return execute(connect(wh), sql)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
