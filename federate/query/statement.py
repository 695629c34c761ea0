"""What a query may be: exactly one SELECT (or WITH ... SELECT, FROM ..., PIVOT ... IN (...),
UNPIVOT, DESCRIBE, SUMMARIZE), as DuckDB's own parser classifies it, reading the role's
relations and a short list of table functions that open no file. Anything else is refused, in
the words of the SQL the user wrote (``PIVOT``, ``COPY``, ``SET``), not DuckDB's internal names.
"""

from __future__ import annotations

import re
from typing import Any

import duckdb

from federate.errors import UsageError
from federate.query.sqltree import syntax_tree

ALLOWED = "only a SELECT (or WITH ... SELECT, FROM ..., PIVOT ... IN (...), UNPIVOT, DESCRIBE)"

# DuckDB's statement kinds, in SQL words, where the statement's own first word is not at hand.
_KIND_WORDS = {
    "COPY_DATABASE": "EXPORT DATABASE / IMPORT DATABASE",
    "CREATE_FUNC": "CREATE MACRO / CREATE FUNCTION",
    "VARIABLE_SET": "SET VARIABLE",
    "MERGE_INTO": "MERGE INTO",
    "TRANSACTION": "BEGIN / COMMIT / ROLLBACK",
    "EXTENSION": "INSTALL / LOAD",
}
_FIRST_WORD = re.compile(r"(?:\s|--[^\n]*\n|/\*.*?\*/)*([A-Za-z]+)", re.S)


# Table functions that open no file and run no SQL text; every other one (read_parquet,
# read_csv, read_blob, glob, parquet_metadata, query, query_table, ...) is refused.
_TABLE_FUNCTIONS = frozenset(
    {
        "generate_series",
        "histogram",
        "histogram_values",
        "icu_calendar_names",
        "json_each",
        "json_tree",
        "pg_timezone_names",
        "range",
        "repeat",
        "repeat_row",
        "summary",
        "test_all_types",
        "test_vector_types",
        "unnest",
    }
)
_CATALOGUE_PREFIXES = ("duckdb_", "pragma_")  # the session's own catalogue and settings
_PATH_CHARS = frozenset("/\\.:")  # a relation name never has one; a file name does


def parse_select(sql: str) -> duckdb.Statement:
    """The single SELECT statement in ``sql``, reading relations only; anything else is a
    usage error."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise UsageError(first_line(exc), code="sql-syntax") from None
    if len(statements) != 1:
        raise UsageError(
            f"expected exactly one SQL statement, got {len(statements)}: a query may be {ALLOWED}",
            code="sql-refused",
        )
    kind = statements[0].type
    if kind != duckdb.StatementType.SELECT:
        raise UsageError(refusal(kind.name, statements[0].query), code="sql-refused")
    _check_reads(statements[0].query)
    return statements[0]


def refusal(kind: str, text: str = "") -> str:
    """Why a statement of DuckDB's ``kind`` is refused, in the words the user wrote it in
    (its first word: DuckDB files INSTALL under LOAD, CREATE MACRO under CREATE)."""
    if kind == "MULTI":  # DuckDB runs a PIVOT that does not list its values as several
        return (
            "a PIVOT must list the values it makes columns of, e.g. PIVOT mri ON visit_code "
            "IN ('W0', 'W4') USING count(*): without IN (...) it runs more than one "
            f"statement, which is not allowed. A query may be {ALLOWED}"
        )
    first = _FIRST_WORD.match(text)
    words = first.group(1).upper() if first else _KIND_WORDS.get(kind, kind.replace("_", " "))
    return f"{words} is not allowed: a query may be {ALLOWED}"


def _check_reads(sql: str) -> None:
    """Refuse a table function that may open a file or run SQL text, and a table name that
    is a path (DuckDB would read the file it names)."""
    pending: list[Any] = [syntax_tree(sql)]
    while pending:
        node = pending.pop()
        if isinstance(node, list):
            pending.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        pending.extend(node.values())
        kind = node.get("type")
        if kind == "TABLE_FUNCTION":
            function = node.get("function") or {}
            name = str(function.get("function_name", "")).lower()
            if name not in _TABLE_FUNCTIONS and not name.startswith(_CATALOGUE_PREFIXES):
                raise UsageError(
                    f"refused: queries may read only the role's relations, not the table "
                    f"function {name}()",
                    code="sql-refused",
                )
        elif kind in ("BASE_TABLE", "SHOW_REF"):
            name = str(node.get("table_name") or "")
            if _PATH_CHARS & set(name):
                raise UsageError(
                    f"refused: queries may read only the role's relations, not {name!r}",
                    code="sql-refused",
                )


def first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__
