"""Whole-submission rules, run once every table is staged: visits by window, natural keys and
referential integrity. Each is one DuckDB pass over the staged Parquet files, so it scales with
the export like the rest of the engine.

* Visits: an assessment whose export does not name its visit gets the one whose window (days
  from the patient's W0 visit) holds its date; outside every window it is UNS, with a warning.
* Natural keys: rows identical on every column are kept once (the others are skipped with the
  declared reason ``exact-duplicate``); rows that share a key but differ are quarantined
  together (``conflicting-key``).
* Referential integrity: a row whose patient is not in the submission's subjects is quarantined
  (``unknown-subject``); the rows of a quarantined patient are held too (``parent-quarantined``),
  counted apart, so the pool never holds orphans.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from federate.adapter import SiteAdapter, sql_ident, sql_str
from federate.bundle import parquet_writer, table_path
from federate.quarantine import Collector
from federate.schema import PROVENANCE, Schema, Table

PARENT = "subjects"
ROW_COUNTS_AS = {
    "exact-duplicate": "skipped",
    "conflicting-key": "quarantined",
    "unknown-subject": "quarantined",
    "parent-quarantined": "quarantined",
}


@dataclass
class Settlement:
    """What the whole-submission rules removed, per (table, source file, verdict)."""

    removed: dict[tuple[str, str, str], int] = field(default_factory=dict)


def window_sql(windows: dict[str, tuple[int, int]]) -> str:
    whens = " ".join(
        f"WHEN __day BETWEEN {lo} AND {hi} THEN {sql_str(code)}"
        for code, (lo, hi) in windows.items()
    )
    return f"CASE {whens} ELSE 'UNS' END"


class Settler:
    def __init__(
        self,
        con: duckdb.DuckDBPyConnection,
        stage: Path,
        schema: Schema,
        adapter: SiteAdapter,
        submission_id: str,
        failures: Collector,
        warnings: Collector,
        id_columns: dict[str, str],
    ):
        self.con = con
        self.stage = stage
        self.schema = schema
        self.adapter = adapter
        self.submission_id = submission_id
        self.failures = failures
        self.warnings = warnings
        self.id_columns = id_columns  # table -> the site's patient id column
        self.result = Settlement()

    def _path(self, table: str) -> Path:
        return table_path(self.stage, table)

    def _scan(self, table: str) -> str:
        return f"read_parquet({sql_str(str(self._path(table)))})"

    def run(
        self,
        tables: Iterable[str],
        by_window: set[str],
        held: set[str],
        windows: dict[str, tuple[int, int]],
    ) -> Settlement:
        staged = [t for t in tables if self._path(t).exists()]
        # Parents first, then tables that W0 dates come from, then assessments by window.
        order = sorted(staged, key=lambda t: (t != PARENT, t in by_window))
        has_subjects = PARENT in staged
        for name in order:
            if name in by_window:
                self._assign_visits(self.schema.table(name), windows)
            self._settle(self.schema.table(name), held if has_subjects else None)
        return self.result

    def _assign_visits(self, table: Table, windows: dict[str, tuple[int, int]]) -> None:
        date = sql_ident(table.visit_date or "")
        baseline = (
            f"SELECT subject_id, min(visit_date) AS __w0 FROM {self._scan('visits')} "
            "WHERE visit_code = 'W0' GROUP BY subject_id"
            if self._path("visits").exists()
            else "SELECT NULL::VARCHAR AS subject_id, NULL::DATE AS __w0 WHERE false"
        )
        sql = (
            f"WITH b AS ({baseline}), t AS (SELECT x.*, date_diff('day', b.__w0, x.{date}) "
            f"AS __day, b.__w0 IS NULL AS __no_w0 FROM {self._scan(table.name)} x "
            f"LEFT JOIN b USING (subject_id)) "
            f"SELECT * EXCLUDE (__day) REPLACE ({window_sql(windows)} AS visit_code) FROM t"
        )
        self.con.execute(f"CREATE OR REPLACE TEMP TABLE __assigned AS {sql}")
        for no_w0, reason, rule in (
            (True, "no-baseline-visit", "the patient has no W0 visit: the visit is UNS"),
            (False, "outside-visit-windows", "the date is outside every visit window: UNS"),
        ):
            rows = self.con.sql(
                f"SELECT source_file, source_row, CAST({date} AS VARCHAR) AS v FROM __assigned "
                f"WHERE visit_code = 'UNS' AND __no_w0 = {no_w0}"
            ).to_arrow_table()
            self._record(
                self.warnings,
                table,
                rows,
                self._date_column(table),
                table.visit_date,
                reason,
                rule,
                "warning",
            )
        self._rewrite(table, "SELECT * EXCLUDE (__no_w0) FROM __assigned")
        self.con.execute("DROP TABLE __assigned")

    def _date_column(self, table: Table) -> str | None:
        tm = self.adapter.table_map(table.name)
        parser = tm.fields.get(table.visit_date or "")
        return parser.source if parser else None

    def _settle(self, table: Table, held: set[str] | None) -> None:
        content = [c for c in table.names if c not in PROVENANCE]
        key = ", ".join(sql_ident(k) for k in table.key)
        h = f"hash({', '.join(sql_ident(c) for c in content)})"
        parent = ""
        if table.per_subject and table.name != PARENT and held is not None:
            self.con.register(
                "__held", pa.table({"subject_id": pa.array(sorted(held), pa.string())})
            )
            parent = (
                f"WHEN subject_id NOT IN (SELECT subject_id FROM {self._scan(PARENT)}) THEN "
                "CASE WHEN subject_id IN (SELECT subject_id FROM __held) "
                "THEN 'parent-quarantined' ELSE 'unknown-subject' END "
            )
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE __judged AS "
            f"WITH x AS (SELECT *, {h} AS __h FROM {self._scan(table.name)}), "
            f"y AS (SELECT *, min(__h) OVER k <> max(__h) OVER k AS __conflict, "
            f"row_number() OVER (PARTITION BY {key}, __h ORDER BY source_file, source_row) "
            f"AS __n FROM x WINDOW k AS (PARTITION BY {key})) "
            f"SELECT * EXCLUDE (__h, __conflict, __n), CASE WHEN __conflict THEN "
            f"'conflicting-key' WHEN __n > 1 THEN 'exact-duplicate' {parent}END AS __verdict "
            f"FROM y"
        )
        if parent:
            self.con.unregister("__held")
        judged = self.con.sql(
            "SELECT __verdict, source_file, source_row, subject_id FROM __judged "
            "WHERE __verdict IS NOT NULL"
        ).to_arrow_table()
        if judged.num_rows == 0:
            self.con.execute("DROP TABLE __judged")
            return
        key_text = " + ".join(table.key)
        rules = {
            "conflicting-key": f"rows sharing the key ({key_text}) must agree",
            "exact-duplicate": f"an exact repeat of an earlier row (key {key_text}): kept once",
            "unknown-subject": f"the patient is not in the submission's {PARENT}",
            "parent-quarantined": f"the patient's {PARENT} row is quarantined",
        }
        for verdict, rule in rules.items():
            rows = judged.filter(pa.compute.equal(judged.column("__verdict"), verdict))
            if rows.num_rows == 0:
                continue
            severity = "warning" if verdict == "exact-duplicate" else "error"
            sink = self.warnings if severity == "warning" else self.failures
            column = (
                None
                if verdict.endswith("key") or verdict.startswith("exact")
                else (self.id_columns.get(table.name))
            )
            self._record(
                sink, table, rows, column, "subject_id" if column else None, verdict, rule, severity
            )
            for source, n in zip(*self._count_by_source(rows), strict=True):
                slot = (table.name, source, verdict)
                self.result.removed[slot] = self.result.removed.get(slot, 0) + n
            if table.name == PARENT and verdict == "conflicting-key" and held is not None:
                # Their other rows are then held as parent-quarantined.
                held.update(rows.column("subject_id").drop_null().to_pylist())
        self._rewrite(table, "SELECT * EXCLUDE (__verdict) FROM __judged WHERE __verdict IS NULL")
        self.con.execute("DROP TABLE __judged")

    @staticmethod
    def _count_by_source(rows: pa.Table) -> tuple[list[str], list[int]]:
        counts = rows.group_by("source_file").aggregate([([], "count_all")])
        return counts.column("source_file").to_pylist(), counts.column("count_all").to_pylist()

    def _record(
        self,
        sink: Collector,
        table: Table,
        rows: pa.Table,
        column: str | None,
        shared: str | None,
        reason: str,
        rule: str,
        severity: str,
    ) -> None:
        if rows.num_rows == 0:
            return
        for source in set(rows.column("source_file").to_pylist()):
            part = rows.filter(pa.compute.equal(rows.column("source_file"), source))
            values = part.column("v").combine_chunks() if "v" in part.column_names else None
            sink.add(
                part=self._part(table.name, source),
                site=self.adapter.name,
                submission_id=self.submission_id,
                table=table.name,
                source_file=source,
                rows=part.column("source_row").combine_chunks(),
                column=column,
                shared_column=shared,
                values=values,
                reason=reason,
                rule=rule,
                severity=severity,
            )

    def _part(self, table: str, source: str) -> str | None:
        for tm in self.adapter.tables:
            if tm.table == table and tm.file.lower() == source.lower():
                return tm.part
        return None

    def _rewrite(self, table: Table, sql: str) -> None:
        path = self._path(table.name)
        tmp = path.with_suffix(".settling")
        schema = self.schema.arrow_schema(table)
        reader = self.con.sql(
            f"SELECT {', '.join(sql_ident(c) for c in table.names)} FROM ({sql}) "
            "ORDER BY source_file, source_row"
        ).to_arrow_reader(1 << 17)
        with parquet_writer(tmp, schema) as writer:
            for batch in reader:
                writer.write_table(pa.Table.from_batches([batch]).cast(schema))
        os.replace(tmp, path)
