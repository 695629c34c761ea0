"""Map one batch of a site's export onto one shared table, in one DuckDB pass.

read (raw batch) -> map (SQL built from the adapter's parsers) -> pseudonymise -> validate
(pandera, lazily: every failure) -> accepted rows and failure records.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import Locale, typed_as_text
from federate.errors import InputError, Location
from federate.ingest.quarantine import Collector
from federate.privacy.pseudonym import Pseudonymiser
from federate.readers.base import CODE_LIST, ROW_COLUMN
from federate.schema import Schema, Table, rule_reason
from federate.sqltext import sql_ident

if TYPE_CHECKING:
    import pandera.polars as pa_pl

LOCAL_ID = "__local_id"
LOOKED_UP = "__lookup_"  # a mapped column computed ahead, per distinct input value


class RecordFn(Protocol):
    """Records the rows of ``mask`` as failing one rule (``TableMapper._record``, bound to a
    batch and its collectors)."""

    def __call__(
        self,
        mask: pa.Array,
        column: str | None,
        shared: str | None,
        values: pa.Array | None,
        reason: str,
        rule: str,
        severity: str = "error",
        source_rows: pa.ChunkedArray | None = None,
    ) -> None: ...


def resolve_columns(
    tm: TableMap, header: list[str], relpath: str, table: Table | None = None
) -> dict[str, str]:
    """Declared input column -> the header's spelling (case and outer spaces ignored). A column
    may be absent when the table map says so, or (given ``table``) when every shared column it
    fills is not required: the spec's "required: no" (it then reads as empty)."""
    by_key = {h.strip().lower(): h for h in header}
    resolved: dict[str, str] = {}
    missing = []
    optional = may_be_absent(tm, table)
    for name in tm.input_columns():
        found = by_key.get(name.strip().lower())
        if found is None and name.lower() not in optional:
            missing.append(name)
        elif found is None:
            continue
        else:
            resolved[name] = found
    if missing:
        hints = []
        for name in missing:
            close = difflib.get_close_matches(name.lower(), list(by_key), n=1)
            hints.append(f"{name!r}" + (f" (did you mean {by_key[close[0]]!r}?)" if close else ""))
        needed = [c for c in tm.input_columns() if c.lower() not in optional]
        may = [c for c in tm.input_columns() if c.lower() in optional]
        raise InputError(
            f"missing column(s) {', '.join(hints)}: add them to the export; the {tm.table} form "
            f"needs {', '.join(needed)}"
            + (f" (and may leave out {', '.join(may)})" if may else ""),
            code="missing-column",
            where=Location(file=relpath, row=1),
        )
    return resolved


def may_be_absent(tm: TableMap, table: Table | None) -> set[str]:
    """The input columns (lower case) a file may lack: those the map declares optional, and
    those whose every parser fills a shared column that is not required. Never the patient id,
    a column that selects rows (``keep``) or reshapes them (``pivot``)."""
    optional = {c.lower() for c in tm.optional_columns}
    if table is None or tm.pivot is not None:
        return optional
    readers: dict[str, list[bool]] = {}
    for name, parser in tm.fields.items():
        if parser.source:
            readers.setdefault(parser.source.lower(), []).append(table.column(name).required)
    structural = {tm.subject.source.lower()} if tm.subject else set()
    if tm.keep is not None:
        structural.add(tm.keep.column.lower())
    return optional | {
        col for col, required in readers.items() if not any(required) and col not in structural
    }


def unknown_columns(tm: TableMap, header: list[str]) -> list[str]:
    known = {c.lower() for c in [*tm.input_columns(), *tm.dropped]}
    return [h for h in header if h.strip().lower() not in known]


