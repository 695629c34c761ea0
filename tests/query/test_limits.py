"""`federate query`'s limits bound the whole command (issue 23, finding 6): the process's memory,
not only DuckDB's; the time of fetching and writing, not only of the query; and the size of the
result, refused whole rather than cut."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from federate.privacy.pseudonym import SiteKey
from federate.warehouse import publish
from tests.bundles import build_bundle, cli, json_error, squeeze

MB = 1024 * 1024


@pytest.fixture
def wh(tmp_path: Path, site_key: SiteKey) -> Path:
    root = tmp_path / "wh"
    publish.add(build_bundle(tmp_path / "it", site_key), root)
    return root


def _peak(*args: str, timeout: float = 120) -> tuple[int, str, int]:
    """(exit code, stderr, peak resident memory in bytes) of ``federate ARGS`` in a process
    of its own, measured by a parent that runs nothing else (ru_maxrss of its children)."""
    probe = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)\n"
        "sys.stderr.buffer.write(done.stderr)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    command = [sys.executable, "-c", probe, sys.executable, "-m", "federate", *args]
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=os.environ)
    code, kib = done.stdout.split()
    return int(code), done.stderr, int(kib) * 1024


def test_memory_limit_bounds_the_whole_process(tmp_path: Path, wh: Path) -> None:
    """SELECT * FROM range(150000000) peaked at 5.5 GB and repeat('x', 2000000000) at 4.1 GB
    with --memory-limit 500MB: each is now refused within twice the limit over the
    interpreter's own baseline, and a result larger than the limit streams to its file."""
    base = ["--warehouse", str(wh)]
    code, err, baseline = _peak("query", "SELECT 1", *base, "--format", "csv")
    assert code == 0, err
    bound = baseline + 2 * 500 * MB
    code, err, peak = _peak(
        "query", "SELECT * FROM range(150000000)", *base, "--memory-limit", "500MB"
    )
    assert code == 2 and "(sql-too-large)" in squeeze(err) and "--max-rows" in err, err
    assert peak <= bound, (peak // MB, baseline // MB)
    sql = "SELECT repeat('x', 2000000000) AS s"
    code, err, peak = _peak("query", sql, *base, "--memory-limit", "500MB", "--format", "csv")
    assert code == 2 and "(sql-memory)" in squeeze(err) and "--memory-limit" in err, err
    assert peak <= bound, (peak // MB, baseline // MB)
    # 30 million rows (240 MB as Arrow) within 100MB: only if they stream, batch by batch.
    out = tmp_path / "r.parquet"
    many = ["--max-rows", "30000000", "--max-bytes", "1GB", "--memory-limit", "100MB"]
    code, err, peak = _peak(
        "query", "SELECT * FROM range(30000000)", *base, *many, "--format", "parquet",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, err
    assert pq.ParquetFile(out).metadata.num_rows == 30_000_000
    assert peak <= baseline + 2 * 100 * MB, (peak // MB, baseline // MB)


@pytest.mark.parametrize("fmt", ["csv", "json", "parquet"])
def test_a_result_past_max_rows_or_max_bytes_is_refused_never_cut(
    tmp_path: Path, wh: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    sql = "SELECT range AS n FROM range(1000)"
    out = tmp_path / f"r.{fmt}"
    args = ["--warehouse", str(wh), "--format", fmt, "--out", str(out)]
    for limit, option in (("--max-rows", "999"), ("--max-bytes", "4KB")):
        code, stdout, err = cli(capsys, "query", sql, *args, limit, option)
        assert code == 2 and "(sql-too-large)" in squeeze(err), (limit, err)
        assert limit in err and "nothing was written" in err
        if fmt == "json":  # the error, as JSON, and nothing else on stdout
            assert json_error(stdout)["code"] == "sql-too-large"
        else:
            assert stdout == ""
        assert not out.exists() and not any(p.name.startswith(".r.") for p in tmp_path.iterdir())
    code, _, err = cli(capsys, "query", sql, *args, "--max-rows", "1000", "--max-bytes", "16KB")
    assert code == 0, err
    assert out.exists()


def test_a_refused_result_prints_nothing_on_stdout(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Refused after many batches were fetched: still no partial CSV on stdout."""
    sql = "SELECT range AS n FROM range(300000)"
    args = ["--warehouse", str(wh), "--format", "csv", "--max-rows", "299999"]
    code, out, err = cli(capsys, "query", sql, *args)
    assert (code, out) == (2, "") and "--max-rows" in err
    code, out, _ = cli(capsys, "query", sql, "--warehouse", str(wh), "--format", "csv")
    assert code == 0 and out.splitlines()[1:3] == ["0", "1"] and len(out.splitlines()) == 300001


def test_the_timeout_covers_fetching_and_writing(
    tmp_path: Path, wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """DuckDB makes these rows in a blink; writing them as JSON takes many seconds. The
    time limit stops the writing too, and leaves no file."""
    sql = "SELECT range AS n, 'x' AS s FROM range(3000000)"
    out = tmp_path / "r.json"
    args = ["--warehouse", str(wh), "--format", "json", "--out", str(out), "--timeout", "1"]
    started = time.monotonic()
    code, stdout, err = cli(capsys, "query", sql, *args, "--max-rows", "3000000")
    assert code == 2 and json_error(stdout)["code"] == "sql-timeout", err
    assert time.monotonic() - started < 6
    assert not out.exists()


def test_a_size_that_is_not_one_is_a_usage_error(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--memory-limit lots ended in an internal error (exit 70)."""
    for option, value in (("--memory-limit", "lots"), ("--max-bytes", "1 parsec")):
        code, _, err = cli(capsys, "query", "SELECT 1", "--warehouse", str(wh), option, value)
        assert code == 2 and "(bad-size)" in squeeze(err) and option in err, err


def test_ctrl_c_exits_130_with_one_line(wh: Path) -> None:
    """Ctrl-C while DuckDB runs was an internal error (exit 70, DuckDB's RuntimeError); run as
    `python -m federate`, DuckDB did not even notice it until the query ended."""
    sql = "SELECT sum(a.range * b.range) FROM range(200000) AS a, range(200000) AS b"
    running = subprocess.Popen(
        [sys.executable, "-m", "federate", "query", sql, "--warehouse", str(wh)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    time.sleep(6)  # the interpreter started, the query running (it would run for 60 s)
    running.send_signal(signal.SIGINT)
    sent = time.monotonic()
    out, err = running.communicate(timeout=90)
    assert running.returncode == 130, err
    assert time.monotonic() - sent < 20  # DuckDB interrupted, not waited for
    assert out == "" and "Ctrl-C" in err and "Traceback" not in err and "internal" not in err
