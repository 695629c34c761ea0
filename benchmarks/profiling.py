"""Sampling profiles with py-spy: where the wall time of a command goes, by engine function.

``--idle`` keeps the samples in which the Python thread waits (on DuckDB's worker threads,
on I/O), so the percentages are of wall time, not only of time holding the GIL. The raw
collapsed stacks are kept beside the results for anyone who wants a flame graph.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

_LINE = re.compile(r":\d+\)$")
_WORK = re.compile(r"(^|;)ingest \(federate/ingest/run\.py")  # the engine's entry point
# The command line and the entry point hold ~100% of every sample: they say nothing.
_WRAPPER = re.compile(r"\(federate/cli/|^ingest \(federate/ingest/run\.py")


@dataclass(frozen=True)
class Profile:
    samples: int
    startup: float  # % of wall time importing modules before any work
    functions: list[tuple[float, str]]  # (% of wall time, inclusive) engine functions
    lines: list[tuple[float, str]]  # (% of wall time) the engine's costliest lines
    raw: Path


def py_spy() -> str | None:
    beside = Path(sys.executable).parent / "py-spy"
    return str(beside) if beside.exists() else shutil.which("py-spy")


def record(cmd: Sequence[str | Path], raw: Path, rate: int = 50) -> Profile | None:
    """Profile ``cmd``; None when py-spy is missing or not allowed to sample (ptrace)."""
    spy = py_spy()
    if spy is None:
        return None
    args = [
        spy,
        "record",
        "--idle",
        "-r",
        str(rate),
        "-f",
        "raw",
        "-o",
        str(raw),
        "--",
        *map(str, cmd),
    ]
    done = subprocess.run(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if not raw.exists() or raw.stat().st_size == 0:
        print(f"py-spy gave no profile: {done.stderr.strip()[-300:]}", file=sys.stderr)
        return None
    return summarise(raw)


def summarise(raw: Path, top: int = 18, package: str = "federate/") -> Profile:
    functions: Counter[str] = Counter()
    lines: Counter[str] = Counter()
    total = startup = 0
    for entry in raw.read_text("utf-8", errors="replace").splitlines():
        stack, _, count = entry.rpartition(" ")
        if not count.isdigit():
            continue
        n = int(count)
        total += n
        if "<module>" in stack and not _WORK.search(stack):
            startup += n
        frames = [
            f for f in stack.split(";")
            if package in f and "<module>" not in f and not _WRAPPER.search(f)
        ]  # fmt: skip
        for name in {_LINE.sub(")", f) for f in frames}:
            functions[name] += n
        for line in set(frames[-1:]):  # the innermost engine line: where the time is spent
            lines[line] += n
    pct = 100 / max(total, 1)
    return Profile(
        total,
        startup * pct,
        [(v * pct, k) for k, v in functions.most_common(top)],
        [(v * pct, k) for k, v in lines.most_common(top)],
        raw,
    )
