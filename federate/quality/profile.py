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
    for table in schema:
        if not files.get(table.name) or VISIT not in table.names:
            continue
        sql = (
            f"SELECT site, {VISIT}, count(DISTINCT subject_id) FROM {_read(files[table.name])} "
            f"WHERE {VISIT} IS NOT NULL GROUP BY ALL"
        )
        for site, visit, n in con.sql(sql).fetchall():
            seen[(site, table.name, visit)] = n
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
    value, source = sql_ident(column.name), _read(files)
    by = sql_ident(table.profile_by) if table.profile_by else "''"
    unit = "any_value(unit)" if table.profile_by and "unit" in table.names else "NULL"
    groups = con.sql(
        f"SELECT {by}, min({value}), max({value}), {unit} FROM {source} "
        f"WHERE {value} IS NOT NULL GROUP BY 1 ORDER BY 1"
    ).fetchall()
    return [
        _summarise(con, source, table, column, group, low, high, unit_of or column.unit or "")
        for group, low, high, unit_of in groups
    ]


def _summarise(
    con: duckdb.DuckDBPyConnection,
    source: str,
    table: Table,
    column: Column,
    group: str,
    low: float,
    high: float,
    unit: str,
) -> Distribution:
    value = sql_ident(column.name)
    where = f"{value} IS NOT NULL"
    if table.profile_by:
        where += f" AND {sql_ident(table.profile_by)} = {sql_str(group)}"
    start, stop = float(low), float(high)
    if stop <= start:  # one value only: a bin of width 1 around it
        start, stop = start - 0.5, stop + 0.5
    width = (stop - start) / BINS
    edges = [start + i * width for i in range(BINS + 1)]
    bin_of = f"least(greatest(floor(({value} - {start!r}) / {width!r}), 0), {BINS - 1})"
    rows = con.sql(
        f"SELECT site, count(*), min({value}), quantile_cont({value}, [0.25, 0.5, 0.75]), "
        f"max({value}), histogram({bin_of}) FROM {source} WHERE {where} GROUP BY site ORDER BY site"
    ).fetchall()
    per_site = {
        site: Summary(n, float(lo), float(q[0]), float(q[1]), float(q[2]), float(hi), _counts(hist))
        for site, n, lo, q, hi, hist in rows
    }
    return Distribution(
        table.name,
        column.name,
        group,
        unit,
        edges,
        per_site,
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
