"""The settled patients in memory, for the lookup: each local id's patient, status and W0 date.

A batch holds a few thousand distinct ids; joining them in DuckDB against the whole patient table
costs a pass over every patient per batch (5M lab rows: 39 batches x 125,000 patients). A dict
answers each distinct id of a batch in a lookup of its own.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.privacy.pseudonym import Pseudonymiser

_IDS = pa.schema([("local_id", pa.string()), ("subject_id", pa.string()), ("status", pa.string())])


@dataclass(frozen=True)
class _Snapshot:
    index: dict[str, int]  # local id -> its row in the arrays below
    local: pa.Array
    subject: pa.Array
    status: pa.Array
    w0: pa.Array  # by the same rows
    # W0 dates of patients ``__ids`` does not hold (an export without a subjects table).
    other_w0: dict[str, dt.date]


@dataclass(frozen=True)
class Looked:
    subject: pa.Array
    status: pa.Array
    w0: pa.Array


@dataclass
class Patients:
    """Filled from the ingest's ``__ids`` (``load_ids``, once the subjects table is settled) and
    ``__w0`` (``load_w0``, once visits are); read by the lookups on their own threads: a snapshot
    is swapped in whole, never changed. The subjects table's own lookup reads the empty one."""

    pseudonymise: Pseudonymiser
    _now: _Snapshot = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        empty = pa.array([], pa.string())
        self._now = _Snapshot({}, empty, empty, empty, pa.array([], pa.date32()), {})

    def load_ids(self, con: duckdb.DuckDBPyConnection) -> None:
        rows = (
            con.sql("SELECT local_id, subject_id, status FROM __ids WHERE local_id IS NOT NULL")
            .to_arrow_table()
            .cast(_IDS)
        )
        index = {local: n for n, local in enumerate(rows.column(0).to_pylist())}
        if len(index) != rows.num_rows:
            raise RuntimeError(
                f"{rows.num_rows - len(index)} local id(s) held twice in the patient table "
                "(a bug in the engine)"
            )
        local, subject, status = (column.combine_chunks() for column in rows.columns)
        w0 = pa.nulls(rows.num_rows, pa.date32())
        self._now = _Snapshot(index, local, subject, status, w0, {})

    def load_w0(self, con: duckdb.DuckDBPyConnection) -> None:
        """Each patient's W0 date, by the patient (as the pass joins it), not the local id."""
        now = self._now
        # Each settled patient's row, joined by DuckDB (a dict or Arrow's index_in over
        # every patient again is slower).
        con.register("__rows", pa.table({"local_id": now.local, "row": np.arange(len(now.local))}))
        try:
            held = con.sql(
                "SELECT r.row, w.w0 FROM __rows r JOIN __ids i ON i.local_id = r.local_id "
                "JOIN __w0 w ON w.subject_id = i.subject_id"
            ).to_arrow_table()
        finally:
            con.unregister("__rows")
        rows = held.column(0).to_numpy()
        if len(rows) and np.bincount(rows).max() > 1:
            raise RuntimeError("a patient holds two W0 dates (a bug in the engine)")
        days = np.zeros(len(now.index), np.int32)
        missing = np.ones(len(now.index), bool)
        w0 = held.column(1).combine_chunks().cast(pa.date32())
        days[rows] = w0.cast(pa.int32()).fill_null(0).to_numpy()
        missing[rows] = pc.is_null(w0).to_numpy(zero_copy_only=False)
        others = con.sql(
            "SELECT subject_id, w0 FROM __w0 w WHERE subject_id IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM __ids i WHERE i.subject_id = w.subject_id)"
        ).fetchall()
        self._now = _Snapshot(
            now.index,
            now.local,
            now.subject,
            now.status,
            pa.array(days, pa.int32(), mask=missing).cast(pa.date32()),
            dict(others),
        )

    def subjects_of(self, local_ids: list[str]) -> dict[str, str]:
        """The pseudonym of each of ``local_ids`` that a settled patient holds."""
        now = self._now
        held = [(v, now.index[v]) for v in local_ids if v in now.index]
        subjects = pc.take(now.subject, pa.array([r for _, r in held], pa.int64())).to_pylist()
        return {v: s for (v, _), s in zip(held, subjects, strict=True)}

    def look_up(self, local_ids: pa.Array) -> Looked:
        """Each id's patient (a pseudonym computed for an id no settled patient holds), status
        and W0 date; a missing id has none."""
        now = self._now
        rows = pa.array([now.index.get(v) for v in local_ids.to_pylist()], pa.int64())
        subject = pc.take(now.subject, rows)
        status = pc.take(now.status, rows)
        w0 = pc.take(now.w0, rows)
        unknown = pc.and_(pc.is_null(rows), pc.is_valid(local_ids))
        if pc.any(unknown).as_py():
            computed = self.pseudonymise(local_ids.filter(unknown))
            subject = pc.replace_with_mask(subject, unknown, computed)
            if now.other_w0:
                found = [now.other_w0.get(s) for s in computed.to_pylist()]
                w0 = pc.replace_with_mask(w0, unknown, pa.array(found, pa.date32()))
        return Looked(subject, status, w0)
