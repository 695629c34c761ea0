"""Publishing as a write-ahead sequence (issue 23, finding 2): a crash at any step of an add or a
rollback is settled by the next command, to the old or the new state, the audit log saying
which; never a false alarm from `pool verify`, never an "ok" for what was not published.

A crash is a SIGKILL at a named step (``FEDERATE_TEST_CRASH_AT``, federate.warehouse.fs) of a
`federate pool` run in a child process; what follows runs through the CLI.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from federate.privacy.pseudonym import SiteKey
from federate.warehouse.fs import CRASH_ENV
from tests.bundles import build_bundle, cli, manifest_of

MakeBundle = Callable[..., Path]

_MRI_THREE_ROWS = (  # a newer submission of the hand-written export
    "id_paziente;visita;data_rm;campo_tesla;lesioni_gd;lesioni_t2_nuove;lesioni_cua;"
    "volume_t2_ml;volume_cerebrale_ml;lettura_centrale\n"
    "000123;SETT4;02/04/2013;3;0;0;0;12,00;1499,5;sì\n"
    "000123;SETT12;28/05/2013;3;1;1;2;12,10;1498,0;no\n"
    "000124;SETT4;03/04/2013;3;4;2;5;8,40;1610,5;sì\n"
)

# The steps of an add, in order, and whether the add is published once killed there.
ADD_STEPS = [
    ("staged", False),  # copied to staging, nothing logged yet
    ("logged-add-intent", False),  # the intent appended, audit.head not yet moved
    ("renamed", False),  # the folders in place, the catalog not yet replaced
    ("before-catalog-replace", False),  # the new catalog written beside the old one
    ("after-catalog-replace", True),  # published, the commit not yet logged
    ("logged-add-ok", True),  # the commit appended, audit.head not yet moved
]


@pytest.fixture
def make_bundle(tmp_path: Path, site_key: SiteKey) -> MakeBundle:
    count = 0

    def make(**replace: str) -> Path:
        nonlocal count
        count += 1
        return build_bundle(tmp_path / f"b{count}", site_key, **replace)

    return make


def _killed(step: str, *args: str) -> None:
    """Run `federate ARGS` in a child, killed at ``step``."""
    proc = subprocess.run(
        [sys.executable, "-m", "federate", *args],
        env={**os.environ, CRASH_ENV: step},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr)


def _log(wh: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (wh / "audit.jsonl").read_text("utf-8").splitlines()]


def _current(capsys: pytest.CaptureFixture[str], wh: Path) -> str | None:
    code, out, err = cli(capsys, "pool", "status", "--warehouse", str(wh), "--format", "json")
    assert code == 0, err
    (italy,) = [row for row in json.loads(out) if row["site"] == "italy"]
    return italy["submission_id"]  # type: ignore[no-any-return]


def _verify(capsys: pytest.CaptureFixture[str], wh: Path) -> str:
    code, _, err = cli(capsys, "pool", "verify", "--warehouse", str(wh))
    assert code == 0, err
    return err


@pytest.mark.parametrize(("step", "published"), ADD_STEPS)
def test_a_killed_add_is_settled_by_the_next_command(
    tmp_path: Path,
    make_bundle: MakeBundle,
    capsys: pytest.CaptureFixture[str],
    step: str,
    published: bool,
) -> None:
    wh = tmp_path / "wh"
    first = make_bundle()
    assert cli(capsys, "pool", "add", str(first), "--warehouse", str(wh))[0] == 0
    old_id = manifest_of(first)["submission_id"]
    bundle = make_bundle(rm=_MRI_THREE_ROWS)
    new_id = manifest_of(bundle)["submission_id"]
    _killed(step, "pool", "add", str(bundle), "--warehouse", str(wh))

    _verify(capsys, wh)  # the next command: no false alarm
    assert _current(capsys, wh) == (new_id if published else old_id)
    outcomes = [e["outcome"] for e in _log(wh) if e["submission_id"] == new_id]
    if published:
        assert outcomes == ["intent", "ok"]
    elif step == "staged":
        assert outcomes == []
    else:  # said not published, and never "ok"
        assert outcomes == ["intent", "aborted"]
    settled = len(_log(wh))
    _verify(capsys, wh)  # settled once: a second command finds nothing to do
    assert len(_log(wh)) == settled
    assert not list((wh / ".staging").iterdir())
    on_disk = {p.name for p in (wh / "submissions" / "italy").iterdir()}
    assert on_disk == ({old_id, new_id} if published else {old_id})

    if not published:  # the same bundle can be added again
        code, _, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))
        assert code == 0, err
        assert _current(capsys, wh) == new_id
        _verify(capsys, wh)


@pytest.mark.parametrize(
    ("step", "published"),
    [("logged-trust-ok", False), ("before-catalog-replace", False), ("logged-add-ok", True)],
)
def test_a_killed_first_add_is_settled(
    tmp_path: Path,
    make_bundle: MakeBundle,
    capsys: pytest.CaptureFixture[str],
    step: str,
    published: bool,
) -> None:
    """The warehouse's first add (it pins the site's key) killed part way."""
    wh, bundle = tmp_path / "wh", make_bundle()
    new_id = manifest_of(bundle)["submission_id"]
    _killed(step, "pool", "add", str(bundle), "--warehouse", str(wh))
    _verify(capsys, wh)
    assert _current(capsys, wh) == (new_id if published else None)
    last = [e for e in _log(wh) if e["action"] == "add"][-1]
    assert last["outcome"] == ("ok" if published else "aborted")
    if not published:
        assert cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))[0] == 0
        _verify(capsys, wh)


@pytest.mark.parametrize(
    ("step", "rolled_back"),
    [
        ("logged-rollback-intent", False),
        ("before-catalog-replace", False),
        ("after-catalog-replace", True),
        ("logged-rollback-ok", True),
    ],
)
def test_a_killed_rollback_is_settled(
    tmp_path: Path,
    make_bundle: MakeBundle,
    capsys: pytest.CaptureFixture[str],
    step: str,
    rolled_back: bool,
) -> None:
    wh = tmp_path / "wh"
    first, second = make_bundle(), make_bundle(rm=_MRI_THREE_ROWS)
    for bundle in (first, second):
        assert cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))[0] == 0
    old_id, new_id = (manifest_of(b)["submission_id"] for b in (first, second))
    _killed(step, "pool", "rollback", "italy", "--to", old_id, "--warehouse", str(wh))
    _verify(capsys, wh)
    assert _current(capsys, wh) == (old_id if rolled_back else new_id)
    last = [e for e in _log(wh) if e["action"] == "rollback"][-1]
    assert last["outcome"] == ("ok" if rolled_back else "aborted")


def test_a_head_one_entry_behind_the_log_is_not_tampering(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a crash between appending an entry and moving audit.head leaves, made by hand:
    the log's last entry is sound and links to the head. Not reported; the head catches up."""
    wh = tmp_path / "wh"
    assert cli(capsys, "pool", "add", str(make_bundle()), "--warehouse", str(wh))[0] == 0
    log = _log(wh)
    behind = {"head": log[-1]["prev"], "seq": log[-1]["seq"] - 1}
    (wh / "audit.head").write_text(json.dumps(behind))
    err = _verify(capsys, wh)
    assert "caught up" in err
    assert json.loads((wh / "audit.head").read_text())["head"] == log[-1]["hash"]


