"""The settled patients in memory, for the lookup: each local id's patient, status and W0 date.

A batch holds a few thousand distinct ids; joining them in DuckDB against the whole patient table
costs a pass over every patient per batch (5M lab rows: 39 batches x 125,000 patients). A dict
answers each distinct id of a batch in a lookup of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from federate.pseudonym import Pseudonymiser


@dataclass(frozen=True)
class _Snapshot:
    index: dict[str, int]
    subject: pa.Array
    status: pa.Array
    w0: pa.Array


@dataclass(frozen=True)
class Looked:
    subject: pa.Array
    status: pa.Array
    w0: pa.Array


@dataclass
class Patients:
    """Filled from the ingest's ``__ids`` and ``__w0`` as they settle (``load``); read by the
    lookups of the tables staged after that, on their own threads (a snapshot is swapped in
    whole, never changed)."""

    pseudonymise: Pseudonymiser
    _now: _Snapshot = field(init=False)

    def __post_init__(self) -> None:
        empty = pa.array([], pa.string())
        self._now = _Snapshot({}, empty, empty, pa.array([], pa.date32()))

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = con.sql(
            "SELECT i.local_id, i.subject_id, i.status, w.w0 "
            "FROM __ids i LEFT JOIN __w0 w ON w.subject_id = i.subject_id"
        ).to_arrow_table()
        index = {local: n for n, local in enumerate(rows.column(0).to_pylist())}
        if len(index) != rows.num_rows:
            raise RuntimeError(
                f"{rows.num_rows - len(index)} patient(s) held twice in the patient tables "
                "(a bug in the engine)"
            )
        self._now = _Snapshot(
            index,
            *(rows.column(i).combine_chunks() for i in (1, 2, 3)),
        )

    def look_up(self, local_ids: pa.Array) -> Looked:
        """Each id's patient (a pseudonym computed for an id no settled patient holds), status
        and W0 date; a missing id has none."""
        now = self._now
        rows = pa.array([now.index.get(v) for v in local_ids.to_pylist()], pa.int64())
        subject = pc.take(now.subject, rows)
        unknown = pc.and_(pc.is_null(rows), pc.is_valid(local_ids))
        if pc.any(unknown).as_py():
            computed = self.pseudonymise(local_ids.filter(unknown))
            subject = pc.replace_with_mask(subject, unknown, computed)
        return Looked(subject, pc.take(now.status, rows), pc.take(now.w0, rows))
