"""SQL text for DuckDB: quoted strings, identifiers and typed literals."""

from __future__ import annotations

import datetime as dt


def sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def sql_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_literal(value: str | int | float | bool | dt.date | None) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return f"{value}::BIGINT"
    if isinstance(value, float):
        return f"{value!r}::DOUBLE"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    return sql_str(value)
