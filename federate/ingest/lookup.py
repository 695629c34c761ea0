"""Map each input column's distinct values once per batch, not once per row.

Exports repeat themselves: a million lab rows hold a few thousand dates, a dozen units and one id
per patient. Every mapped column reads at most one input column (``TableMapper.lookup_sql``), so
the adapter's parsers - the costliest part of the streaming pass: trims, shape checks, date
parsing, code lists - run over each batch's dictionary of that column, and the results are
gathered back to the rows. The SQL is the mapper's own, so a value maps exactly as it would row
by row. The work runs on a thread of its own, a batch ahead of the pass that consumes it.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Generator, Iterator

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from federate.ingest.mapping import LOCAL_ID, LOOKED_UP
from federate.ingest.patients import Patients

BATCH_ROWS = 1 << 17  # a reader's small batches are joined first: one query per batch,
BATCH_BYTES = 16 << 20  # up to this many rows or bytes (a wide export's rows are large)
SLICE_ROWS = 1 << 15  # and handed on in slices: DuckDB's threads share a stream by batch
REPEATS = 4
_INDEX = "__entry"
_DONE = object()


# Each local id's patient, looked up with it.
PATIENT, PATIENT_STATUS, PATIENT_W0 = "__patient_subject", "__patient_status", "__patient_w0"


class Lookup:
    """``con``: a cursor of the ingest's database, which maps the dictionaries; ``settled``
    gives each local id of the input column ``patients`` its patient, status and W0 date: the
    pass itself then joins nothing, and DuckDB's parallel hash join, which does not keep a
    stream's order, never reorders the file's rows."""

    def __init__(
        self,
        queries: dict[str, list[str]],
        schema: pa.Schema,
        con: duckdb.DuckDBPyConnection,
        patients: str | None = None,
        settled: Patients | None = None,
    ):
        self._con = con
        self.error: BaseException | None = None  # what stopped the thread, as itself
        self.columns = list(queries)
        self._widths = [len(q) for q in queries.values()]
        self.patients = patients
        if patients is not None and settled is None:
            raise ValueError("a lookup of patients needs the settled patients")
        self._settled = settled if patients is not None else None
        # Every column's dictionary side by side in one table, each padded with NULLs to the
        # longest: one query per batch maps them all (padding rows are never gathered).
        exprs = ", ".join(e for q in queries.values() for e in q)
        self._sql = f"SELECT {exprs} FROM dict ORDER BY {_INDEX}"
        self._types = [schema.field(c).type for c in self.columns]
        self._out = self._map([pa.array([], t) for t in self._types]).schema
        self.schema = pa.schema([*schema, *(_gathered(f) for f in self._out)])

    @classmethod
    def plan(
        cls,
        queries: dict[str, list[str]],
        first: pa.RecordBatch,
        con: duckdb.DuckDBPyConnection,
        patients: str | None = None,
        settled: Patients | None = None,
    ) -> Lookup | None:
        """A lookup of the columns that repeat their values (at most one distinct value in
        REPEATS rows of the first batch), and of the patient id whatever its repeats; free
        text and measurements are left to the pass, and so are columns of nested cells (a
        spreadsheet's ``CELL``s), which Arrow cannot dictionary-encode."""
        chosen = {
            column: q
            for column, q in queries.items()
            if not pa.types.is_nested(first.column(column).type)
            and (
                column == patients
                or pa.types.is_null(first.column(column).type)  # all missing: one value
                or pc.count_distinct(first.column(column), mode="all").as_py()
                <= max(1, first.num_rows // REPEATS)
            )
        }
        return cls(chosen, first.schema, con, patients, settled) if chosen else None

    def _map(self, dictionaries: list[pa.Array]) -> pa.Table:
        longest = max((len(d) for d in dictionaries), default=0)
        padded = [
            pa.concat_arrays([d, pa.nulls(longest - len(d), d.type)]) if len(d) < longest else d
            for d in dictionaries
        ]
        table = pa.table([*padded, pa.array(range(longest), pa.int64())],
                         names=[*self.columns, _INDEX])  # fmt: skip
        self._con.register("dict", table)
        try:
            mapped = self._con.sql(self._sql).to_arrow_table()
        finally:
            self._con.unregister("dict")
        if self._settled is None:
            return mapped
        local = mapped.column(LOOKED_UP + LOCAL_ID).combine_chunks()
        found = self._settled.look_up(local)
        for name, column in ((PATIENT, found.subject), (PATIENT_STATUS, found.status),
                             (PATIENT_W0, found.w0)):  # fmt: skip
            mapped = mapped.append_column(name, column)
        return mapped

    def _mapped(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        encoded = [
            pc.dictionary_encode(batch.column(c), null_encoding="encode") for c in self.columns
        ]
        mapped = self._map([e.dictionary for e in encoded]).cast(self._out)
        longest = max(len(e.dictionary) for e in encoded)
        if mapped.num_rows != longest:  # the dictionaries below are built unchecked
            raise RuntimeError(
                f"the lookup mapped {longest} distinct values to {mapped.num_rows} rows "
                "(a bug in the engine)"
            )
        # Each mapped column is gathered by its input column's indices; the patient's three
        # (last, when looked up) by the local id's.
        indices = [e.indices for e, width in zip(encoded, self._widths, strict=True)
                   for _ in range(width)]  # fmt: skip
        if self.patients is not None:
            indices += [encoded[self.columns.index(self.patients)].indices] * 3
        # Text is handed to DuckDB as a dictionary (the indices and the mapped values), not
        # gathered into one string per row: DuckDB reads dictionaries as they are, and the
        # gather was ~3% of the ingest's CPU (5M lab rows: 12.7 -> 12.0 s). No bounds check:
        # each index is below its input column's dictionary's length, and the mapped column
        # has a row for every entry of the longest dictionary (padding included).
        columns = list(batch.columns) + [
            pa.DictionaryArray.from_arrays(at, column.combine_chunks(), safe=False)
            if pa.types.is_string(column.type)
            else pc.take(column.combine_chunks(), at)
            for column, at in zip(mapped.columns, indices, strict=True)
        ]
        return pa.RecordBatch.from_arrays(columns, schema=self.schema)

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Generator[pa.RecordBatch]:
        """The batches with their mapped columns, computed a batch ahead on a thread."""
        ahead: queue.Queue[object] = queue.Queue(maxsize=1)
        stop = threading.Event()

        def work() -> None:
            try:
                for batch in _joined(batches):
                    if stop.is_set():
                        return
                    ahead.put(self._mapped(batch))
                ahead.put(_DONE)
            except BaseException as exc:  # raised where the batches are consumed
                self.error = exc
                ahead.put(exc)

        thread = threading.Thread(target=work, name="lookup", daemon=True)
        thread.start()
        try:
            while (item := ahead.get()) is not _DONE:
                if isinstance(item, BaseException):
                    raise item
                assert isinstance(item, pa.RecordBatch)
                for start in range(0, item.num_rows, SLICE_ROWS):
                    yield item.slice(start, SLICE_ROWS)
        finally:
            stop.set()
            while thread.is_alive():  # unblock a producer waiting on a full queue
                with contextlib.suppress(queue.Empty):
                    ahead.get(timeout=0.05)
            thread.join()


def _gathered(mapped: pa.Field) -> pa.Field:
    """How a mapped column reaches the pass: text as a dictionary, other types gathered."""
    if pa.types.is_string(mapped.type):
        return mapped.with_type(pa.dictionary(pa.int32(), mapped.type))
    return mapped


def _joined(batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """The batches regrouped into ones of BATCH_ROWS rows or BATCH_BYTES bytes (or more)."""
    pending: list[pa.RecordBatch] = []
    rows = 0
    size = 0
    for batch in batches:
        pending.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if rows >= BATCH_ROWS or size >= BATCH_BYTES:
            yield _concat(pending)
            pending, rows, size = [], 0, 0
    if pending:
        yield _concat(pending)


def _concat(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.concat_batches(batches)