def test_a_head_two_entries_behind_is_not_caught_up(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """More than one crash can leave: the log was extended (or audit.head restored). Reported,
    and nothing more is logged on top of it (a new head would hide it)."""
    wh = tmp_path / "wh"
    assert cli(capsys, "pool", "add", str(make_bundle()), "--warehouse", str(wh))[0] == 0
    log = _log(wh)
    (wh / "audit.head").write_text(json.dumps({"head": log[-2]["prev"], "seq": len(log) - 2}))
    before = (wh / "audit.jsonl").read_bytes()
    code, _, err = cli(capsys, "pool", "verify", "--warehouse", str(wh))
    assert code == 3 and "(audit-log)" in err
    code, _, err = cli(capsys, "pool", "add", str(make_bundle()), "--warehouse", str(wh))
    assert code == 3 and "(audit-log)" in err
    assert (wh / "audit.jsonl").read_bytes() == before


@pytest.mark.parametrize("torn", ["part", "no-newline"])
def test_a_log_line_cut_short_by_a_power_cut_is_mended(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str], torn: str
) -> None:
    """A power cut during an append: part of the new line on disk, or the whole line without
    its newline (JSON lines: each entry ends with one), audit.head still at the entry before."""
    wh = tmp_path / "wh"
    assert cli(capsys, "pool", "add", str(make_bundle()), "--warehouse", str(wh))[0] == 0
    log = wh / "audit.jsonl"
    lines = log.read_bytes().splitlines(keepends=True)
    head_before = json.loads(lines[-2])
    (wh / "audit.head").write_text(json.dumps({"head": head_before["hash"]}))
    last = lines[-1].rstrip(b"\n")
    log.write_bytes(b"".join(lines[:-1]) + (last[: len(last) // 2] if torn == "part" else last))

    err = _verify(capsys, wh)
    assert "mended" in err
    entries = _log(wh)
    assert (entries[-1]["action"], entries[-1]["outcome"]) == ("add", "ok")
    # Cut off: the commit is logged again by the recovery; ended: the entry is kept as written.
    assert ("completed after a crash" in entries[-1]["reason"]) == (torn == "part")
    assert _current(capsys, wh) is not None
    newer = make_bundle(rm=_MRI_THREE_ROWS)
    assert cli(capsys, "pool", "add", str(newer), "--warehouse", str(wh))[0] == 0
    _verify(capsys, wh)


def test_nothing_is_published_onto_a_rewritten_log(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry rewritten in the middle of the log (its hash no longer holds): not a crash, so
    no command settles anything or publishes on top of it; verify names the entry."""
    wh = tmp_path / "wh"
    assert cli(capsys, "pool", "add", str(make_bundle()), "--warehouse", str(wh))[0] == 0
    lines = (wh / "audit.jsonl").read_text("utf-8").splitlines()
    entry = json.loads(lines[0])
    entry["reason"] = "rewritten"
    lines[0] = json.dumps(entry, sort_keys=True)
    (wh / "audit.jsonl").write_text("\n".join(lines) + "\n")
    bundle = make_bundle(rm=_MRI_THREE_ROWS)
    code, _, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))
    assert code == 3 and "(audit-log)" in err
    assert manifest_of(bundle)["submission_id"] not in (wh / "catalog.json").read_text()
    code, _, err = cli(capsys, "pool", "verify", "--warehouse", str(wh))
    assert code == 3 and "rewritten" in err and "row 1" in err
