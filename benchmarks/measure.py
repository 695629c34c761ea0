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
import time
from collections.abc import Sequence
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
    env: dict[str, str] | None = None,
    stdout: Path | None = None,
) -> Run:
    """Run ``cmd`` to completion; wall time includes interpreter start-up, as a user sees it."""
    args = [str(c) for c in cmd]
    out = stdout.open("wb") if stdout else subprocess.DEVNULL
    err_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"bench-stderr-{os.getpid()}.txt"
    with err_path.open("wb") as err:
        start = time.perf_counter()
        proc = subprocess.Popen(args, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
    if stdout:
        out.close()  # type: ignore[union-attr]
    tail = err_path.read_text("utf-8", errors="replace")[-2000:]
    err_path.unlink(missing_ok=True)
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


def repeat(
    n: int,
    cmd: Sequence[str | Path],
    *,
    ok: Sequence[int] = (0,),
    env: dict[str, str] | None = None,
    before: object = None,
) -> Repeated:
    """Run ``cmd`` ``n`` times; ``before`` (a callable) runs untimed before each, e.g. to remove
    the previous run's output."""
    runs = []
    for _ in range(max(1, n)):
        if callable(before):
            before()
        runs.append(run(cmd, ok=ok, env=env))
    return Repeated(tuple(runs))


def gb(n: int) -> str:
    """Decimal gigabytes: the stricter reading of the issue's "1.5 GB"."""
    return f"{n / 1e9:.2f} GB"
