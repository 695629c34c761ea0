"""The limits of one query command, and what enforces each.

- **Time** (``--timeout``): one deadline for the whole command - opening the session, running
  the query, fetching every batch and writing the output. DuckDB is interrupted from a timer
  thread at the deadline (again and again: one interrupt sent before a query starts is lost);
  between batches the deadline is checked, so writing stops too.
- **Memory** (``--memory-limit``): DuckDB's own limit (nothing spills to disk), and, for the
  command as a whole, a cap on the process's data segment (``RLIMIT_DATA``, Linux) of its size
  once the session is open plus twice the limit (and some slack for what DuckDB's threads
  reserve). DuckDB builds some values outside its buffer
  manager (a ``repeat('x', 2000000000)`` string is one 2 GB allocation it does not count), and
  results are converted to Arrow outside it too; the cap refuses both, cleanly, at the
  allocation.
- **Size** (``--max-rows``, ``--max-bytes``): results stream as Arrow record batches, never
  whole; a result past either bound is refused, naming the option, and never truncated.
"""

from __future__ import annotations

import os
import re
import resource
import select
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from federate.errors import UsageError
from federate.query.statement import first_line

BATCH_ROWS = 65_536
_UNITS = {
    "": 1,
    "b": 1,
    "kb": 1000,
    "mb": 1000**2,
    "gb": 1000**3,
    "tb": 1000**4,
    "kib": 1024,
    "mib": 1024**2,
    "gib": 1024**3,
    "tib": 1024**4,
}
_SIZE = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*", re.I)
_SMALLEST_MEMORY = 16 * 1000**2


