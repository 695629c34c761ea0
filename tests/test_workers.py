"""Tables staged side by side: results in task order; a failure stops the others and is raised
as itself, not as the interruption it caused."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from federate.workers import run_side_by_side


def test_results_come_back_in_task_order() -> None:
    con = duckdb.connect()
    slow_first = threading.Event()

    def slow(cur: duckdb.DuckDBPyConnection) -> int:
        slow_first.wait(5)  # finishes after the fast one
        return int(cur.execute("SELECT 1").fetchall()[0][0])

    def fast(cur: duckdb.DuckDBPyConnection) -> int:
        value = int(cur.execute("SELECT 2").fetchall()[0][0])
        slow_first.set()
        return value

    assert run_side_by_side(con, [slow, fast]) == [1, 2]


def test_a_failure_interrupts_the_running_query_and_is_raised_as_itself() -> None:
    con = duckdb.connect()
    started = threading.Event()
    seen: list[BaseException] = []

    def endless(cur: duckdb.DuckDBPyConnection) -> None:
        started.set()
        try:  # hours of work unless interrupted
            cur.execute("SELECT sum(hash(i)) FROM range(10000000000000) t(i)").fetchall()
        except BaseException as exc:
            seen.append(exc)
            raise

    def broken(cur: duckdb.DuckDBPyConnection) -> None:
        started.wait(5)
        time.sleep(0.2)  # let the other query get going
        raise ValueError("bad input in the second table")

    # The interrupted task comes first: its InterruptException is not what the user must see.
    with pytest.raises(ValueError, match="bad input in the second table"):
        run_side_by_side(con, [endless, broken])
    assert len(seen) == 1 and isinstance(seen[0], duckdb.InterruptException)


def test_tasks_not_started_are_dropped_after_a_failure() -> None:
    con = duckdb.connect()
    ran: list[int] = []

    def fail(cur: duckdb.DuckDBPyConnection) -> None:
        raise RuntimeError("first")

    def note(i: int):  # type: ignore[no-untyped-def]
        def task(cur: duckdb.DuckDBPyConnection) -> None:
            ran.append(i)

        return task

    with pytest.raises(RuntimeError, match="first"):
        run_side_by_side(con, [fail, *(note(i) for i in range(50))], workers=1)
    assert len(ran) < 50
