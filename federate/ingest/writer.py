"""A table's Parquet writer on its own thread, so encoding and compressing one batch overlaps
DuckDB computing the next (pyarrow releases the GIL while it writes)."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import TracebackType

import pyarrow as pa

from federate.bundle.manifest import parquet_writer


class BackgroundWriter:
    """``write_table`` returns at once; at most one batch is in flight (memory stays flat), and a
    write's error is raised by the next call or by ``close``."""

    def __init__(self, path: Path, schema: pa.Schema):
        self._writer = parquet_writer(path, schema)
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="parquet")
        self._pending: Future[None] | None = None

    def _wait(self) -> None:
        if self._pending is not None:
            pending, self._pending = self._pending, None
            pending.result()

    def write_table(self, table: pa.Table) -> None:
        self._wait()
        self._pending = self._pool.submit(self._writer.write_table, table)

    def close(self) -> None:
        try:
            self._wait()
        finally:
            self._pool.shutdown()
            self._writer.close()

    def __enter__(self) -> BackgroundWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
