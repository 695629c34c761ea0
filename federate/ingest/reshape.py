"""Row selection and long-to-wide pivots, run by DuckDB over a reader's whole stream (a pivot
must see every row of a group, wherever the reader's batches split them)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import TableMap
from federate.readers.base import ROW_COLUMN
from federate.sqltext import sql_ident, sql_str

MERGED = "__merged"  # rows of a pivot group beyond the first: counted as skipped
# A patient the subjects table skipped with a declared reason: their status (and verdict) is
# this prefix and the reason, and every other row of theirs is skipped with it.
SKIPPED = "skipped:"


@dataclass
class Counter:
    rows: int = 0


def counted(batches: Iterator[pa.RecordBatch], counter: Counter) -> Iterator[pa.RecordBatch]:
    for batch in batches:
        counter.rows += batch.num_rows
        yield batch


def stream(batches: Iterator[pa.RecordBatch], header: list[str]) -> pa.RecordBatchReader:
    """The reader's batches as one Arrow stream (its schema from the first batch)."""
    first = next(batches, None)
    if first is None:
        schema = pa.schema([*(pa.field(h, pa.string()) for h in header), (ROW_COLUMN, pa.int64())])
        return pa.RecordBatchReader.from_batches(schema, iter(()))

    def chained() -> Iterator[pa.RecordBatch]:
        yield first
        yield from batches

    return pa.RecordBatchReader.from_batches(first.schema, chained())


def reshape_sql(tm: TableMap, columns: dict[str, str]) -> str:
    """SQL over ``stream``: keep the table's rows, then pivot; output columns carry the
    declared names."""
    where = f"WHERE {tm.keep.sql(sql_ident(columns[tm.keep.column]))}" if tm.keep else ""
    if tm.pivot is None:
        return f"SELECT * FROM stream {where}"
    p = tm.pivot
    name, value = sql_ident(columns[p.name]), sql_ident(columns[p.value])
    by = [f"{sql_ident(columns[c])} AS {sql_ident(c)}" for c in p.by]
    carry = [f"any_value({sql_ident(columns[c])}) AS {sql_ident(c)}" for c in p.carry]
    tests = [
        # A test code matches ignoring case, as every code does.
        f"max(CASE WHEN upper(trim(CAST({name} AS VARCHAR))) = {sql_str(t.upper())} "
        f"THEN {value} END) AS {sql_ident(t)}"
        for t in p.tests
    ]
    group = ", ".join(sql_ident(columns[c]) for c in p.by)
    return (
        f"SELECT {', '.join([*by, *carry, *tests])}, min({sql_ident(ROW_COLUMN)}) AS "
        f"{sql_ident(ROW_COLUMN)}, count(*) - 1 AS {MERGED} FROM stream {where} "
        f"GROUP BY {group} ORDER BY {sql_ident(ROW_COLUMN)}"
    )


def reshaped(
    con: duckdb.DuckDBPyConnection,
    tm: TableMap,
    columns: dict[str, str],
    source: pa.RecordBatchReader,
    batch_rows: int = 1 << 17,
) -> Iterator[pa.RecordBatch]:
    con.register("stream", source)
    try:
        yield from con.sql(reshape_sql(tm, columns)).to_arrow_reader(batch_rows)
    finally:
        con.unregister("stream")


def without_skipped_patients(rows: pa.Table, verdict: str) -> tuple[pa.Table, dict[str, int]]:
    """``rows`` without those of patients the subjects table skipped (their ``verdict`` is
    ``SKIPPED`` and the reason), and how many records each reason skips (with the records
    merged into them): skipped before any rule, never quarantined."""
    skipped = pc.fill_null(pc.starts_with(rows.column(verdict), SKIPPED), False)
    if not pc.any(skipped).as_py():
        return rows, {}
    hit = rows.filter(skipped)
    counts = pa.repeat(1, hit.num_rows)
    if MERGED in hit.column_names:
        counts = pc.add(counts, hit.column(MERGED))
    by = pa.table({"v": hit.column(verdict), "n": counts}).group_by("v").aggregate([("n", "sum")])
    reasons = [v.removeprefix(SKIPPED) for v in by.column("v").to_pylist()]
    return rows.filter(pc.invert(skipped)), dict(
        zip(reasons, by.column("n_sum").to_pylist(), strict=True)
    )
