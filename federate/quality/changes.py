"""What changed since the site's previous submission, per table: rows added, removed and
changed, matched on the table's key. Pseudonyms made with the same key match; a previous
submission made with another key cannot be compared, and the report says so."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from federate.schema import PROVENANCE, Schema, Table
from federate.sqltext import sql_ident, sql_str


@dataclass(frozen=True)
class Change:
    table: str
    before: int
    after: int
    added: int
    removed: int
    changed: int


def compare(
    con: duckdb.DuckDBPyConnection,
    schema: Schema,
    new: Mapping[str, Path],
    old: Mapping[str, Path],
) -> list[Change]:
    return [_compare(con, table, new.get(table.name), old.get(table.name)) for table in schema]


def _compare(
    con: duckdb.DuckDBPyConnection, table: Table, new: Path | None, old: Path | None
) -> Change:
    # Provenance (which submission, file and record) differs in every resubmission by design:
    # a row changed when a value the trial records changed.
    values = [c for c in table.names if c not in PROVENANCE]
    key = ", ".join(sql_ident(c) for c in table.key)
    row = ", ".join(sql_ident(c) for c in values)
    n, o = _source(new, values), _source(old, values)
    sql = f"""
    WITH n AS (SELECT {key}, md5(CAST(struct_pack({row}) AS VARCHAR)) AS h FROM {n}),
         o AS (SELECT {key}, md5(CAST(struct_pack({row}) AS VARCHAR)) AS h FROM {o}),
         nk AS (SELECT {key}, list_sort(list(h)) AS hs FROM n GROUP BY ALL),
         ok AS (SELECT {key}, list_sort(list(h)) AS hs FROM o GROUP BY ALL)
    SELECT (SELECT count(*) FROM n), (SELECT count(*) FROM o),
           count(*) FILTER (WHERE ok.hs IS NULL),
           count(*) FILTER (WHERE nk.hs IS NULL),
           count(*) FILTER (WHERE nk.hs IS NOT NULL AND ok.hs IS NOT NULL AND nk.hs <> ok.hs)
    FROM nk FULL OUTER JOIN ok USING ({key})
    """
    ((after, before, added, removed, changed),) = con.sql(sql).fetchall()
    return Change(table.name, before, after, added, removed, changed)


def _source(path: Path | None, columns: list[str]) -> str:
    if path is None or not path.exists():
        nulls = ", ".join(f"NULL AS {sql_ident(c)}" for c in columns)
        return f"(SELECT {nulls} WHERE false)"
    return f"read_parquet({sql_str(str(path))})"
