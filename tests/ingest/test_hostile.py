"""Hostile exports through the command line (issue 23): each stops with exit 2 naming the file,
within bounded memory, and leaves nothing behind."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.readers.ooxml import inline, number, row, shared, write_workbook

GIGABYTE = 1 << 30


def ingest_cli(
    site: str, export: Path, out: Path, *, memory: int | None = None, **env: str
) -> subprocess.CompletedProcess[str]:
    """``federate ingest`` in a child process, its address space capped at ``memory`` bytes."""
    key = out.parent / f"{site}.key"
    if not key.exists():
        key.write_text("ab" * 32)
        key.chmod(0o600)

    def cap() -> None:
        if memory is not None:
            resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    args = ["ingest", site, str(export), "--out", str(out), "--key-file", str(key)]
    return subprocess.run(
        [sys.executable, "-m", "federate", *args],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=cap,
        env={**os.environ, **env},
    )


def _gigantic_string() -> Iterator[bytes]:
    """One shared string of 1.5 GB (the issue's), streamed into the package."""
    yield b"<si><t>"
    for _ in range(1536):
        yield b"x" * (1 << 20)
    yield b"</t></si>"


HEADER = row(1, inline("A1", "Trial No"), inline("B1", "Sex"))


@pytest.mark.parametrize("case", ["cell-at-XFD1048576", "1.5-GB-shared-string"])
def test_a_hostile_workbook_is_refused_with_exit_2_within_1_gb(tmp_path: Path, case: str) -> None:
    export = tmp_path / "export"
    export.mkdir()
    book = export / "MESEMS_UK.xlsx"
    if case == "cell-at-XFD1048576":
        write_workbook(book, {"Patients": [HEADER, row(1_048_576, number("XFD1048576", 1))]})
        assert book.stat().st_size < 48_000
        words = ["A1:XFD1048576", "sheet 'Patients'"]
    else:
        write_workbook(book, {"Patients": [HEADER, row(2, shared("A2", 0))]}, _gigantic_string())
        words = ["shared-string table", "1,536 MB"]  # refused by its size, never inflated
    done = ingest_cli("uk", export, tmp_path / "bundle", memory=GIGABYTE)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "MESEMS_UK.xlsx" in done.stderr and "Traceback" not in done.stderr
    for word in words:
        assert word in done.stderr, done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "uk.key"]
