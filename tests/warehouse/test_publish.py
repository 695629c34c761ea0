"""Publishing into the warehouse: verification, replacement with history, rollback, refusals
that change nothing, and atomicity under SIGKILL at every step of an add.

The helpers (bundles, CLI runner, tree hash) are in tests/bundles.py, shared with the query
and analyses tests.
"""

from __future__ import annotations

import getpass
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate.bundle.manifest import MANIFEST, write_json
from federate.errors import IntegrityError, UsageError
from federate.privacy.pseudonym import SiteKey
from federate.query.sandbox import run_query
from federate.warehouse import publish
from federate.warehouse.catalog import BLINDED, CATALOG, STAGING, SUBMISSIONS, read_catalog
from federate.warehouse.fs import CRASH_ENV, locked
from federate.warehouse.verify import verify_warehouse
from tests.bundles import (
    OTHER_TABLES,
    build_bundle,
    cli,
    clone_bundle,
    manifest_of,
    published_state,
    resign,
    squeeze,
    tree_hash,
)

MakeBundle = Callable[..., Path]
ME = getpass.getuser()  # the log records the account; --operator is only added to it


@pytest.fixture
def make_bundle(tmp_path: Path, site_key: SiteKey) -> MakeBundle:
    """Make a fresh bundle (a new submission_id) on each call."""
    count = 0

    def make(**replace: str) -> Path:
        nonlocal count
        count += 1
        return build_bundle(tmp_path / f"b{count}", site_key, **replace)

    return make


# --- publishing ---------------------------------------------------------------------------


def test_add_publishes_and_query_sees_the_rows(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle, wh = make_bundle(), tmp_path / "wh"
    code, out, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))
    assert code == 0, err
    assert out == ""  # the summary goes to stderr
    sid = manifest_of(bundle)["submission_id"]
    assert sid in err and "subjects" in err
    result = run_query("SELECT site, submission_id, count(*) AS n FROM mri GROUP BY ALL", wh)
    assert result.to_pylist() == [{"site": "italy", "submission_id": sid, "n": 5}]
    # The published copy is a bundle in its own right and still verifies.
    sub = read_catalog(wh).submissions[sid]
    assert publish._verified(wh / sub.path)["submission_id"] == sid


