"""Publishing into the warehouse: verification, replacement with history, rollback, refusals
that change nothing, and atomicity under SIGKILL at every step of an add.

The helpers at the top (bundles, CLI runner, tree hash) are shared with test_query.py and
test_analyses.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate import registry, warehouse
from federate.bundle import MANIFEST, SIGNATURE, seal, write_json
from federate.cli import main
from federate.errors import IntegrityError, UsageError
from federate.ingest import ingest
from federate.pseudonym import SiteKey
from federate.query import run_query
from federate.signing import load_signing_key
from federate.warehouse_fs import CRASH_ENV, locked
from tests.italy_export import write_italy_export

MakeBundle = Callable[..., Path]


# Rows of the hand-written export's other tables (tests/italy_export.py).
OTHER_TABLES = {"edss": 3, "msfc": 2, "relapses": 2, "adverse_events": 3, "conmeds": 3, "labs": 5}


def build_bundle(folder: Path, key: SiteKey, **replace: str) -> Path:
    """An Italian bundle in ``folder``/bundle from the hand-written export (``replace``: files)."""
    export = write_italy_export(folder / "export", **replace)
    return ingest(registry.adapter("italy"), export, folder / "bundle", key).bundle


@pytest.fixture
def make_bundle(tmp_path: Path, site_key: SiteKey) -> MakeBundle:
    """Make a fresh bundle (a new submission_id) on each call."""
    count = 0

    def make(**replace: str) -> Path:
        nonlocal count
        count += 1
        return build_bundle(tmp_path / f"b{count}", site_key, **replace)

    return make


def clone_bundle(bundle: Path, dest: Path, *, site: str, submission_id: str) -> Path:
    """The same rows as another site's submission, resealed (a site must be registered)."""
    schema = registry.schema()
    shutil.copytree(bundle, dest)
    manifest = json.loads((dest / MANIFEST).read_text("utf-8"))
    for name in manifest["tables"]:
        path = dest / "tables" / f"{name}.parquet"
        table = pq.read_table(path)
        for column, value in (("site", site), ("submission_id", submission_id)):
            index = table.schema.get_field_index(column)
            filled = pa.array([value] * table.num_rows, pa.string())
            table = table.set_column(index, table.schema.field(index), filled)
        pq.write_table(table.cast(schema.arrow_schema(schema.table(name))), path)
    manifest.update(site=site, submission_id=submission_id)
    manifest["files"] = seal(dest)
    write_json(dest / MANIFEST, manifest)
    resign(dest)
    return dest


