"""`pool verify` against state the audit chain does not explain (issue 23, finding 1).

Each case edits the warehouse as someone with write access to its files would, by the file
layout the README and federate.warehouse.publish document (catalog.json, blinded/<site>/<id>/
with its index.json, audit.jsonl and audit.head), and runs `pool verify` through the CLI.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate.privacy.pseudonym import SiteKey
from tests.bundles import build_bundle, cli, clone_bundle, manifest_of, squeeze

MakeBundle = Callable[..., Path]

_MRI_THREE_ROWS = (  # three of the hand-written export's five MRI rows: a newer submission
    "id_paziente;visita;data_rm;campo_tesla;lesioni_gd;lesioni_t2_nuove;lesioni_cua;"
    "volume_t2_ml;volume_cerebrale_ml;lettura_centrale\n"
    "000123;SETT4;02/04/2013;3;0;0;0;12,00;1499,5;sì\n"
    "000123;SETT12;28/05/2013;3;1;1;2;12,10;1498,0;no\n"
    "000124;SETT4;03/04/2013;3;4;2;5;8,40;1610,5;sì\n"
)


@pytest.fixture
def make_bundle(tmp_path: Path, site_key: SiteKey) -> MakeBundle:
    count = 0

    def make(**replace: str) -> Path:
        nonlocal count
        count += 1
        return build_bundle(tmp_path / f"b{count}", site_key, **replace)

    return make


def _add(capsys: pytest.CaptureFixture[str], bundle: Path, wh: Path) -> str:
    code, _, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))
    assert code == 0, err
    return str(manifest_of(bundle)["submission_id"])


def _verify(capsys: pytest.CaptureFixture[str], wh: Path, *extra: str) -> tuple[int, str]:
    code, out, err = cli(capsys, "pool", "verify", "--warehouse", str(wh), *extra)
    assert "Traceback" not in err
    return code, squeeze(out + err)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _catalog(wh: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((wh / "catalog.json").read_text("utf-8"))
    return data


def _write_catalog(wh: Path, data: dict[str, Any]) -> None:
    (wh / "catalog.json").write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _head(wh: Path) -> str:
    return str(json.loads((wh / "audit.head").read_text("utf-8"))["head"])


def test_an_untouched_warehouse_verifies(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """No false alarm: two sites, a replacement and a rollback, each publish logged."""
    wh = tmp_path / "wh"
    first = _add(capsys, make_bundle(), wh)
    _add(
        capsys,
        clone_bundle(make_bundle(), tmp_path / "dk", site="denmark", submission_id="dk-1"),
        wh,
    )
    _add(capsys, make_bundle(rm=_MRI_THREE_ROWS), wh)
    args = ["pool", "rollback", "italy", "--to", first, "--warehouse", str(wh), "--format", "json"]
    code, out, err = cli(capsys, *args)
    assert code == 0, err
    kept = json.loads(out)["audit_head"]  # what the operator keeps elsewhere
    assert kept == _head(wh)
    sql = "SELECT count(*) AS n FROM subjects"  # an unblinded session: one entry after it
    assert cli(capsys, "query", sql, "--warehouse", str(wh), "--role", "unblinded")[0] == 0
    code, text = _verify(capsys, wh, "--head", kept)
    assert code == 0, text
    assert "3submission(s)" in text and "entriesloggedsince:1" in text
    code, out, _ = cli(capsys, "pool", "verify", "--warehouse", str(wh), "--format", "json")
    assert code == 0 and json.loads(out)["head"] == _head(wh) != kept


def _raise_edss(edss: pa.Table) -> pa.Table:
    column = edss.schema.get_field_index("edss")
    raised = pc.add(edss.column(column), 2).cast(edss.schema.field(column).type)
    return edss.set_column(column, edss.schema.field(column), raised)


def _drop_a_row(edss: pa.Table) -> pa.Table:
    return edss.slice(1)


@pytest.mark.parametrize(
    ("edit", "needle"), [(_raise_edss, "edss("), (_drop_a_row, "has2rows;recomputed")]
)
def test_an_edited_blinded_copy_with_matching_hashes_is_caught(
    tmp_path: Path,
    make_bundle: MakeBundle,
    capsys: pytest.CaptureFixture[str],
    edit: Callable[[pa.Table], pa.Table],
    needle: str,
) -> None:
    """Italy's EDSS raised by 2 (or a row taken out) for blinded readers; the copy's index and
    the catalog's hash of the index rewritten to match, so every hash the catalog names holds."""
    wh = tmp_path / "wh"
    sid = _add(capsys, make_bundle(), wh)
    folder = wh / "blinded" / "italy" / sid
    pq.write_table(edit(pq.read_table(folder / "edss.parquet")), folder / "edss.parquet")
    index = json.loads((folder / "index.json").read_text("utf-8"))
    index["edss"] = _sha(folder / "edss.parquet")
    (folder / "index.json").write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
    catalog = _catalog(wh)
    catalog["submissions"][sid]["blinded_sha256"] = _sha(folder / "index.json")
    _write_catalog(wh, catalog)

    code, text = _verify(capsys, wh)
    assert code == 3, text
    assert squeeze(f"blinded/italy/{sid}/edss.parquet") in text
    assert needle in text  # the column with how many rows differ, or the rows


