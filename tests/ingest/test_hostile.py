"""Hostile exports through the command line (issue 23): each stops with exit 2 naming the file,
within bounded memory, and leaves nothing behind."""

from __future__ import annotations

import os
import resource
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from federate.adapters import registry
from federate.errors import InputError
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey
from federate.readers.base import ROW_COLUMN, Reject, Source
from federate.readers.csv import CsvReader
from federate.synth import run as synth_run
from tests.italy_export import FILES, write_italy_export
from tests.readers.ooxml import inline, number, row, shared, write_workbook
from tests.site_adapters.denmark_export import export as denmark_export

GIGABYTE = 1 << 30


def ingest_cli(
    site: str, export: Path, out: Path, *, memory: int | None = None, timeout: float | None = None
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
        timeout=timeout,
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


def _junk_mri(rows: int) -> str:
    """The MRI file's header, then ``rows`` rows of no patient the export has, with a date
    that is no date: every one is quarantined."""
    header = FILES["rm.csv"].splitlines()[0]
    line = "999{:06d};BASALE;99/99/9999;x;x;x;x;x;x;x\n"
    return header + "\n" + "".join(line.format(i) for i in range(rows))


def test_an_export_quarantining_most_of_a_file_stops_with_the_first_reasons(
    tmp_path: Path,
) -> None:
    """30,000 junk rows: refused as not the expected export (more than 10,000, and more than
    half, are quarantined), nothing written."""
    export = write_italy_export(tmp_path / "export", rm=_junk_mri(30_000))
    done = ingest_cli("italy", export, tmp_path / "bundle")
    assert done.returncode == 2, done.stderr[-2000:]
    err = " ".join(done.stderr.split())
    assert "this is not the expected export" in err and "file rm.csv" in err, err
    assert "First reasons: row 2, column 'data_rm': invalid-date" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "italy.key"]


@pytest.mark.parametrize(("junk", "code"), [(10_000, 1), (10_001, 2)])
def test_the_flood_limit_is_more_than_10000_rows(tmp_path: Path, junk: int, code: int) -> None:
    export = write_italy_export(tmp_path / "export", rm=_junk_mri(junk))
    done = ingest_cli("italy", export, tmp_path / "bundle")
    assert done.returncode == code, done.stderr[-2000:]


