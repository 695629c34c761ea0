"""Quarantine and warning records: one row per (source row, column, rule) that failed.

Values are the site's own, as exported, so a coordinator can find and fix them; values of
restricted columns (which would reveal allocation) are masked, and a malformed record's raw text
is never kept (it may hold identifiers the adapter would have dropped).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

MASK = "(restricted)"

QUARANTINE_SCHEMA = pa.schema(
    [
        pa.field("site", pa.string(), nullable=False),
        pa.field("submission_id", pa.string(), nullable=False),
        pa.field("table", pa.string(), nullable=False),
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("part", pa.string()),  # the sheet, form or item group within the file
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("column", pa.string()),  # the site's own column name
        pa.field("shared_column", pa.string()),
        pa.field("value", pa.string()),
        pa.field("reason", pa.string(), nullable=False),  # stable, kebab-case
        pa.field("rule", pa.string(), nullable=False),
        pa.field("severity", pa.string(), nullable=False),  # error (quarantined) or warning
    ]
)


class Collector:
    """Gathers failure records as columns (never row by row) and builds one Arrow table."""

    def __init__(self) -> None:
        self._parts: list[pa.Table] = []

    def add(
        self,
        *,
        site: str,
        submission_id: str,
        table: str,
        source_file: str,
        rows: pa.Array | list[int],
        column: str | None,
        shared_column: str | None,
        values: pa.Array | list[str | None] | None,
        reason: str,
        rule: str,
        severity: str = "error",
        restricted: bool = False,
        part: str | None = None,
    ) -> None:
        n = len(rows)
        if n == 0:
            return
        if values is None or restricted:
            value_array = pa.repeat(pa.scalar(MASK if restricted else None, pa.string()), n)
        else:
            value_array = pa.array(values, pa.string()) if isinstance(values, list) else values
        consts = {
            "site": site,
            "submission_id": submission_id,
            "table": table,
            "source_file": source_file,
            "part": part,
        }
        arrays = [pa.repeat(pa.scalar(consts[f], pa.string()), n) for f in consts]
        arrays += [
            pa.array(rows, pa.int64()) if isinstance(rows, list) else rows.cast(pa.int64()),
            pa.repeat(pa.scalar(column, pa.string()), n),
            pa.repeat(pa.scalar(shared_column, pa.string()), n),
            value_array.cast(pa.string()),
            pa.repeat(pa.scalar(reason, pa.string()), n),
            pa.repeat(pa.scalar(rule, pa.string()), n),
            pa.repeat(pa.scalar(severity, pa.string()), n),
        ]
        self._parts.append(pa.Table.from_arrays(arrays, schema=QUARANTINE_SCHEMA))

    def table(self) -> pa.Table:
        if not self._parts:
            return QUARANTINE_SCHEMA.empty_table()
        return pa.concat_tables(self._parts).sort_by(
            [("table", "ascending"), ("source_file", "ascending"), ("source_row", "ascending")]
        )

    def first(self, source_file: str, n: int) -> list[str]:
        """The first ``n`` records of ``source_file`` gathered, as "row R, column C: reason
        (rule)" (values left out: this is for a message)."""
        found: list[str] = []
        for part in self._parts:
            for rec in (
                part.filter(pc.equal(part["source_file"], source_file))
                .slice(0, n - len(found))
                .to_pylist()
            ):
                column = f", column {rec['column']!r}" if rec["column"] else ""
                found.append(f"row {rec['source_row']}{column}: {rec['reason']} ({rec['rule']})")
            if len(found) >= n:
                break
        return found