@dataclass
class TableMapper:
    """Everything needed to map batches of one source file onto one shared table."""

    adapter: SiteAdapter
    schema: Schema
    table: Table
    tm: TableMap
    columns: dict[str, str]  # declared source -> actual header name
    relpath: str
    submission_id: str
    pseudonymise: Pseudonymiser
    con: duckdb.DuckDBPyConnection
    raw_types: Mapping[str, pa.DataType] = field(default_factory=dict)  # typed formats
    facts: Mapping[str, str] = field(default_factory=dict)  # the reader's, about this file

    def __post_init__(self) -> None:
        # A visit the export does not name is assigned later from the date, by window; until
        # then it holds UNS so the row validates.
        self.visit_by_window = bool(self.table.visit_date) and "visit_code" not in self.tm.fields
        self.quarantined_subjects: set[str] = set()
        self._sql: str | None = None  # built from the first batch's column types
        self._arrow_schema = self.schema.arrow_schema(self.table)

    # Built when a row first needs pandera: most sources never do.
    @functools.cached_property
    def _hard(self) -> pa_pl.DataFrameSchema:
        return self.schema.pandera_schema(self.table)

    @functools.cached_property
    def _soft(self) -> pa_pl.DataFrameSchema:
        return self.schema.pandera_schema(self.table, soft=True)

    @property
    def locale(self) -> Locale:
        return self.adapter.locale

    def _ref(self, source: str) -> str:
        if source not in self.columns:  # an optional column this file lacks: all missing
            return "NULL::VARCHAR"
        name = self.columns[source]
        kind = self.raw_types.get(name, pa.string())
        # How the site's software shows the column's dates, where the reader knows (SPSS, SAS).
        shown_as = self.facts.get(f"shown_as.{name}")
        return typed_as_text(sql_ident(name), kind, self.locale, shown_as)

    def local_id_sql(self, raw_types: Mapping[str, pa.DataType]) -> str | None:
        """SQL for a row's normalised local id over a stream of these column types (None when
        the table has no patient id)."""
        if self.tm.subject is None:
            return None
        self.raw_types = dict(raw_types)
        return self.tm.subject.sql(self._ref(self.tm.subject.source))

    def outputs(self) -> list[str]:
        """The shared columns the mapping SQL fills (before casting to the shared types)."""
        names = [
            out
            for name, parser in self.tm.fields.items()
            for out in parser.outputs(name, "NULL", self.locale)
        ]
        if self.visit_by_window:
            names.append("visit_code")
        return [*names, *self.table.derived]

    def build_sql(
        self,
        raw_types: Mapping[str, pa.DataType],
        carry: Mapping[str, str],
        looked_up: Collection[str] = (),
    ) -> str:
        """The mapping SQL over ``raw`` for a stream of these column types; ``carry`` passes raw
        columns through under another name (the streaming pass keeps a row's input with it);
        ``looked_up``: input columns whose ``lookup_sql`` columns ``raw`` also holds."""
        self.raw_types = dict(raw_types)
        return self._build_sql(carry, looked_up)

    def _selects(self) -> list[tuple[str, str, str | None]]:
        """(expression, name, the input column it reads or None) of every mapped column: each
        reads at most one input column, which is what lets ``lookup_sql`` map distinct values."""
        out: list[tuple[str, str, str | None]] = []
        if self.tm.subject:
            src = self.columns.get(self.tm.subject.source)
            out.append((self.tm.subject.sql(self._ref(self.tm.subject.source)), LOCAL_ID, src))
        for name, parser in self.tm.fields.items():
            ref = self._ref(parser.source) if parser.source else "NULL"
            src = self.columns.get(parser.source) if parser.source else None
            for out_name, expr in parser.outputs(name, ref, self.locale).items():
                out.append((expr, out_name, src))
            if parser.source:
                raw = f"nullif(trim(CAST({ref} AS VARCHAR)), '')"  # NULL when absent
                out.append((raw, "__raw_" + name, src))
        if self.visit_by_window:
            out.append(("'UNS'", "visit_code", None))
        return out

    def lookup_sql(self) -> dict[str, list[str]]:
        """Per input column, the ``expression AS name`` of every mapped column read from it:
        over a table ``dict`` with that column, they map its distinct values."""
        by_source: dict[str, list[str]] = {}
        for expr, name, src in self._selects():
            if src is not None:
                by_source.setdefault(src, []).append(f"{expr} AS {sql_ident(LOOKED_UP + name)}")
        return by_source

    def _build_sql(
        self, carry: Mapping[str, str] | None = None, looked_up: Collection[str] = ()
    ) -> str:
        selects = [f"{sql_ident(ROW_COLUMN)} AS {sql_ident(ROW_COLUMN)}"]
        selects += [f"{sql_ident(src)} AS {sql_ident(dst)}" for src, dst in (carry or {}).items()]
        for expr, name, src in self._selects():
            if src is not None and src in looked_up:
                expr = sql_ident(LOOKED_UP + name)  # mapped ahead, once per distinct value
            selects.append(f"{expr} AS {sql_ident(name)}")
        sql = "SELECT " + ",\n  ".join(selects) + " FROM raw"
        if self.table.derived:
            derived = [f"{d.sql} AS {sql_ident(name)}" for name, d in self.table.derived.items()]
            sql = f"SELECT *, {', '.join(derived)} FROM ({sql})"
        return sql

    def map(self, batch: pa.RecordBatch, failures: Collector, warnings: Collector) -> pa.Table:
        """Return the accepted rows (shared schema); record every failure."""
        parsed = self._parse(batch)
        record = functools.partial(self._record, parsed.column(ROW_COLUMN), failures, warnings)
        bad = pa.repeat(pa.scalar(False), parsed.num_rows)
        # Rows whose value did not parse or derive: by the shared column, for ``_validate``.
        unparsed: dict[str, np.ndarray] = {}
        bad = self._flag_unparsed(parsed, record, bad, unparsed)
        bad = self._flag_underivable(parsed, record, bad, unparsed)

        # Every rule runs on every row (a coordinator fixes all of a row at once), but a value
        # already reported as unreadable is not reported again as missing.
        typed = self._shared_table(parsed)
        bad = pc.or_(bad, self._validate(typed, parsed, unparsed, record, "error"))
        keep = pc.invert(bad)
        held = (
            typed.filter(bad).column("subject_id") if "subject_id" in typed.column_names else None
        )
        if held is not None and len(held):
            self.quarantined_subjects.update(pc.unique(held.drop_null()).to_pylist())
        accepted, accepted_parsed = typed.filter(keep), parsed.filter(keep)
        self._validate(accepted, accepted_parsed, {}, record, "warning")
        return accepted.cast(self._arrow_schema)

    def _parse(self, batch: pa.RecordBatch) -> pa.Table:
        """The batch through the mapping SQL (built from the first batch's column types)."""
        if self._sql is None:
            self.raw_types = {f.name: f.type for f in batch.schema}
            self._sql = self._build_sql()
        self.con.register("raw", pa.Table.from_batches([batch]))
        try:
            return self.con.sql(self._sql).to_arrow_table()
        finally:
            self.con.unregister("raw")

    def _record(
        self,
        rows: pa.ChunkedArray,
        failures: Collector,
        warnings: Collector,
        mask: pa.Array,
        column: str | None,
        shared: str | None,
        values: pa.Array | None,
        reason: str,
        rule: str,
        severity: str = "error",
        source_rows: pa.ChunkedArray | None = None,
    ) -> None:
        """Record the rows of ``mask`` as failing one rule (``rows``: the batch's source rows,
        unless ``source_rows`` gives those ``mask`` is over)."""
        restricted = bool(shared) and self.table.column(shared or "").restricted
        failures_or_warnings = failures if severity == "error" else warnings
        listed = pc.filter(rows if source_rows is None else source_rows, mask)
        if restricted and severity == "warning":
            # Which rows carry a dose or a lot would reveal allocation: count them only.
            n = len(listed)
            listed = pa.array([0], pa.int64())
            mask = pa.array([True])
            values = None
            rule = f"{rule}: {n} row(s), not listed (the column is restricted)"
        failures_or_warnings.add(
            site=self.adapter.name,
            submission_id=self.submission_id,
            table=self.table.name,
            source_file=self.relpath,
            part=self.tm.part,
            rows=listed,
            column=column,
            shared_column=shared,
            values=None if values is None else pc.filter(values, mask),
            reason=reason,
            rule=rule,
            severity=severity,
            restricted=restricted,
        )

    def _flag_unparsed(
        self,
        parsed: pa.Table,
        record: RecordFn,
        bad: pa.Array,
        unparsed: dict[str, np.ndarray],
    ) -> pa.Array:
        """Parse failures: a value was there but does not read under the declared rule; and a
        missing patient id. Records them, notes them in ``unparsed``; ``bad`` with their rows."""
        for name, parser in self.tm.fields.items():
            if not parser.source:
                continue
            raw = parsed.column("__raw_" + name)
            mask = pc.and_(pc.is_valid(raw), pc.is_null(parsed.column(name)))
            unparsed[name] = mask.to_numpy(zero_copy_only=False)
            if pc.any(mask).as_py():
                rule = parser.rule(self.locale)
                # A code outside the file's own code list: name the list it broke.
                codes = self.facts.get(CODE_LIST + self.columns[parser.source])
                if codes and parser.reason == "unknown-code":
                    rule += f"; {codes}"
                record(mask, self.columns[parser.source], name, raw, parser.reason, rule)
                bad = pc.or_(bad, mask)
        if self.tm.subject:
            mask = pc.is_null(parsed.column(LOCAL_ID))
            unparsed["subject_id"] = mask.to_numpy(zero_copy_only=False)
            if pc.any(mask).as_py():
                record(
                    mask,
                    self.columns[self.tm.subject.source],
                    "subject_id",
                    None,
                    "required-missing",
                    "a patient id is required",
                )
                bad = pc.or_(bad, mask)
        return bad

    def _flag_underivable(
        self,
        parsed: pa.Table,
        record: RecordFn,
        bad: pa.Array,
        unparsed: dict[str, np.ndarray],
    ) -> pa.Array:
        """Derived columns: every input present but no result (e.g. a unit the analyte does not
        take) quarantines the row. Records them, notes them in ``unparsed``; ``bad`` with their
        rows."""
        for name, derived in self.table.derived.items():
            if not derived.inputs:
                continue
            present = pc.and_(
                pc.is_null(parsed.column(name)),
                _all_valid([parsed.column(c) for c in derived.inputs]),
            )
            if pc.any(present).as_py():
                first = derived.inputs[-1]
                given = self.tm.fields.get(first)
                site_col = (
                    self.columns.get(given.source, given.source)
                    if given and given.source
                    else first
                )
                raw_name = "__raw_" + first
                values = parsed.column(raw_name) if raw_name in parsed.column_names else None
                record(present, site_col, name, values, derived.reason, derived.rule)
                bad = pc.or_(bad, present)
                unparsed[name] = present.to_numpy(zero_copy_only=False)
        return bad

    def _shared_table(self, parsed: pa.Table) -> pa.Table:
        n = parsed.num_rows
        arrays: list[pa.Array] = []
        for col in self.table.columns:
            if col.name == "site":
                arr = pa.repeat(pa.scalar(self.adapter.name, pa.string()), n)
            elif col.name == "subject_id":
                arr = self.pseudonymise.of(parsed.column(LOCAL_ID))
            elif col.name == "submission_id":
                arr = pa.repeat(pa.scalar(self.submission_id, pa.string()), n)
            elif col.name == "source_file":
                arr = pa.repeat(pa.scalar(self.relpath, pa.string()), n)
            elif col.name == "source_row":
                arr = parsed.column(ROW_COLUMN).combine_chunks()
            elif col.name in parsed.column_names:
                arr = parsed.column(col.name).combine_chunks()
            else:
                arr = pa.nulls(n, col.dtype.arrow)
            arrays.append(pc.cast(arr, col.dtype.arrow))
        # Nullability is enforced by pandera (so it becomes a quarantine row, not a crash).
        relaxed = pa.schema([f.with_nullable(True) for f in self._arrow_schema])
        return pa.Table.from_arrays(arrays, schema=relaxed)

    def _validate(
        self,
        typed: pa.Table,
        parsed: pa.Table,
        unparsed: dict[str, np.ndarray],
        record: RecordFn,
        severity: str,
    ) -> pa.Array:
        """Run the hard (error) or soft (warning) pandera schema lazily; record every failure
        and return the mask of rows that failed."""
        import pandera.errors
        import polars as pl

        n = typed.num_rows
        failed = np.zeros(n, dtype=bool)
        if n == 0:
            return pa.array(failed)
        schema = self._soft if severity == "warning" else self._hard
        try:
            frame = pl.from_arrow(typed)
            assert isinstance(frame, pl.DataFrame)
            schema.validate(frame, lazy=True)
            return pa.array(failed)
        except pandera.errors.SchemaErrors as exc:
            cases = exc.failure_cases
        if cases.get_column("index").null_count():
            bugs = cases.filter(pl.col("index").is_null()).to_dicts()
            raise RuntimeError(f"schema-level validation failure (a bug in the engine): {bugs}")
        for (column, check), group in cases.group_by(["column", "check"], maintain_order=True):
            name = str(column)
            mask = np.zeros(n, dtype=bool)
            mask[group.get_column("index").to_numpy()] = True
            # One line per cause: a value already reported unreadable is not reported again,
            # nor is a column derived from it (a lab's harmonised value from its analyte).
            derived = self.table.derived.get(name)
            for cause in (name, *(derived.inputs if derived else ())):
                if cause in unparsed:
                    mask &= ~unparsed[cause]
            if not mask.any():
                continue
            reason, rule = rule_reason(str(check), name)
            parser = self.tm.fields.get(name)
            site_column = (
                self.columns.get(parser.source, parser.source) if parser and parser.source else name
            )
            raw_name = "__raw_" + name
            values = (
                parsed.column(raw_name)
                if raw_name in parsed.column_names
                else pc.cast(typed.column(name), pa.string())
            ).combine_chunks()
            record(
                pa.array(mask),
                site_column,
                name,
                values,
                reason,
                rule,
                severity,
                parsed.column(ROW_COLUMN),
            )
            failed |= mask
        return pa.array(failed)


def _all_valid(columns: list[pa.ChunkedArray]) -> pa.ChunkedArray:
    mask = pc.is_valid(columns[0])
    for col in columns[1:]:
        mask = pc.and_(mask, pc.is_valid(col))
    return mask
