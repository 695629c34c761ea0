"""DuckDB's own reading of a query: its syntax tree as JSON (``json_serialize_sql``), a tree
written back as SQL (``json_deserialize_sql``), and which function names aggregate.

One locked in-memory connection does it all: nothing is bound or run, and it can open no file.
"""

from __future__ import annotations

import json
import threading
from typing import Any

import duckdb

from federate.errors import UsageError

# Set before anything is registered; python_enable_replacements=false stops SQL from
# scanning Python variables by name; no temp directory: a query never writes to disk.
CONFIG: dict[str, str | bool | int | float | list[str]] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
    "allow_community_extensions": False,
    "python_enable_replacements": False,
    "temp_directory": "",
}

_lock = threading.Lock()
_parser: duckdb.DuckDBPyConnection | None = None
_functions: tuple[frozenset[str], frozenset[str]] | None = None


def _connection() -> duckdb.DuckDBPyConnection:
    """The parser's connection (call with the lock held)."""
    global _parser
    if _parser is None:
        _parser = duckdb.connect(":memory:", config={**CONFIG, "memory_limit": "64MB"})
        _parser.execute("SET enable_external_access = false")
        _parser.execute("SET lock_configuration = true")
    return _parser


def syntax_tree(sql: str) -> dict[str, Any]:
    """DuckDB's own parse of a SELECT, as JSON (no relation is bound, nothing is run)."""
    with _lock:
        row = _connection().execute("SELECT json_serialize_sql($sql)", {"sql": sql}).fetchone()
    tree: dict[str, Any] = json.loads(row[0]) if row else {"error": True}
    if tree.get("error"):
        raise UsageError(
            f"refused: the query cannot be checked ({tree.get('error_message', 'no parse')})",
            code="sql-refused",
        )
    return tree


def sql_of(tree: dict[str, Any]) -> str:
    """A syntax tree written back as SQL, by DuckDB."""
    with _lock:
        row = (
            _connection()
            .execute("SELECT json_deserialize_sql($tree::JSON)", {"tree": json.dumps(tree)})
            .fetchone()
        )
    return str(row[0]) if row else ""


def functions() -> tuple[frozenset[str], frozenset[str]]:
    """(scalar, aggregating) function names. A macro may aggregate (weighted_avg, geomean), so
    every macro counts as aggregating; a name that is both is aggregating."""
    global _functions
    with _lock:
        if _functions is None:
            rows = (
                _connection()
                .execute("SELECT function_name, function_type FROM duckdb_functions()")
                .fetchall()
            )
            aggregating = {str(n).lower() for n, t in rows if t in ("aggregate", "macro")}
            scalar = {str(n).lower() for n, t in rows if t == "scalar"} - aggregating
            _functions = (frozenset(scalar), frozenset(aggregating))
        return _functions
