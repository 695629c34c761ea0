"""Tables are staged side by side, each on its own DuckDB cursor, as soon as the tables they join
with are settled: one table's pass leaves cores idle while it waits on its reader, its lookup or
its writer, and the other's fills them.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

import duckdb

T = TypeVar("T")
Task = Callable[[duckdb.DuckDBPyConnection], T]

# Two tables at once: each pass holds a batch in its reader, its lookup and its writer, so more
# would add memory; the ingest gives DuckDB the cores divided by this (one each on two cores).
WORKERS = 2


def run_when_ready(
    con: duckdb.DuckDBPyConnection,
    tasks: Mapping[str, Task[T]],
    after: Mapping[str, Collection[str]],
    workers: int = WORKERS,
    before: Callable[[str], None] | None = None,
) -> dict[str, T]:
    """Run each task on a cursor of its own once the tasks it comes ``after`` have finished, at
    most ``workers`` at once, the ready ones in the order given (``before``, if given, is called
    with each task's name just before it starts, on the calling thread, where Ctrl-C reaches:
    a wait belongs there, not in a task, which an interruption cannot stop while it waits). When
    one fails, the tasks not started are dropped, the query a running one has open on its
    cursor is interrupted (its other work runs to its end), and the failure is raised - not the
    interruption it caused, so the error a user sees is the real one."""
    waiting = dict(tasks)
    names: dict[Future[T], str] = {}
    running: dict[Future[T], duckdb.DuckDBPyConnection] = {}  # and each one's cursor
    results: dict[str, T] = {}
    with ThreadPoolExecutor(workers, thread_name_prefix="table") as pool:
        try:
            while waiting or running:
                ready = [n for n in waiting if set(after.get(n, ())) <= results.keys()]
                for name in ready[: workers - len(running)]:
                    if before is not None:
                        before(name)
                    cur = con.cursor()
                    future = pool.submit(waiting.pop(name), cur)
                    names[future], running[future] = name, cur
                if not running:
                    raise ValueError(f"tasks wait on no task that can run: {sorted(waiting)}")
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    running.pop(future).close()
                    if future.exception() is None:
                        results[names[future]] = future.result()
                failed = [f for f in finished if f.exception() is not None]
                if failed:
                    break
            else:
                return {name: results[name] for name in tasks}
        except BaseException:  # Ctrl-C while waiting: stop the others before leaving
            _stop(running)
            raise
        _stop(running)
    # Only what failed before the others were stopped: an interrupted pass fails too, as
    # DuckDB's InterruptException or as an OSError from the Arrow stream it was reading.
    order = list(tasks)
    error = min(failed, key=lambda f: order.index(names[f])).exception()
    assert error is not None
    raise error


def _stop(running: dict[Future[T], duckdb.DuckDBPyConnection]) -> None:
    for cur in running.values():
        cur.interrupt()
    wait(running)
    for cur in running.values():
        cur.close()
    running.clear()
