"""Where in an ingest the memory goes: the child's resident set sampled from ``/proc`` next to
the newest file in its staging folder, so each peak is attributed to a phase (mapping a form,
settling a table, writing the quarantine). Linux only; elsewhere it returns nothing.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Phase:
    label: str  # the newest file in the staging folder while the phase ran
    start_s: float
    end_s: float
    peak_rss: int  # bytes


def _rss(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _newest(parent: Path, prefix: str) -> str:
    files = [p for stage in parent.glob(prefix + "*") for p in stage.rglob("*") if p.is_file()]
    if not files:
        return "(reading, before the first table)"
    newest = max(files, key=lambda p: p.stat().st_mtime_ns)
    return newest.name


class Sampler:
    """Samples a running ingest (which stages its bundle in ``.<name>.staging-*`` beside it)
    from a thread: start it with the child's pid, stop it after the child has exited."""

    def __init__(self, bundle: Path, every_s: float = 0.25):
        self.bundle = bundle
        self.every_s = every_s
        self.phases: list[Phase] = []
        self._thread: threading.Thread | None = None
        self._done = threading.Event()

    def start(self, pid: int) -> None:
        self._thread = threading.Thread(target=self._poll, args=(pid,), daemon=True)
        self._thread.start()

    def stop(self) -> list[Phase]:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
        return merged(self.phases)

    def _poll(self, pid: int) -> None:
        start = time.perf_counter()
        prefix = f".{self.bundle.name}.staging-"
        label, since, peak = "(start-up)", 0.0, 0
        while not self._done.is_set():
            rss = _rss(pid)
            if rss is None:  # the child has exited
                break
            now = time.perf_counter() - start
            try:
                current = _newest(self.bundle.parent, prefix)
            except OSError:  # a file renamed while listing
                current = label
            if self.phases and current.startswith("(reading"):
                current = "(bundle moved into place, exiting)"  # the staging folder is gone
            if current != label:
                self.phases.append(Phase(label, since, now, peak))
                label, since, peak = current, now, 0
            peak = max(peak, rss)
            time.sleep(self.every_s)
        self.phases.append(Phase(label, since, time.perf_counter() - start, peak))


def merged(phases: list[Phase]) -> list[Phase]:
    """Consecutive samples of one label as one phase; phases under half a second dropped."""
    out: list[Phase] = []
    for p in phases:
        if out and out[-1].label == p.label:
            last = out.pop()
            p = Phase(p.label, last.start_s, p.end_s, max(last.peak_rss, p.peak_rss))
        out.append(p)
    return [p for p in out if p.end_s - p.start_s >= 0.5]
