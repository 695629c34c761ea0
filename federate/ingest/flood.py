"""An export that is not the one the adapter expects stops early (issue 23).

A file of the wrong export, or of junk, quarantines nearly every row it has: 5M junk rows of a
workbook wrote an 8.9 GB quarantine before the machine ran out of memory. So each file is
watched as it streams: once more than ``FLOOD_ROWS`` of its rows, and more than half of the
rows read so far, are quarantined, the ingest stops with exit 2 ("this is not the expected
export"), showing the first reasons. The rows read so far stand for the file, so a file whose
first 10,000 rows fail stops even if good rows follow: that is no export to pool either. The
check runs after each of the pass's batches (131,072 rows, and DuckDB reads somewhat ahead), so
a flood stops within some hundreds of thousands of rows, its quarantine bounded with it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from federate.errors import InputError, Location
from federate.ingest.quarantine import Collector
from federate.ingest.reshape import Counter
from federate.readers.base import Reject

FLOOD_ROWS = 10_000
SHOWN = 5  # reasons shown in the message


@dataclass
class Flood:
    """Called after each batch of a file's pass with the rows it quarantined so far."""

    relpath: str
    rejects: list[Reject]  # records it could not read (those it marks deleted are skipped)
    failures: Collector
    _seen: int = 0
    _rejected: int = 0

    def __call__(self, checked: int, quarantined: int, name_them: Callable[[], None]) -> None:
        """``checked`` rows have been through the pass, ``quarantined`` of them quarantined;
        ``name_them``: puts the held rows through the careful path, which names their
        reasons in ``failures``; called only when the file is refused."""
        for reject in self.rejects[self._seen :]:
            self._rejected += not reject.deleted
        self._seen = len(self.rejects)
        bad = quarantined + self._rejected
        read = checked + len(self.rejects)
        if bad <= FLOOD_ROWS or 2 * bad <= read:
            return
        name_them()
        shown = self.failures.first(self.relpath, SHOWN)
        shown += [f"row {r.row}: {r.reason} ({r.detail})" for r in self.rejects if not r.deleted][
            : SHOWN - len(shown)
        ]
        raise InputError(
            f"{bad:,} of the first {read:,} rows checked are quarantined (more than half, and "
            f"more than {FLOOD_ROWS:,}): this is not the expected export, so the ingest stopped "
            f"there. First reasons: {'; '.join(shown)}",
            code="not-the-expected-export",
            where=Location(file=self.relpath),
        )

    def reading(self, batches: Iterator[pa.RecordBatch], read: Counter) -> Iterator[pa.RecordBatch]:
        """The reader's batches, its rejects alone checked after each and at its end: records
        it cannot split never reach the pass (``read``: the rows it gave, counted outside)."""
        for batch in batches:
            yield batch
            self(read.rows, 0, lambda: None)
        self(read.rows, 0, lambda: None)
