"""Tables that depend on nothing still unsettled are staged side by side, each on its own DuckDB
cursor: one table's pass leaves cores idle while it waits on its reader, its lookup or its writer,
and the other's fills them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

import duckdb

T = TypeVar("T")

# Two tables at once: each pass already runs DuckDB on every core, and each holds a batch in its
# reader, its lookup and its writer, so more would add memory and little speed.
WORKERS = 2


def run_side_by_side(
    con: duckdb.DuckDBPyConnection,
    tasks: Sequence[Callable[[duckdb.DuckDBPyConnection], T]],
    workers: int = WORKERS,
) -> list[T]:
    """Run each task on a cursor of its own, started in the order given, at most ``workers`` at
    once; their results in that order. When one fails, the tasks not started are dropped, the
    running ones are interrupted, and the failure is raised (the first, in task order, that is
    not an interruption: so the error a user sees is the real one)."""
    cursors = [con.cursor() for _ in tasks]
    try:
        with ThreadPoolExecutor(workers, thread_name_prefix="table") as pool:
            futures = [pool.submit(task, cur) for task, cur in zip(tasks, cursors, strict=True)]
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
                failed = any(f.exception() is not None for f in done)
            except BaseException:  # Ctrl-C while waiting: stop the tables, then leave
                _stop(futures, cursors)
                raise
            if failed:
                _stop(futures, cursors)
                raise _first_failure(futures)
            return [f.result() for f in futures]
    finally:
        for cur in cursors:
            cur.close()


def _stop(futures: list[Future[T]], cursors: list[duckdb.DuckDBPyConnection]) -> None:
    for future in futures:
        future.cancel()
    for cur in cursors:
        cur.interrupt()
    wait(futures)


def _first_failure(futures: list[Future[T]]) -> BaseException:
    errors = [f.exception() for f in futures if not f.cancelled() and f.exception() is not None]
    genuine = [e for e in errors if not isinstance(e, duckdb.InterruptException)]
    found = (genuine or errors)[0]
    assert found is not None
    return found
