"""What the figures were measured on: commit, hardware, load and library versions.

Absolute times mean little without this; the ratios are what the targets judge.
"""

from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIBRARIES = (
    "duckdb",
    "pyarrow",
    "polars",
    "pandas",
    "pandera",
    "python-calamine",
    "pyreadstat",
    "lxml",
    "py-spy",
)


def commit() -> str:
    """HEAD, marked ``+dirty`` when the working tree differs (other engineers edit concurrently,
    so the engine measured may be ahead of the commit)."""
    try:
        head = _git("rev-parse", "--short=12", "HEAD")
        dirty = _git(
            "status",
            "--porcelain",
            "--untracked-files=no",
            "--",
            "federate",
            "schemas",
            "site_adapters",
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown (not a git checkout)"
    return head + ("+dirty (uncommitted engine changes)" if dirty else "")


def _git(*args: str) -> str:
    return subprocess.run(
        ["git", *args], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.strip()


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def available_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def load() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in LIBRARIES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def describe() -> dict[str, str]:
    mem = memory_bytes()
    return {
        "commit": commit(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": cpu_model(),
        "nproc": str(os.cpu_count()),
        "memory": f"{mem / 1e9:.1f} GB" if mem else "unknown",
        **versions(),
    }
