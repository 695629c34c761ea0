"""Plans: the subjects' sources are resolved before any work, the others beside the subjects
table's staging, and a file's error wins over a table's."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from federate.adapters.declaration import TableMap
from federate.errors import InputError, Location
from federate.ingest.plans import Plans
from federate.readers.base import Reader, Reject, Source


class Recording(Reader):
    """Records what it was asked to prepare, from which thread; fails on ``bad``."""

    def __init__(self, bad: str | None = None, hold: threading.Event | None = None):
        self.prepared: list[tuple[list[str], bool]] = []
        self.bad = bad
        self.hold = hold

    def prepare(self, sources: list[Source]) -> None:
        if self.hold is not None and any(s.relpath != "dm.csv" for s in sources):
            assert self.hold.wait(5)
        main = threading.current_thread() is threading.main_thread()
        self.prepared.append(([s.relpath for s in sources], main))

    def columns(self, source: Source) -> list[str]:
        if source.relpath == self.bad:
            raise InputError("unreadable", code="bad", where=Location(file=source.relpath))
        return ["ID"]

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        raise NotImplementedError


def _found(tmp_path: Path) -> list[tuple[TableMap, Source]]:
    return [
        (TableMap(table, name, fields={}), Source(tmp_path / name, name))
        for table, name in (("visits", "sv.csv"), ("subjects", "dm.csv"), ("labs", "lb.csv"))
    ]


def test_the_subjects_sources_first_the_others_on_a_thread(tmp_path: Path) -> None:
    hold = threading.Event()
    reader = Recording(hold=hold)
    with Plans(reader, _found(tmp_path), "subjects", ahead=True) as plans:
        # The subjects' plan is there while the others are still being resolved.
        assert plans[1].source.relpath == "dm.csv"
        assert reader.prepared == [(["dm.csv"], True)]
        hold.set()
        assert [plans[i].source.relpath for i in (0, 2)] == ["sv.csv", "lb.csv"]
    assert reader.prepared[1] == (["sv.csv", "lb.csv"], False)


def test_without_ahead_every_plan_is_resolved_at_once(tmp_path: Path) -> None:
    reader = Recording()
    with Plans(reader, _found(tmp_path), "subjects", ahead=False) as plans:
        # Two files at a time, all before any work, on the calling thread.
        assert reader.prepared == [(["sv.csv", "dm.csv"], True), (["lb.csv"], True)]
        assert plans[0].header == ["ID"]


def test_ctrl_c_stops_resolving_the_other_files(tmp_path: Path) -> None:
    found = [
        (TableMap(table, f"{table}.csv", fields={}), Source(tmp_path / f"{table}.csv", table))
        for table in ("subjects", "a", "b", "c", "d", "e", "f")
    ]

    class Slow(Recording):
        def prepare(self, sources: list[Source]) -> None:
            super().prepare(sources)
            if sources[0].relpath != "subjects":
                time.sleep(0.2)

    reader = Slow()
    with pytest.raises(KeyboardInterrupt), Plans(reader, found, "subjects", ahead=True):
        time.sleep(0.05)  # the first pair is being inspected
        raise KeyboardInterrupt
    assert len(reader.prepared) == 2  # the subjects, and the one pair begun: not all three


def test_a_later_files_error_is_raised_where_its_plan_is_asked_for(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match="unreadable"),
        Plans(Recording(bad="lb.csv"), _found(tmp_path), "subjects", ahead=True) as plans,
    ):
        assert plans[1].source.relpath == "dm.csv"
        plans[0]  # waits on every later plan, so raises lb.csv's error


def test_a_files_error_wins_over_the_error_that_ended_the_staging(tmp_path: Path) -> None:
    with (
        pytest.raises(InputError, match="unreadable"),
        Plans(Recording(bad="lb.csv"), _found(tmp_path), "subjects", ahead=True),
    ):
        raise RuntimeError("the subjects table failed")


def test_ctrl_c_is_not_replaced(tmp_path: Path) -> None:
    with (
        pytest.raises(KeyboardInterrupt),
        Plans(Recording(bad="lb.csv"), _found(tmp_path), "subjects", ahead=True),
    ):
        raise KeyboardInterrupt