def size_in_bytes(text: str, option: str) -> int:
    """``text`` such as 500MB, 2GB or 1.5GiB (KB = 1000 bytes, KiB = 1024), in bytes."""
    match = _SIZE.fullmatch(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise UsageError(
            f"{option} {text!r} is not a size: write a number and a unit, e.g. 500MB or 2GB",
            code="bad-size",
        )
    return int(float(match.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class Limits:
    """The bounds of one query command (their options are named in its refusals)."""

    seconds: float = 60.0
    memory: str = "2GB"
    max_rows: int = 1_000_000
    max_bytes: str = "1GB"

    def __post_init__(self) -> None:
        if self.memory_bytes < _SMALLEST_MEMORY:
            raise UsageError(
                f"--memory-limit {self.memory} is too small: at least 16MB", code="bad-size"
            )
        if self.max_rows < 0 or self.max_bytes_n < 0:
            raise UsageError("--max-rows and --max-bytes cannot be negative", code="bad-size")

    @property
    def memory_bytes(self) -> int:
        return size_in_bytes(self.memory, "--memory-limit")

    @property
    def max_bytes_n(self) -> int:
        return size_in_bytes(self.max_bytes, "--max-bytes")

    @property
    def duckdb_memory(self) -> str:
        """DuckDB's memory_limit setting, in bytes (its own units are not ours)."""
        return f"{self.memory_bytes}b"


def memory_refusal(limits: Limits) -> UsageError:
    return UsageError(
        f"refused: the query needs more than the memory limit ({limits.memory}, "
        "--memory-limit) and was stopped; nothing was written",
        code="sql-memory",
    )


def overtime(limits: Limits) -> UsageError:
    return UsageError(
        f"refused: the command ran past the time limit ({limits.seconds:g} s, --timeout) and "
        "was stopped; nothing was written",
        code="sql-timeout",
    )


def _vm_data() -> int | None:
    """This process's data segment in bytes (what RLIMIT_DATA counts), where Linux says."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmData:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        return None
    return None


# What DuckDB, Arrow and the threads they start may still reserve (virtual, mostly never
# touched) once the session is open and before its first query.
SLACK = 256 * 1000**2


@contextmanager
def process_memory(limits: Limits) -> Iterator[None]:
    """Cap the whole process, for the block, at its data segment now plus twice
    ``limits.memory`` (and SLACK), never above a cap already set: an allocation past it is
    refused as over the memory limit, and the previous cap is restored after. Enter it once
    the session is open (DuckDB reserves its address space when it starts)."""
    now = _vm_data()
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    cap = None if now is None else now + 2 * limits.memory_bytes + SLACK
    if cap is not None and soft != resource.RLIM_INFINITY:
        cap = min(cap, soft)
    if cap is not None and hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if cap is not None:
        resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    except MemoryError:
        raise memory_refusal(limits) from None
    finally:
        if cap is not None:
            resource.setrlimit(resource.RLIMIT_DATA, (soft, hard))


class Deadline:
    """One instant (time.monotonic()) for the whole command, and who is interrupted at it."""

    def __init__(self, limits: Limits, at: float | None = None) -> None:
        self.limits = limits
        self.at = time.monotonic() + limits.seconds if at is None else at
        self.fired = threading.Event()

    def check(self) -> None:
        if time.monotonic() >= self.at:
            self.fired.set()
            raise overtime(self.limits)

    @contextmanager
    def interrupting(self, con: duckdb.DuckDBPyConnection) -> Iterator[None]:
        """Interrupt ``con`` from the deadline on, again and again until the block ends: one
        interrupt sent before the query starts would be lost. Ctrl-C interrupts it too, even
        while DuckDB holds the main thread (Python's signal handler only runs between
        bytecodes; its wakeup file descriptor is written at once), and stays a Ctrl-C."""
        done = threading.Event()
        with _signal_wakeups() as wakeups:

            def watch() -> None:
                interrupted = False
                while not done.is_set():
                    if time.monotonic() >= self.at:
                        self.fired.set()
                    if wakeups is not None and select.select([wakeups], [], [], 0)[0]:
                        interrupted |= bytes([signal.SIGINT]) in os.read(wakeups, 512)
                    if interrupted or self.fired.is_set():
                        con.interrupt()
                    done.wait(min(0.05, max(self.at - time.monotonic(), 0.0)) or 0.05)

            watcher = threading.Thread(target=watch, daemon=True)
            watcher.start()
            try:
                yield
            finally:
                done.set()
                watcher.join()


@contextmanager
def _signal_wakeups() -> Iterator[int | None]:
    """A pipe Python writes each signal's number to as it arrives (main thread only: else
    None), the previous wakeup descriptor restored after."""
    if threading.current_thread() is not threading.main_thread():
        yield None
        return
    read, write = os.pipe()
    os.set_blocking(read, False)
    os.set_blocking(write, False)
    previous = signal.set_wakeup_fd(write, warn_on_full_buffer=False)
    try:
        yield read
    finally:
        signal.set_wakeup_fd(previous)
        os.close(read)
        os.close(write)


@contextmanager
def engine_errors(
    limits: Limits,
    deadline: Deadline | None = None,
    explain: Callable[[str], str] | None = None,
) -> Iterator[None]:
    """DuckDB's errors as the user's: past a limit, refused, or the engine's own message
    (``explain``: in the user's terms, with the nearest name; federate.query.hints)."""
    try:
        yield
    except duckdb.InterruptException:
        if deadline is not None and not deadline.fired.is_set():
            raise KeyboardInterrupt from None  # Ctrl-C, not our timer
        raise overtime(limits) from None
    except duckdb.OutOfMemoryException:
        raise memory_refusal(limits) from None
    except MemoryError:
        raise memory_refusal(limits) from None
    except duckdb.PermissionException as exc:
        raise UsageError(
            f"refused: queries may read only the role's relations ({first_line(exc)})",
            code="sql-refused",
        ) from None
    except duckdb.Error as exc:
        message = explain(str(exc)) if explain else first_line(exc)
        raise UsageError(message, code="sql-error") from None
    except RuntimeError as exc:  # DuckDB's answer to Ctrl-C while it runs
        if str(exc) == "Query interrupted":
            raise KeyboardInterrupt from None
        raise


def _stream_error(exc: Exception, limits: Limits, deadline: Deadline) -> BaseException:
    """An error DuckDB raised through the Arrow stream (as OSError or an Arrow error)."""
    text = first_line(exc)
    if text.startswith("INTERRUPT"):
        return overtime(limits) if deadline.fired.is_set() else KeyboardInterrupt()
    if text.startswith("Out of Memory") or isinstance(exc, MemoryError):
        return memory_refusal(limits)
    return UsageError(text, code="sql-error")


def too_large(limits: Limits, rows: int, nbytes: int) -> UsageError | None:
    if rows > limits.max_rows:
        return UsageError(
            f"refused: the result has more than {limits.max_rows:,} rows (--max-rows); nothing "
            "was written. Aggregate or filter it, or raise --max-rows",
            code="sql-too-large",
        )
    if nbytes > limits.max_bytes_n:
        return UsageError(
            f"refused: the result is larger than {limits.max_bytes} (--max-bytes); nothing was "
            "written. Select fewer columns or rows, or raise --max-bytes",
            code="sql-too-large",
        )
    return None


def checked_batches(
    reader: pa.RecordBatchReader, limits: Limits, deadline: Deadline
) -> Iterator[pa.RecordBatch]:
    """``reader``'s batches, each checked against the deadline, --max-rows and --max-bytes
    before it is handed on; DuckDB's errors on the way become the user's."""
    rows = nbytes = 0
    while True:
        deadline.check()
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            return
        except (OSError, pa.ArrowException, MemoryError) as exc:
            raise _stream_error(exc, limits, deadline) from None
        rows += batch.num_rows
        nbytes += batch.nbytes
        if (refused := too_large(limits, rows, nbytes)) is not None:
            raise refused
        yield batch


def collect(schema: pa.Schema, batches: Iterator[pa.RecordBatch]) -> pa.Table:
    return pa.Table.from_batches(list(batches), schema=schema)


Check = Callable[[], None]