def test_a_silent_rollback_is_caught(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """catalog.json's current switched back to the older submission, with no rollback logged."""
    wh = tmp_path / "wh"
    old = _add(capsys, make_bundle(), wh)
    new = _add(capsys, make_bundle(rm=_MRI_THREE_ROWS), wh)
    catalog = _catalog(wh)
    catalog["current"]["italy"] = old
    _write_catalog(wh, catalog)

    code, text = _verify(capsys, wh)
    assert code == 3, text
    assert squeeze(f"italy's current submission is {old}") in text and new in text


def test_a_site_removed_from_the_catalog_is_caught(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """Denmark taken out of the catalog altogether: current, kept submissions and history."""
    wh = tmp_path / "wh"
    _add(capsys, make_bundle(), wh)
    dk = clone_bundle(make_bundle(), tmp_path / "dk", site="denmark", submission_id="dk-1")
    _add(capsys, dk, wh)
    catalog = _catalog(wh)
    del catalog["current"]["denmark"], catalog["submissions"]["dk-1"]
    catalog["history"] = [e for e in catalog["history"] if e["site"] != "denmark"]
    _write_catalog(wh, catalog)

    code, text = _verify(capsys, wh)
    assert code == 3, text
    assert "denmark'scurrentsubmissionisnone" in text and "dk-1" in text


def test_deleted_access_entries_are_caught_only_by_a_kept_head(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    """The entry of an unblinded query cut from the log's end and audit.head rewritten to
    match: the files agree with each other, so only a head kept elsewhere can tell."""
    wh = tmp_path / "wh"
    _add(capsys, make_bundle(), wh)
    sql = "SELECT count(*) AS n FROM randomisation"
    code, _, err = cli(capsys, "query", sql, "--warehouse", str(wh), "--role", "unblinded")
    assert code == 0, err
    kept = _head(wh)  # the operator notes the head after the session (printed by verify)
    lines = (wh / "audit.jsonl").read_text("utf-8").splitlines()
    assert json.loads(lines[-1])["action"] == "unblinded"
    (wh / "audit.jsonl").write_text("\n".join(lines[:-1]) + "\n")
    previous = json.loads(lines[-2])
    (wh / "audit.head").write_text(json.dumps({"head": previous["hash"], "seq": previous["seq"]}))

    assert _verify(capsys, wh)[0] == 0  # documented: without a kept head this cannot be seen
    code, text = _verify(capsys, wh, "--head", kept)
    assert code == 3, text
    assert kept[:16] in text and "notintheauditlog" in text


def test_a_malformed_kept_head_or_a_missing_warehouse_is_a_usage_error(
    tmp_path: Path, make_bundle: MakeBundle, capsys: pytest.CaptureFixture[str]
) -> None:
    wh = tmp_path / "wh"
    _add(capsys, make_bundle(), wh)
    code, text = _verify(capsys, wh, "--head", "abc")
    assert code == 2 and "--head" in text
    code, text = _verify(capsys, tmp_path / "nowhere")
    assert code == 2 and "(no-warehouse)" in text


@pytest.mark.parametrize("keep", [("audit.jsonl",), ("audit.jsonl", "audit.head")])
def test_restoring_every_file_but_the_log_is_caught(
    tmp_path: Path,
    make_bundle: MakeBundle,
    capsys: pytest.CaptureFixture[str],
    keep: tuple[str, ...],
) -> None:
    """A backup of the warehouse taken after the first publish, restored over it after the
    second, all but the audit log (with or without audit.head): readers are back on the old
    submission with nothing logged."""
    wh, backup = tmp_path / "wh", tmp_path / "backup"
    old = _add(capsys, make_bundle(), wh)
    shutil.copytree(wh, backup)
    _add(capsys, make_bundle(rm=_MRI_THREE_ROWS), wh)
    for path in list(wh.iterdir()):
        if path.name not in keep:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in backup.iterdir():
        if path.name not in keep:
            copy = shutil.copytree if path.is_dir() else shutil.copy2
            copy(path, wh / path.name)
    assert _catalog(wh)["current"]["italy"] == old

    code, text = _verify(capsys, wh)
    assert code == 3, text
    if "audit.head" in keep:  # the restored catalog is not the state the last commit logged
        assert squeeze(f"italy's current submission is {old}") in text
    else:  # the restored audit.head is behind the log
        assert "theauditlogdoesnotendattherecordedhead" in text