def test_a_flood_stops_the_stream_long_before_the_file_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, site_key: SiteKey
) -> None:
    """The MRI file as a reader that gives junk rows until 2M have been taken: the ingest stops
    within the first million (the pass checks after each of its 131,072-row batches, and DuckDB
    reads ahead of it), where 5M junk rows grew a quarantine of 8.9 GB."""
    real = CsvReader.batches
    pulled = 0

    def endless(self: CsvReader, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        nonlocal pulled
        batches = real(self, source, rejects)
        if source.relpath != "rm.csv":
            yield from batches
            return
        first = next(batches)
        for k in range(1000):  # 2,000 rows each
            rows = range(k * 2000, (k + 1) * 2000)
            columns = {
                name: [f"9{i:09d}" if at == 0 else "x" for i in rows]
                for at, name in enumerate(first.schema.names[:-1])
            }
            columns[ROW_COLUMN] = [i + 2 for i in rows]
            pulled += 2000
            yield pa.RecordBatch.from_pydict(columns, schema=first.schema)
        raise AssertionError("2M junk rows taken and the ingest did not stop")

    monkeypatch.setattr(CsvReader, "batches", endless)
    export = write_italy_export(tmp_path / "export")
    with pytest.raises(InputError) as caught:
        ingest(registry.adapter("italy"), export, tmp_path / "bundle", site_key)
    assert caught.value.code == "not-the-expected-export"
    assert pulled < 1_000_000, pulled
    assert not (tmp_path / "bundle").exists()


def _fifo(path: Path) -> None:
    path.unlink()
    os.mkfifo(path)


def _folder(path: Path) -> None:
    path.unlink()
    path.mkdir()
    (path / "rm.csv").write_text("id_paziente\n000123\n")


@pytest.mark.parametrize(
    ("site", "name", "make", "kind"),
    [
        ("italy", "rm.csv", _fifo, "a FIFO (named pipe)"),
        ("italy", "rm.csv", _folder, "a folder"),
        ("denmark", "dictionary.csv", _fifo, "a FIFO (named pipe)"),
    ],
)
def test_a_fifo_or_folder_in_place_of_a_file_is_named_as_such_never_opened(
    tmp_path: Path, site: str, name: str, make: Callable[[Path], None], kind: str
) -> None:
    """Not "the export has no rm.csv"; and a FIFO is never opened: a read would wait for a
    writer for ever (the child is given a minute)."""
    if site == "italy":
        export = write_italy_export(tmp_path / "export")
    else:
        export = denmark_export(tmp_path / "export")
    make(export / name)
    done = ingest_cli(site, export, tmp_path / "bundle", timeout=60)
    assert done.returncode == 2, done.stderr[-2000:]
    err = " ".join(done.stderr.split())
    assert f"{name} is {kind}, not a file" in err and f"file {name}" in err, err
    assert "export has no" not in err
    assert not (tmp_path / "bundle").exists()


@pytest.mark.parametrize("fraction", [0.3, 0.7, 0.99])
def test_a_truncated_workbook_is_refused_with_exit_2(tmp_path: Path, fraction: float) -> None:
    """A simulated UK workbook cut short: refused whole, never partly loaded."""
    trial = synth_run(tmp_path / "trial", seed=7, counts={"uk": 5})
    export = trial.export_dir("uk")
    book = export / "MESEMS_UK.xlsx"
    data = book.read_bytes()
    book.write_bytes(data[: int(len(data) * fraction)])
    done = ingest_cli("uk", export, tmp_path / "bundle")
    assert done.returncode == 2, done.stderr[-2000:]
    err = " ".join(done.stderr.split())
    assert "cannot be read as a workbook" in err and "file MESEMS_UK.xlsx" in err, err
    assert not (tmp_path / "bundle").exists()


def _junk_patients(book: Path, rows: int) -> None:
    """The workbook with its Patients sheet's records replaced by ``rows`` rows of junk under
    the same header (row 3): the rest of the package, the other sheets, as they were."""
    from federate.readers.excel_package import sheet_part

    tmp = book.with_suffix(".tmp")
    with zipfile.ZipFile(book) as old, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as new:
        part = sheet_part(old, "Patients")
        for item in old.infolist():
            data = old.read(item.filename)
            if item.filename != part:
                new.writestr(item.filename, data)
                continue
            head, rest = data.split(b"</sheetData>", 1)
            head = head[: head.index(b'<row r="4"')]
            with new.open(part, "w", force_zip64=True) as out:
                out.write(head)
                for n in range(4, rows + 4):
                    out.write(row(n, *(inline(f"{c}{n}", "junk") for c in "ABCDEFGH")))
                out.write(b"</sheetData>" + rest)
    tmp.replace(book)


def test_a_workbook_of_junk_rows_stops_as_not_the_expected_export(tmp_path: Path) -> None:
    """The issue's 5M junk rows wrote an 8.9 GB quarantine and were killed at 23.7 GB: here
    50,000 stop the run with exit 2, its peak resident memory bounded, nothing left."""
    trial = synth_run(tmp_path / "trial", seed=7, counts={"uk": 5})
    export = trial.export_dir("uk")
    _junk_patients(export / "MESEMS_UK.xlsx", 50_000)
    (tmp_path / "out").mkdir()
    done, peak_kib = _ingest_with_peak("uk", export, tmp_path / "out" / "bundle")
    assert done.returncode == 2, done.stderr[-2000:]
    # This child's own peak (kilobytes on Linux): 1.06 to 1.6 GB measured from run to run (the
    # Excel reader and DuckDB's 512 MB working set; to be brought down with issue 27), where the
    # issue's run grew until it was killed at 23.7 GB: the bound holds the stop, not the size.
    assert peak_kib < 3 * GIGABYTE // 1024
    err = " ".join(done.stderr.split())
    assert "this is not the expected export" in err and "file MESEMS_UK.xlsx" in err, err
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["uk.key"]


def test_a_file_of_records_that_cannot_be_split_stops_too(tmp_path: Path) -> None:
    """Records with two fields too many never reach the mapping (the reader sets them aside):
    30,000 of them were accepted with exit 1; they count towards the limit as they are read."""
    header = FILES["rm.csv"].splitlines()[0]
    line = "000123;BASALE;05/03/2013;1,5;2;1;3;12,50;1.500,0;sì;extra;{}\n"
    rm = header + "\n" + "".join(line.format(i) for i in range(30_000))
    export = write_italy_export(tmp_path / "export", rm=rm)
    done = ingest_cli("italy", export, tmp_path / "bundle")
    assert done.returncode == 2, done.stderr[-2000:]
    err = " ".join(done.stderr.split())
    assert "this is not the expected export" in err and "file rm.csv" in err, err
    assert "First reasons: row 2: malformed-row" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export", "italy.key"]


def _ingest_with_peak(
    site: str, export: Path, out: Path
) -> tuple[subprocess.CompletedProcess[str], int]:
    """``federate ingest`` in a child, with that child's own peak resident memory (os.wait4:
    RUSAGE_CHILDREN would be the largest of every child this test session ever waited for)."""
    key = out.parent / f"{site}.key"
    key.write_text("ab" * 32)
    key.chmod(0o600)
    args = ["ingest", site, str(export), "--out", str(out), "--key-file", str(key)]
    log = out.parent.parent / f"{site}-stderr.txt"  # beside "out", which must hold nothing else
    with log.open("wb") as err:
        child = subprocess.Popen(
            [sys.executable, "-m", "federate", *args], stdout=subprocess.DEVNULL, stderr=err
        )
        _, status, usage = os.wait4(child.pid, 0)  # reaped here, with its own usage
    child.returncode = os.waitstatus_to_exitcode(status)
    stderr = log.read_text("utf-8", "replace")
    return subprocess.CompletedProcess(child.args, child.returncode, "", stderr), usage.ru_maxrss
