"""What the data look like, per site: completeness by visit and the distributions of the key
values the schema names (``Table.profile``), computed by DuckDB straight from the Parquet files,
so a bundle of one site and a pool of six are profiled by the same few queries."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from federate.schema import Column, DType, Schema, Table
from federate.sqltext import sql_ident, sql_str

BINS = 24
VISIT = "visit_code"
Files = Mapping[str, Sequence[Path]]  # shared table -> its Parquet files (one per site)


@dataclass(frozen=True)
class Visits:
    """Patients with at least one row per table and visit, against the patients expected."""

    visits: list[str]  # in protocol order
    expected: dict[str, int]  # site -> patients randomised (or enrolled, without randomisation)
    seen: dict[tuple[str, str, str], int]  # (site, table, visit) -> patients with a row

    def tables(self) -> list[str]:
        return sorted({table for _, table, _ in self.seen})


@dataclass(frozen=True)
class Summary:
    n: int
    low: float
    q1: float
    median: float
    q3: float
    high: float
    counts: list[int]  # per bin of the distribution's shared edges


@dataclass(frozen=True)
class Distribution:
    """One key value (one analyte of a long table), summarised per site on shared bins."""

    table: str
    column: str
    group: str  # the analyte, or "" for a plain column
    unit: str
    edges: list[float]
    per_site: dict[str, Summary]
    hard: tuple[float | None, float | None]  # impossible outside (quarantined)
    soft: tuple[float | None, float | None]  # implausible outside (a warning)
    title: str = field(default="")


def _read(files: Sequence[Path]) -> str:
    listed = ", ".join(sql_str(str(p)) for p in files)
    return f"read_parquet([{listed}], union_by_name = true)"


def completeness(con: duckdb.DuckDBPyConnection, files: Files, schema: Schema) -> Visits:
    expected_from = "randomisation" if files.get("randomisation") else "subjects"
    expected: dict[str, int] = {}
    if files.get(expected_from):
        source = _read(files[expected_from])
        sql = f"SELECT site, count(DISTINCT subject_id) FROM {source} GROUP BY site"
        expected = {site: n for site, n in con.sql(sql).fetchall()}
    seen: dict[tuple[str, str, str], int] = {}
    parts = [
        f"SELECT site, {sql_str(table.name)}, {VISIT}, count(DISTINCT subject_id) "
        f"FROM {_read(files[table.name])} WHERE {VISIT} IS NOT NULL GROUP BY ALL"
        for table in schema
        if files.get(table.name) and VISIT in table.names
    ]
    if parts:  # one query: DuckDB reads the tables side by side
        for site, name, visit, n in con.sql(" UNION ALL ".join(parts)).fetchall():
            seen[(site, name, visit)] = n
    order = list(schema.visit_windows)
    visits = sorted(
        {v for _, _, v in seen}, key=lambda v: (order.index(v) if v in order else 99, v)
    )
    return Visits(visits, expected, seen)


def distributions(
    con: duckdb.DuckDBPyConnection, files: Files, schema: Schema
) -> list[Distribution]:
    out = []
    for table in schema:
        if not files.get(table.name):
            continue
        for name in table.profile:
            column = table.column(name)
            if column.restricted or column.dtype not in (DType.INT, DType.FLOAT):
                continue  # a restricted value may reveal allocation: never drawn
            out += _profile(con, files[table.name], table, column)
    return out


def _profile(
    con: duckdb.DuckDBPyConnection, files: Sequence[Path], table: Table, column: Column
) -> list[Distribution]:
    """One query per column: each group's range (an analyte's), then every site's summary on
    that group's bins (one bin of width 1 around a value that is alone)."""
    value = sql_ident(column.name)
    by = sql_ident(table.profile_by) if table.profile_by else "''"
    unit = "any_value(unit)" if table.profile_by and "unit" in table.names else "NULL"
    rows = con.sql(
        f"""WITH v AS (SELECT site, {by} AS g, {value} AS x FROM {_read(files)}
                       WHERE {value} IS NOT NULL),
        r AS (SELECT g, min(x) - CASE WHEN min(x) = max(x) THEN 0.5 ELSE 0 END AS lo,
                     max(x) + CASE WHEN min(x) = max(x) THEN 0.5 ELSE 0 END AS hi
              FROM v GROUP BY g),
        u AS (SELECT {by} AS g, {unit} AS unit FROM {_read(files)} GROUP BY 1)
        SELECT g, any_value(r.lo), any_value(r.hi), any_value(u.unit), site, count(*), min(x),
               quantile_cont(x, [0.25, 0.5, 0.75]), max(x),
               histogram(least(greatest(floor((x - r.lo) / ((r.hi - r.lo) / {BINS})), 0),
                               {BINS - 1}))
        FROM v JOIN r USING (g) LEFT JOIN u USING (g) GROUP BY g, site ORDER BY g, site"""
    ).fetchall()
    out: dict[str, Distribution] = {}
    for g, lo, hi, unit_of, site, n, low, q, high, hist in rows:
        if g not in out:
            out[g] = _distribution(table, column, g, float(lo), float(hi), unit_of)
        out[g].per_site[site] = Summary(
            n, float(low), float(q[0]), float(q[1]), float(q[2]), float(high), _counts(hist)
        )
    return list(out.values())


def _distribution(
    table: Table, column: Column, group: str, start: float, stop: float, unit: str | None
) -> Distribution:
    width = (stop - start) / BINS
    return Distribution(
        table.name,
        column.name,
        group,
        unit or column.unit or "",
        [start + i * width for i in range(BINS + 1)],
        {},
        (_num(column.min), _num(column.max)),
        (_num(column.warn_min), _num(column.warn_max)),
        title=f"{table.name}.{column.name}" + (f" ({group})" if group else ""),
    )


def _counts(hist: Mapping[Any, int]) -> list[int]:
    counts = [0] * BINS
    for index, n in hist.items():
        counts[int(index)] += n
    return counts


def _num(bound: object) -> float | None:
    return float(bound) if isinstance(bound, int | float) else None