def test_add_json_prints_only_json(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    bundle = make_bundle()
    code, out, _ = cli(
        capsys, "pool", "add", str(bundle), "--warehouse", str(tmp_path / "wh"), "--format", "json"
    )
    assert code == 0
    data = json.loads(out)
    assert data["action"] == "add" and data["previous"] is None
    assert data["rows"] == {
        "subjects": 3,
        "randomisation": 3,
        "infusions": 4,
        "visits": 5,
        "mri": 5,
        **OTHER_TABLES,
    }


def test_second_submission_replaces_current_and_history_keeps_both(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = tmp_path / "wh"
    first, second = make_bundle(), make_bundle(rm=_MRI_THREE_ROWS)
    publish.add(first, wh, operator="ana")
    event = publish.add(second, wh, operator="bo")
    first_id, second_id = manifest_of(first)["submission_id"], manifest_of(second)["submission_id"]
    assert event.previous == first_id
    assert run_query("SELECT count(*) AS n FROM mri", wh).to_pylist() == [{"n": 3}]
    ids = run_query("SELECT DISTINCT submission_id FROM subjects", wh).column(0).to_pylist()
    assert ids == [second_id]

    code, out, _ = cli(
        capsys, "pool", "history", "italy", "--warehouse", str(wh), "--format", "json"
    )
    assert code == 0
    history = json.loads(out)
    assert [(h["submission_id"], h["operator"], h["current"]) for h in history] == [
        (first_id, f"{ME} (as ana)", False),
        (second_id, f"{ME} (as bo)", True),
    ]
    assert [h["mri"] for h in history] == [5, 3]
    assert all(len(h["manifest_sha256"]) == 64 for h in history)
    # Both copies are kept on disk.
    assert all((wh / s.path).is_dir() for s in read_catalog(wh).submissions.values())

    code, out, _ = cli(capsys, "pool", "status", "--warehouse", str(wh), "--format", "json")
    status = json.loads(out)  # every registered site has a row; only italy has data
    assert all(r["submission_id"] is None for r in status if r["site"] != "italy")
    assert [r for r in status if r["site"] == "italy"] == [
        {
            "site": "italy",
            "submission_id": second_id,
            "published_utc": history[1]["time_utc"],
            "operator": f"{ME} (as bo)",
            "subjects": 3,
            "randomisation": 3,
            "infusions": 4,
            "visits": 5,
            "mri": 3,
            **OTHER_TABLES,
        }
    ]


def test_rollback_republishes_an_earlier_submission(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = tmp_path / "wh"
    first, second = make_bundle(), make_bundle(rm=_MRI_THREE_ROWS)
    publish.add(first, wh)
    publish.add(second, wh)
    first_id, second_id = manifest_of(first)["submission_id"], manifest_of(second)["submission_id"]

    code, _, err = cli(
        capsys, "pool", "rollback", "italy", "--to", first_id, "--warehouse", str(wh)
    )
    assert code == 0, err
    assert run_query("SELECT count(*) AS n FROM mri", wh).to_pylist() == [{"n": 5}]
    catalog = read_catalog(wh)
    assert catalog.current == {"italy": first_id}
    assert [(e.action, e.submission_id, e.previous) for e in catalog.history] == [
        ("add", first_id, None),
        ("add", second_id, first_id),
        ("rollback", first_id, second_id),
    ]

    before = tree_hash(wh)
    for args in (["--to", first_id], ["--to", "italy-nope"]):  # already current; unknown
        code, out, err = cli(capsys, "pool", "rollback", "italy", *args, "--warehouse", str(wh))
        assert code == 2 and out == "" and len(err.strip().splitlines()) >= 1
    assert tree_hash(wh) == before


# --- refusals change nothing --------------------------------------------------------------


def _flip_byte(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def _edit_manifest(bundle: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    manifest = manifest_of(bundle)
    edit(manifest)
    write_json(bundle / MANIFEST, manifest)
    resign(bundle)


def _tamper_parquet(bundle: Path) -> None:
    _flip_byte(bundle / "tables" / "mri.parquet")


def _tamper_row_count(bundle: Path) -> None:
    _edit_manifest(bundle, lambda m: m["tables"]["mri"].update(rows=4))


def _tamper_table_path(bundle: Path) -> None:
    _edit_manifest(bundle, lambda m: m["tables"]["mri"].update(file="../../etc/passwd"))


def _tamper_site(bundle: Path) -> None:
    _edit_manifest(bundle, lambda m: m.update(site="atlantis"))


def _foreign_rows(bundle: Path) -> None:
    # Resealed, so every checksum holds, but the rows belong to another submission.
    tmp = bundle.with_name(bundle.name + "-clone")
    clone_bundle(bundle, tmp, site="italy", submission_id="italy-other")
    _edit_manifest(tmp, lambda m: m.update(submission_id=manifest_of(bundle)["submission_id"]))
    shutil.rmtree(bundle)
    tmp.rename(bundle)


@pytest.mark.parametrize(
    ("tamper", "needle"),
    [
        (_tamper_parquet, "tables/mri.parquet"),
        (_tamper_row_count, "tables/mri.parquet"),
        (_tamper_table_path, "../../etc/passwd"),
        (_tamper_site, "atlantis"),
        (_foreign_rows, "tables/subjects.parquet"),
    ],
)
def test_tampered_bundle_is_refused_and_warehouse_unchanged(
    tmp_path: Path,
    make_bundle: MakeBundle,
    capsys: pytest.CaptureFixture[str],
    tamper: Callable[[Path], None],
    needle: str,
) -> None:
    wh = tmp_path / "wh"
    publish.add(make_bundle(), wh)
    before = tree_hash(wh)
    bundle = make_bundle(rm=_MRI_THREE_ROWS)
    tamper(bundle)
    code, out, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))
    assert code == 3, err
    assert out == ""
    assert squeeze(needle) in squeeze(err)
    assert "Traceback" not in err
    assert tree_hash(wh) == before


def test_duplicate_submission_is_refused(tmp_path: Path, make_bundle: MakeBundle) -> None:
    wh, bundle = tmp_path / "wh", make_bundle()
    publish.add(bundle, wh)
    before = tree_hash(wh)
    with pytest.raises(IntegrityError, match="already in the warehouse"):
        publish.add(bundle, wh)
    assert tree_hash(wh) == before


def test_not_a_bundle_or_not_a_warehouse_is_a_usage_error(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "empty", tmp_path / "missing"):
        code, _, err = cli(capsys, "pool", "add", str(path), "--warehouse", str(tmp_path / "wh"))
        assert code == 2 and "(not-a-bundle)" in err
    assert not (tmp_path / "wh").exists()
    # A folder full of other things is not taken for a warehouse.
    code, _, err = cli(capsys, "pool", "add", str(make_bundle()), "--warehouse", str(tmp_path))
    assert code == 2 and "(not-a-warehouse)" in err


def test_lock_excludes_a_second_writer(tmp_path: Path) -> None:
    lock = tmp_path / ".lock"
    with locked(lock), pytest.raises(UsageError, match="busy"), locked(lock, timeout=0.2):
        pass
    with locked(lock, timeout=0.2):  # released on exit
        pass


# --- atomic publish under SIGKILL ---------------------------------------------------------

CRASH_STEPS = ["staged", "renamed", "before-catalog-replace", "after-catalog-replace"]


@pytest.mark.parametrize("step", CRASH_STEPS)
def test_killed_add_leaves_old_or_whole_new_state(
    tmp_path: Path, make_bundle: MakeBundle, step: str
) -> None:
    wh = tmp_path / "wh"
    publish.add(make_bundle(), wh)
    old_state, old_rows = published_state(wh), _mri_rows(wh)
    bundle = make_bundle(rm=_MRI_THREE_ROWS)
    new_id = manifest_of(bundle)["submission_id"]

    proc = subprocess.run(
        [sys.executable, "-m", "federate", "pool", "add", str(bundle), "--warehouse", str(wh)],
        env={**os.environ, CRASH_ENV: step},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    catalog = read_catalog(wh)
    assert (new_id in catalog.submissions) == (step == "after-catalog-replace")
    if new_id in catalog.submissions:  # fully new: catalog, files and rows
        assert catalog.current["italy"] == new_id
        assert publish._verified(wh / catalog.submissions[new_id].path)
        assert _mri_rows(wh) == 3
    else:  # exactly as before, as readers see it
        assert published_state(wh) == old_state
        assert _mri_rows(wh) == old_rows

    # The next add works and cleans what the killed one left behind.
    retry = bundle if new_id not in catalog.submissions else make_bundle()
    publish.add(retry, wh)
    final = read_catalog(wh)
    assert final.current["italy"] == manifest_of(retry)["submission_id"]
    assert list((wh / STAGING).iterdir()) == []
    assert not list(wh.glob(".*.tmp-*"))
    on_disk = {p.relative_to(wh).as_posix() for p in (wh / SUBMISSIONS).glob("*/*")}
    assert on_disk == {s.path for s in final.submissions.values()}


@pytest.mark.parametrize("step", ["renamed", "before-catalog-replace"])
def test_killed_first_add_leaves_an_empty_warehouse(
    tmp_path: Path, make_bundle: MakeBundle, step: str
) -> None:
    wh, bundle = tmp_path / "wh", make_bundle()
    proc = subprocess.run(
        [sys.executable, "-m", "federate", "pool", "add", str(bundle), "--warehouse", str(wh)],
        env={**os.environ, CRASH_ENV: step},
        capture_output=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL
    assert not (wh / CATALOG).exists()
    assert read_catalog(wh).current == {}
    assert _mri_rows(wh) == 0
    publish.add(bundle, wh)
    assert _mri_rows(wh) == 5


def _mri_rows(wh: Path) -> int:
    return int(pc.sum(run_query("SELECT count(*) AS n FROM mri", wh).column(0)).as_py())


_MRI_THREE_ROWS = (  # 3 of the export's 5: fewer, not fewer than half (the shrink guard)
    "id_paziente;visita;data_rm;campo_tesla;lesioni_gd;lesioni_t2_nuove;lesioni_cua;"
    "volume_t2_ml;volume_cerebrale_ml;lettura_centrale\n"
    "000123;SETT4;02/04/2013;3;0;0;0;12,00;1499,5;sì\n"
    "000123;SETT12;28/05/2013;3;1;1;2;12,10;1498,0;no\n"
    "000124;SETT4;03/04/2013;3;4;2;5;8,40;1610,5;sì\n"
)


def test_publish_keeps_restricted_columns_apart(tmp_path: Path, make_bundle: MakeBundle) -> None:
    """The blinded copy is written with the submission, in its own area, without restricted
    columns; a rollback republishes a submission together with its blinded copy."""
    wh = tmp_path / "wh"
    first = make_bundle()
    publish.add(first, wh)
    publish.add(make_bundle(rm=_MRI_THREE_ROWS), wh)
    catalog = read_catalog(wh)
    for sub in catalog.submissions.values():
        folder = wh / sub.blinded_path
        assert sub.blinded_path.startswith(f"{BLINDED}/italy/") and sub.blinded_sha256
        schemas = {p.stem: pq.read_schema(p).names for p in folder.glob("*.parquet")}
        assert set(schemas) == set(sub.rows)
        assert "sequence" not in schemas["randomisation"]
        assert not {"product", "dose_million_cells_per_kg", "lot_id"} & set(schemas["infusions"])
    old_id = manifest_of(first)["submission_id"]
    publish.rollback("italy", old_id, wh)
    assert run_query("SELECT count(*) AS n FROM mri", wh).to_pylist() == [{"n": 5}]
    assert verify_warehouse(wh)["submissions"] == 2


def test_rollback_or_verify_of_a_missing_warehouse_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Not an internal error (the lock file was opened before the folder was checked)."""
    wh = str(tmp_path / "nowhere")
    for args in (["rollback", "italy", "--to", "italy-1"], ["verify"]):
        code, _, err = cli(capsys, "pool", *args, "--warehouse", wh)
        assert code == 2 and "(no-warehouse)" in err, err
    assert not (tmp_path / "nowhere").exists()
