"""One submission cannot empty a site (issue 23, finding 3), through the CLI only: an export
whose every patient is quarantined still makes a valid, signed bundle, and `pool add` must not
let it replace a good submission unless the operator says --allow-shrink (logged)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.bundles import cli, squeeze
from tests.italy_export import FILES, write_italy_export


def _ingest(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, name: str, exit_code: int = 0, **files: str
) -> Path:
    export = write_italy_export(tmp_path / f"export-{name}", **files)
    code, _, err = cli(capsys, "ingest", "italy", str(export), "--out", str(tmp_path / name))
    assert code == exit_code, err  # 1: rows quarantined, the bundle written all the same
    return tmp_path / name


def _status(capsys: pytest.CaptureFixture[str], wh: Path) -> dict[str, object]:
    code, out, err = cli(capsys, "pool", "status", "--warehouse", str(wh), "--format", "json")
    assert code == 0, err
    (italy,) = [row for row in json.loads(out) if row["site"] == "italy"]
    return dict(italy)


def _every_patient_quarantined() -> str:
    """pazienti.csv with a sex no code list knows, on every patient's row (the Italian
    adapter's spec: sesso is maschio or femmina)."""
    header, *rows = FILES["pazienti.csv"].splitlines()
    spoiled = [
        row.replace(";maschio;", ";ignoto;").replace(";femmina;", ";ignoto;") for row in rows
    ]
    assert all(";ignoto;" in row for row in spoiled)
    return "\n".join([header, *spoiled]) + "\n"


def test_a_submission_whose_every_patient_is_quarantined_does_not_replace_a_good_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = tmp_path / "wh"
    good = _ingest(capsys, tmp_path, "good")
    assert cli(capsys, "pool", "add", str(good), "--warehouse", str(wh))[0] == 0
    before = _status(capsys, wh)
    assert before["subjects"] == 3

    empty = _ingest(capsys, tmp_path, "empty", 1, pazienti=_every_patient_quarantined())
    code, out, err = cli(capsys, "pool", "add", str(empty), "--warehouse", str(wh))
    assert code == 3 and out == "", err
    assert "(site-shrinks)" in err and "--allow-shrink" in err
    assert "subjects3→0" in squeeze(err)  # what would change, per table
    assert "mri5→0" in squeeze(err)
    assert _status(capsys, wh) == before  # the good submission stays current
    assert cli(capsys, "pool", "verify", "--warehouse", str(wh))[0] == 0
    log = [json.loads(line) for line in (wh / "audit.jsonl").read_text("utf-8").splitlines()]
    assert log[-1]["outcome"] == "refused" and "site-shrinks" in log[-1]["reason"]

    # Said on purpose: published, and the log keeps that it was allowed.
    code, _, err = cli(capsys, "pool", "add", str(empty), "--warehouse", str(wh), "--allow-shrink")
    assert code == 0, err
    assert _status(capsys, wh)["subjects"] == 0
    log = [json.loads(line) for line in (wh / "audit.jsonl").read_text("utf-8").splitlines()]
    assert log[-1]["outcome"] == "ok" and "--allow-shrink" in log[-1]["reason"]
    assert "subjects 3 → 0" in log[-1]["reason"]
    assert cli(capsys, "pool", "verify", "--warehouse", str(wh))[0] == 0


def test_fewer_rows_but_not_fewer_than_half_are_published(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Half or more of every table is an ordinary update, not a shrink."""
    wh = tmp_path / "wh"
    good = _ingest(capsys, tmp_path, "good")
    assert cli(capsys, "pool", "add", str(good), "--warehouse", str(wh))[0] == 0
    header, *rows = FILES["rm.csv"].splitlines()
    fewer = _ingest(capsys, tmp_path, "fewer", rm="\n".join([header, *rows[:3]]) + "\n")
    code, _, err = cli(capsys, "pool", "add", str(fewer), "--warehouse", str(wh))
    assert code == 0, err
    assert _status(capsys, wh)["mri"] == 3