def resign(bundle: Path) -> None:
    """Sign the manifest again with its site's key, as a site (or one holding its key) would."""
    site = json.loads((bundle / MANIFEST).read_text("utf-8"))["site"]
    key = load_signing_key(site, None)
    write_json(
        bundle / SIGNATURE,
        {
            "algorithm": "ed25519",
            "public_key": key.public,
            "signature": key.sign((bundle / MANIFEST).read_bytes()),
        },
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run the CLI in process, exactly as `main` does: (exit code, stdout, stderr)."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as exc:
        main(list(args))
    captured = capsys.readouterr()
    return int(exc.value.code or 0), captured.out, captured.err


def squeeze(text: str) -> str:
    """Text without whitespace: rich wraps a long one-line message on a narrow console."""
    return "".join(text.split())


def tree_hash(root: Path) -> str:
    """SHA-256 over every path and file content under ``root``, but the audit log (which
    records refusals too: see test_audit.py)."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.name in ("audit.jsonl", "audit.head"):
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0")
        if path.is_file():
            digest.update(path.read_bytes())
    return digest.hexdigest()


def published_state(root: Path) -> str:
    """What readers see: catalog.json and the files of every submission it lists."""
    digest = hashlib.sha256((root / warehouse.CATALOG).read_bytes())
    for sub in warehouse.read_catalog(root).submissions.values():
        digest.update(tree_hash(root / sub.path).encode())
    return digest.hexdigest()


def manifest_of(bundle: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((bundle / MANIFEST).read_text("utf-8"))
    return data


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
    sub = warehouse.read_catalog(wh).submissions[sid]
    assert warehouse._verified(wh / sub.path)["submission_id"] == sid


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
    first, second = make_bundle(), make_bundle(rm=_MRI_TWO_ROWS)
    warehouse.add(first, wh, operator="ana")
    event = warehouse.add(second, wh, operator="bo")
    first_id, second_id = manifest_of(first)["submission_id"], manifest_of(second)["submission_id"]
    assert event.previous == first_id
    assert run_query("SELECT count(*) AS n FROM mri", wh).to_pylist() == [{"n": 2}]
    ids = run_query("SELECT DISTINCT submission_id FROM subjects", wh).column(0).to_pylist()
    assert ids == [second_id]

    code, out, _ = cli(
        capsys, "pool", "history", "italy", "--warehouse", str(wh), "--format", "json"
    )
    assert code == 0
    history = json.loads(out)
    assert [(h["submission_id"], h["operator"], h["current"]) for h in history] == [
        (first_id, "ana", False),
        (second_id, "bo", True),
    ]
    assert [h["mri"] for h in history] == [5, 2]
    assert all(len(h["manifest_sha256"]) == 64 for h in history)
    # Both copies are kept on disk.
    assert all((wh / s.path).is_dir() for s in warehouse.read_catalog(wh).submissions.values())

    code, out, _ = cli(capsys, "pool", "status", "--warehouse", str(wh), "--format", "json")
    status = json.loads(out)  # every registered site has a row; only italy has data
    assert all(r["submission_id"] is None for r in status if r["site"] != "italy")
    assert [r for r in status if r["site"] == "italy"] == [
        {
            "site": "italy",
            "submission_id": second_id,
            "published_utc": history[1]["time_utc"],
            "operator": "bo",
            "subjects": 3,
            "randomisation": 3,
            "infusions": 4,
            "visits": 5,
            "mri": 2,
            **OTHER_TABLES,
        }
    ]


def test_rollback_republishes_an_earlier_submission(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = tmp_path / "wh"
    first, second = make_bundle(), make_bundle(rm=_MRI_TWO_ROWS)
    warehouse.add(first, wh)
    warehouse.add(second, wh)
    first_id, second_id = manifest_of(first)["submission_id"], manifest_of(second)["submission_id"]

    code, _, err = cli(
        capsys, "pool", "rollback", "italy", "--to", first_id, "--warehouse", str(wh)
    )
    assert code == 0, err
    assert run_query("SELECT count(*) AS n FROM mri", wh).to_pylist() == [{"n": 5}]
    catalog = warehouse.read_catalog(wh)
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
    warehouse.add(make_bundle(), wh)
    before = tree_hash(wh)
    bundle = make_bundle(rm=_MRI_TWO_ROWS)
    tamper(bundle)
    code, out, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))
    assert code == 3, err
    assert out == ""
    assert squeeze(needle) in squeeze(err)
    assert "Traceback" not in err
    assert tree_hash(wh) == before


def test_duplicate_submission_is_refused(tmp_path: Path, make_bundle: MakeBundle) -> None:
    wh, bundle = tmp_path / "wh", make_bundle()
    warehouse.add(bundle, wh)
    before = tree_hash(wh)
    with pytest.raises(IntegrityError, match="already in the warehouse"):
        warehouse.add(bundle, wh)
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
    warehouse.add(make_bundle(), wh)
    old_state, old_rows = published_state(wh), _mri_rows(wh)
    bundle = make_bundle(rm=_MRI_TWO_ROWS)
    new_id = manifest_of(bundle)["submission_id"]

    proc = subprocess.run(
        [sys.executable, "-m", "federate", "pool", "add", str(bundle), "--warehouse", str(wh)],
        env={**os.environ, CRASH_ENV: step},
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr

    catalog = warehouse.read_catalog(wh)
    assert (new_id in catalog.submissions) == (step == "after-catalog-replace")
    if new_id in catalog.submissions:  # fully new: catalog, files and rows
        assert catalog.current["italy"] == new_id
        assert warehouse._verified(wh / catalog.submissions[new_id].path)
        assert _mri_rows(wh) == 2
    else:  # exactly as before, as readers see it
        assert published_state(wh) == old_state
        assert _mri_rows(wh) == old_rows

    # The next add works and cleans what the killed one left behind.
    retry = bundle if new_id not in catalog.submissions else make_bundle()
    warehouse.add(retry, wh)
    final = warehouse.read_catalog(wh)
    assert final.current["italy"] == manifest_of(retry)["submission_id"]
    assert list((wh / warehouse.STAGING).iterdir()) == []
    assert not list(wh.glob(".*.tmp-*"))
    on_disk = {p.relative_to(wh).as_posix() for p in (wh / warehouse.SUBMISSIONS).glob("*/*")}
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
    assert not (wh / warehouse.CATALOG).exists()
    assert warehouse.read_catalog(wh).current == {}
    assert _mri_rows(wh) == 0
    warehouse.add(bundle, wh)
    assert _mri_rows(wh) == 5


def _mri_rows(wh: Path) -> int:
    return int(pc.sum(run_query("SELECT count(*) AS n FROM mri", wh).column(0)).as_py())


_MRI_TWO_ROWS = (
    "id_paziente;visita;data_rm;campo_tesla;lesioni_gd;lesioni_t2_nuove;lesioni_cua;"
    "volume_t2_ml;volume_cerebrale_ml;lettura_centrale\n"
    "000123;SETT4;02/04/2013;3;0;0;0;12,00;1499,5;sì\n"
    "000124;SETT4;03/04/2013;3;4;2;5;8,40;1610,5;sì\n"
)


def test_publish_keeps_restricted_columns_apart(tmp_path: Path, make_bundle: MakeBundle) -> None:
    """The blinded copy is written with the submission, in its own area, without restricted
    columns; a rollback republishes a submission together with its blinded copy."""
    wh = tmp_path / "wh"
    first = make_bundle()
    warehouse.add(first, wh)
    warehouse.add(make_bundle(rm=_MRI_TWO_ROWS), wh)
    catalog = warehouse.read_catalog(wh)
    for sub in catalog.submissions.values():
        folder = wh / sub.blinded_path
        assert sub.blinded_path.startswith(f"{warehouse.BLINDED}/italy/") and sub.blinded_sha256
        schemas = {p.stem: pq.read_schema(p).names for p in folder.glob("*.parquet")}
        assert set(schemas) == set(sub.rows)
        assert "sequence" not in schemas["randomisation"]
        assert not {"product", "dose_million_cells_per_kg", "lot_id"} & set(schemas["infusions"])
    old_id = manifest_of(first)["submission_id"]
    warehouse.rollback("italy", old_id, wh)
    assert run_query("SELECT count(*) AS n FROM mri", wh).to_pylist() == [{"n": 5}]
    assert warehouse.verify_warehouse(wh)["submissions"] == 2
