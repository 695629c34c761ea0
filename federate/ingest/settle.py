"""Whole-submission rules, settled table by table as each is staged (parents first).

* Visits by window and referential integrity are joined into the streaming pass
  (federate.ingest.streaming): this module fills what it joins with - each patient of the settled
  subjects table, accepted or held (``__ids``), and each patient's W0 date (``__w0``).
* Natural keys: rows identical on every column are kept once (the others are skipped with the
  declared reason ``exact-duplicate``); rows that share a key but differ are quarantined
  together (``conflicting-key``). One aggregate over the staged keys finds the repeated ones;
  only their rows are judged, and a table is rewritten only when a row goes.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pyarrow as pa

from federate.adapters.declaration import SiteAdapter
from federate.bundle.manifest import parquet_writer, table_path
from federate.ingest.pass_sql import PARENT
from federate.ingest.quarantine import Collector
from federate.ingest.reshape import SKIPPED
from federate.schema import PROVENANCE, Schema, Table
from federate.sqltext import sql_ident, sql_str

ROW_COUNTS_AS = {
    "exact-duplicate": "skipped",
    "conflicting-key": "quarantined",
    "unknown-subject": "quarantined",
    "parent-quarantined": "quarantined",
}


_IDS = pa.schema([("local_id", pa.string()), ("subject_id", pa.string())])


@dataclass
class Settlement:
    """What the whole-submission rules removed, per (table, source file, verdict)."""

    removed: dict[tuple[str, str, str], int] = field(default_factory=dict)


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
    ):
        self.con = con
        self.stage = stage
        self.schema = schema
        self.adapter = adapter
        self.submission_id = submission_id
        self.failures = failures
        self.warnings = warnings
        self.result = Settlement()

    def _path(self, table: str) -> Path:
        return table_path(self.stage, table)

    def _scan(self, table: str) -> str:
        return f"read_parquet({sql_str(str(self._path(table)))})"

    def parents(self, seen: list[pa.Table], held: set[str]) -> None:
        """Fill ``__ids`` from the settled subjects table: a patient it holds is accepted; one
        whose rows were all quarantined is held, so their other rows are held too."""
        ids = pa.concat_tables(seen) if seen else _IDS.empty_table()
        self.con.register(
            "__seen", ids.cast(pa.schema([("local_id", pa.string()), ("subject_id", pa.string())]))
        )
        self.con.register("__held", pa.table({"subject_id": pa.array(sorted(held), pa.string())}))
        try:
            self.con.execute(
                f"INSERT INTO __ids SELECT s.local_id, any_value(s.subject_id), "
                f"CASE WHEN bool_or(a.subject_id IS NOT NULL) THEN 'ok' ELSE 'held' END "
                f"FROM __seen s LEFT JOIN (SELECT DISTINCT subject_id FROM {self._scan(PARENT)}) a "
                f"ON a.subject_id = s.subject_id "
                "WHERE a.subject_id IS NOT NULL "
                "OR s.subject_id IN (SELECT subject_id FROM __held) "
                f"GROUP BY s.local_id"
            )
        finally:
            self.con.unregister("__seen")
            self.con.unregister("__held")

    def skipped(self, ids: pa.Table, reason: str) -> None:
        """Patients (``local_id``) whose subjects rows were all skipped with ``reason``: in
        ``__ids`` with the status ``skipped:<reason>``, so their other rows, in every table, are
        skipped with the same reason (an SDTM screen failure's AE, CM, LB... records)."""
        self.con.register("__skipped", ids.select(["local_id"]))
        try:
            self.con.execute(
                f"INSERT INTO __ids SELECT local_id, __pseudonym(local_id), "
                f"{sql_str(SKIPPED + reason)} FROM (SELECT DISTINCT local_id FROM __skipped "
                "WHERE local_id IS NOT NULL) "
                "WHERE local_id NOT IN (SELECT local_id FROM __ids WHERE local_id IS NOT NULL)"
            )
        finally:
            self.con.unregister("__skipped")

    def baselines(self) -> None:
        """Fill ``__w0`` from the settled visits table."""
        if self._path("visits").exists():
            self.con.execute(
                f"INSERT INTO __w0 SELECT subject_id, min(visit_date) FROM {self._scan('visits')} "
                "WHERE visit_code = 'W0' GROUP BY subject_id"
            )

    def keys(self, table: Table, held: set[str], seen: list[pa.Table] | None = None) -> None:
        """Exact duplicates and conflicting keys of one staged table. ``seen``: the patients'
        local ids as read, for the subjects table (the others look them up in ``__ids``)."""
        if not self._path(table.name).exists():
            return
        key = ", ".join(sql_ident(k) for k in table.key)
        repeated = (
            f"SELECT hash({key}) AS __k FROM {self._scan(table.name)} "
            "GROUP BY __k HAVING count(*) > 1"
        )
        if not self.con.execute(f"SELECT count(*) FROM ({repeated})").fetchall()[0][0]:
            return
        self._judge(table, key, repeated)
        judged = self._with_local_ids(table, seen)
        if judged.num_rows:
            self._settle_keys(table, judged, held)
        self._rewrite(
            table,
            f"SELECT t.* FROM {self._scan(table.name)} t "
            "ANTI JOIN __judged j USING (source_file, source_row)",
        )
        self.con.execute("DROP TABLE __judged")

    def _judge(self, table: Table, key: str, repeated: str) -> None:
        """``__judged``: each repeated row's verdict, and for a conflict the columns that
        differ within its key (so the coordinator knows what to reconcile)."""
        content = [c for c in table.names if c not in PROVENANCE]
        h = f"hash({', '.join(sql_ident(c) for c in content)})"
        subject = "subject_id" if table.per_subject else "NULL::VARCHAR AS subject_id"
        cols = ", ".join(sql_ident(c) for c in content if c not in table.key)
        differs = ", ".join(
            f"CASE WHEN min(hash({sql_ident(c)})) OVER k <> max(hash({sql_ident(c)})) OVER k "
            f"THEN {sql_str(c)} END"
            for c in content
            if c not in table.key
        )
        differs = (
            f"list_filter([{differs}], lambda d: d IS NOT NULL)" if differs else "[]::VARCHAR[]"
        )
        # Only the rows of repeated keys (a hash collision just adds rows that share no key).
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE __judged AS "
            f"WITH x AS (SELECT source_file, source_row, {subject}, {key}, {h} AS __h"
            f"{', ' + cols if cols else ''} "
            f"FROM {self._scan(table.name)} WHERE hash({key}) IN ({repeated})), "
            f"y AS (SELECT *, min(__h) OVER k <> max(__h) OVER k AS __conflict, "
            f"{differs} AS __differs, "
            f"row_number() OVER (PARTITION BY {key}, __h ORDER BY source_file, source_row) "
            f"AS __n FROM x WINDOW k AS (PARTITION BY {key})) "
            f"SELECT source_file, source_row, subject_id, __differs, CASE WHEN __conflict THEN "
            f"'conflicting-key' ELSE 'exact-duplicate' END AS __verdict "
            f"FROM y WHERE __conflict OR __n > 1"
        )

    def _with_local_ids(self, table: Table, seen: list[pa.Table] | None) -> pa.Table:
        """The judged rows, each with its patient's local id as ``v`` (the site's own record
        names the patient; the bundle's copy masks it)."""
        if not table.per_subject:
            return self.con.sql("SELECT * FROM __judged").to_arrow_table()
        lookup = pa.concat_tables(seen).cast(_IDS) if seen else None
        self.con.register("__local", lookup if lookup is not None else _IDS.empty_table())
        source = "__local" if lookup is not None else "__ids"
        try:
            return self.con.sql(
                "SELECT j.*, l.local_id AS v FROM __judged j LEFT JOIN "
                f"(SELECT subject_id, min(local_id) AS local_id FROM {source} GROUP BY ALL) l "
                "USING (subject_id) ORDER BY source_file, source_row"
            ).to_arrow_table()
        finally:
            self.con.unregister("__local")

    def _settle_keys(self, table: Table, judged: pa.Table, held: set[str]) -> None:
        key_text = " + ".join(table.key)
        conflicts = judged.filter(pa.compute.equal(judged.column("__verdict"), "conflicting-key"))
        differ = sorted({c for cs in conflicts.column("__differs").to_pylist() for c in cs or ()})
        rules = {
            "conflicting-key": f"rows sharing the key ({key_text}) must agree"
            + (f"; they differ in {', '.join(self._site_names(table, differ))}" if differ else ""),
            "exact-duplicate": f"an exact repeat of an earlier row (key {key_text}): kept once",
        }
        subject = next((tm.subject.source for tm in self.adapter.tables
                        if tm.table == table.name and tm.subject), None)  # fmt: skip
        for verdict, rule in rules.items():
            rows = judged.filter(pa.compute.equal(judged.column("__verdict"), verdict))
            if rows.num_rows == 0:
                continue
            severity = "warning" if verdict == "exact-duplicate" else "error"
            sink = self.warnings if severity == "warning" else self.failures
            shared = "subject_id" if subject else None
            self._record(sink, table, rows, subject, shared, verdict, rule, severity)
            for source, n in zip(*self._count_by_source(rows), strict=True):
                slot = (table.name, source, verdict)
                self.result.removed[slot] = self.result.removed.get(slot, 0) + n
            if table.name == PARENT and verdict == "conflicting-key":
                # Their other rows are then held as parent-quarantined.
                held.update(rows.column("subject_id").drop_null().to_pylist())

    def _site_names(self, table: Table, shared: list[str]) -> list[str]:
        """Shared columns as the site calls them (its own column, where it has one)."""
        fields = {n: p for tm in self.adapter.tables if tm.table == table.name
                  for n, p in tm.fields.items()}  # fmt: skip
        return [
            f"{fields[c].source} ({c})" if c in fields and fields[c].source else c for c in shared
        ]

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
