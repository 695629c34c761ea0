"""Run a command as a child process and measure it from the outside.

Peak memory is the child's own ``ru_maxrss`` from ``os.wait4``: the kernel's high-water mark of
its resident set, which counts DuckDB's and Arrow's native allocations that no Python-level
tracer sees. ``RUSAGE_CHILDREN`` would not do: it is the maximum over *every* child ever
waited for, so a small run after a big one would report the big one's peak.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

# ru_maxrss is in kilobytes on Linux, in bytes on macOS.
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


@dataclass(frozen=True)
class Run:
    """One measured child process."""

    wall_s: float
    peak_rss: int  # bytes
    returncode: int
    stderr_tail: str


class CommandFailed(RuntimeError):
    pass


def run(
    cmd: Sequence[str | Path],
    *,
    ok: Sequence[int] = (0,),
    on_start: Callable[[int], None] | None = None,
) -> Run:
    """Run ``cmd`` to completion; wall time includes interpreter start-up, as a user sees it.
    ``on_start`` gets the child's pid (e.g. a sampler watching /proc/<pid>)."""
    args = [str(c) for c in cmd]
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err)
        if on_start:
            on_start(proc.pid)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here: tell Popen
        err.seek(0)
        tail = err.read().decode("utf-8", errors="replace")[-2000:]
    if proc.returncode not in ok:
        raise CommandFailed(f"{' '.join(args)} exited {proc.returncode}:\n{tail}")
    return Run(wall, usage.ru_maxrss * _RSS_UNIT, proc.returncode, tail)


@dataclass(frozen=True)
class Repeated:
    """Several runs of one command; figures use the median (the machine is shared)."""

    runs: tuple[Run, ...]

    @property
    def wall_s(self) -> float:
        return statistics.median(r.wall_s for r in self.runs)

    @property
    def peak_rss(self) -> int:
        return max(r.peak_rss for r in self.runs)

    @property
    def walls(self) -> str:
        return ", ".join(f"{r.wall_s:.2f}" for r in self.runs)


@dataclass(frozen=True)
class Command:
    cmd: Sequence[str | Path]
    ok: Sequence[int] = (0,)
    before: Callable[[], None] | None = None  # untimed, e.g. remove the last output
    on_start: Callable[[int], None] | None = None  # first run only


def interleaved(
    commands: dict[str, Command], n: int, budget_s: float | None = None
) -> dict[str, Repeated]:
    """Run several commands in rounds (A B C, A B C, ...) so that load drifting on a shared
    machine hits each alike; a command whose first run exceeds ``budget_s`` runs once."""
    runs: dict[str, list[Run]] = {name: [] for name in commands}
    for _ in range(max(1, n)):
        for name, c in commands.items():
            done = runs[name]
            if done and budget_s is not None and done[0].wall_s > budget_s:
                continue
            if c.before:
                c.before()
            done.append(run(c.cmd, ok=c.ok, on_start=None if done else c.on_start))
    return {name: Repeated(tuple(r)) for name, r in runs.items()}


def gb(n: int) -> str:
    """Decimal gigabytes: the stricter reading of the issue's "1.5 GB"."""
    return f"{n / 1e9:.2f} GB"
