"""Tables staged side by side: each once the tables it joins with are settled; results by name;
a failure stops the others and is raised as itself, not as the interruption it caused."""

from __future__ import annotations

import threading
import time

import duckdb
import pytest

from federate.ingest.workers import Task, run_when_ready


def test_results_by_name_whatever_order_they_finish_in() -> None:
    con = duckdb.connect()
    fast_done = threading.Event()

    def slow(cur: duckdb.DuckDBPyConnection) -> int:
        fast_done.wait(5)  # finishes after the fast one
        return int(cur.execute("SELECT 1").fetchall()[0][0])

    def fast(cur: duckdb.DuckDBPyConnection) -> int:
        value = int(cur.execute("SELECT 2").fetchall()[0][0])
        fast_done.set()
        return value

    assert run_when_ready(con, {"slow": slow, "fast": fast}, {}) == {"slow": 1, "fast": 2}


def test_a_task_starts_only_after_the_tasks_it_comes_after() -> None:
    con = duckdb.connect()
    log: list[str] = []

    def step(name: str, pause: float = 0.0) -> Task[str]:
        def task(cur: duckdb.DuckDBPyConnection) -> str:
            log.append(f"start {name}")
            time.sleep(pause)
            log.append(f"end {name}")
            return name

        return task

    tasks = {
        "subjects": step("subjects", 0.05),
        "visits": step("visits", 0.05),
        "labs": step("labs"),
        "conmeds": step("conmeds"),
    }
    after = {"visits": ["subjects"], "labs": ["subjects", "visits"], "conmeds": ["subjects"]}
    run_when_ready(con, tasks, after)
    assert log.index("end subjects") < log.index("start visits")
    assert log.index("end subjects") < log.index("start conmeds")
    assert log.index("end visits") < log.index("start labs")


def test_tasks_that_can_never_start_are_an_error_not_a_hang() -> None:
    con = duckdb.connect()
    with pytest.raises(ValueError, match="labs"):
        run_when_ready(con, {"labs": lambda cur: 1}, {"labs": ["visits"]})


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
        run_when_ready(con, {"endless": endless, "broken": broken}, {})
    assert len(seen) == 1 and isinstance(seen[0], duckdb.InterruptException)


def test_after_a_failure_no_other_task_starts() -> None:
    con = duckdb.connect()
    ran: list[str] = []

    def fail(cur: duckdb.DuckDBPyConnection) -> None:
        raise RuntimeError("subjects broke")

    def note(name: str) -> Task[None]:
        return lambda cur: ran.append(name)

    tasks: dict[str, Task[None]] = {"subjects": fail, **{f"t{i}": note(f"t{i}") for i in range(5)}}
    with pytest.raises(RuntimeError, match="subjects broke"):
        run_when_ready(con, tasks, {f"t{i}": ["subjects"] for i in range(5)})
    assert ran == []


def test_a_pass_interrupted_mid_stream_does_not_hide_the_real_failure() -> None:
    """An interrupted streaming result fails as an OSError from Arrow, not as DuckDB's
    InterruptException: it must not be taken for the error, even when it comes first."""
    con = duckdb.connect()
    streaming = threading.Event()

    def stream(cur: duckdb.DuckDBPyConnection) -> None:
        reader = cur.sql("SELECT hash(i) FROM range(10000000000000) t(i)").to_arrow_reader(1024)
        for _ in reader:
            streaming.set()

    def broken(cur: duckdb.DuckDBPyConnection) -> None:
        streaming.wait(5)
        raise ValueError("the real failure")

    with pytest.raises(ValueError, match="the real failure"):
        run_when_ready(con, {"stream": stream, "broken": broken}, {})


def test_before_runs_on_the_calling_thread_and_its_error_stops_the_run() -> None:
    con = duckdb.connect()
    seen: list[tuple[str, bool]] = []

    def before(name: str) -> None:
        seen.append((name, threading.current_thread() is threading.main_thread()))
        if name == "c":
            raise ValueError("c's files are unreadable")

    tasks = {n: (lambda cur, n=n: n) for n in ("a", "b", "c")}
    with pytest.raises(ValueError, match="unreadable"):
        run_when_ready(con, tasks, {"b": ["a"], "c": ["a"]}, workers=2, before=before)
    assert seen == [("a", True), ("b", True), ("c", True)]
