"""A bundle holds exactly its manifest, and nothing of it is parsed before its signature is
checked (issue 23, finding 4): through ``federate pool add``, each refusal exit 3, naming the
path, the warehouse unchanged."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from federate.bundle.contents import MAX_JSON_DEPTH, nesting
from federate.bundle.manifest import MANIFEST, SIGNATURE, write_json
from federate.bundle.signing import load_signing_key
from federate.privacy.pseudonym import SiteKey
from federate.warehouse import publish
from tests.bundles import build_bundle, cli, manifest_of, squeeze, tree_hash

Damage = Callable[[Path, Path], None]  # (bundle, a scratch folder outside it)


def _second_manifest(bundle: Path, _: Path) -> None:
    shutil.copy(bundle / MANIFEST, bundle / "tables" / MANIFEST)


def _stray_file(bundle: Path, _: Path) -> None:
    (bundle / "notes.txt").write_text("not part of the submission\n")


def _stray_folder(bundle: Path, _: Path) -> None:
    (bundle / "extra").mkdir()


def _linked_file(bundle: Path, scratch: Path) -> None:
    """The same bytes, through a link: the checksum holds, the link must not."""
    target = scratch / "mri.parquet"
    shutil.move(bundle / "tables" / "mri.parquet", target)
    (bundle / "tables" / "mri.parquet").symlink_to(target)


def _linked_folder(bundle: Path, scratch: Path) -> None:
    target = scratch / "tables"
    shutil.move(bundle / "tables", target)
    (bundle / "tables").symlink_to(target, target_is_directory=True)


def _fifo(bundle: Path, _: Path) -> None:
    os.mkfifo(bundle / "tables" / "pipe")  # opened, it would block the add for ever


@pytest.mark.parametrize(
    ("damage", "path", "code"),
    [
        (_second_manifest, "tables/manifest.json", "unlisted-file"),
        (_stray_file, "notes.txt", "unlisted-file"),
        (_stray_folder, "extra", "unlisted-file"),
        (_linked_file, "tables/mri.parquet", "symlink-in-bundle"),
        (_linked_folder, "tables", "symlink-in-bundle"),
        (_fifo, "tables/pipe", "not-a-file"),
    ],
)
def test_a_bundle_holding_more_than_its_manifest_is_refused(
    tmp_path: Path,
    site_key: SiteKey,
    capsys: pytest.CaptureFixture[str],
    damage: Damage,
    path: str,
    code: str,
) -> None:
    wh = tmp_path / "wh"
    publish.add(build_bundle(tmp_path / "first", site_key), wh)
    before = tree_hash(wh)
    bundle = build_bundle(tmp_path / "second", site_key)
    (tmp_path / "elsewhere").mkdir()
    damage(bundle, tmp_path / "elsewhere")
    exit_code, out, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(wh))
    assert exit_code == 3, err
    assert out == "" and "Traceback" not in err
    assert f"({code})" in err and squeeze(f"file {path}") in squeeze(err), err
    assert tree_hash(wh) == before


@pytest.mark.parametrize("signed_again", [True, False])
def test_a_deeply_nested_manifest_is_refused_not_a_crash(
    tmp_path: Path, site_key: SiteKey, capsys: pytest.CaptureFixture[str], signed_again: bool
) -> None:
    """Nested 100,000 deep it exhausted Python's recursion (exit 70). Signed again (by one
    holding the site's key) it is refused for its depth; not signed again, for its signature,
    before it is read at all."""
    bundle = build_bundle(tmp_path, site_key)
    manifest = manifest_of(bundle)
    manifest["sources"][0]["facts"] = {"deep": "DEEP"}
    deep = "[" * 100_000 + '"x"' + "]" * 100_000  # json.dumps itself cannot nest so deep
    (bundle / MANIFEST).write_text(json.dumps(manifest).replace('"DEEP"', deep), "utf-8")
    if signed_again:  # as tests.bundles.resign does, without reading the manifest back
        key = load_signing_key("italy", None)
        signature = key.sign((bundle / MANIFEST).read_bytes())
        write_json(bundle / SIGNATURE, {"public_key": key.public, "signature": signature})
    code, _, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(tmp_path / "wh"))
    assert code == 3, err
    assert "Traceback" not in err and "internal error" not in err
    if signed_again:
        assert "nests 100004 levels deep" in err and f"file {MANIFEST}" in err
    else:
        assert "signature does not verify" in err


def test_the_signature_is_checked_before_the_manifest_is_believed(
    tmp_path: Path, site_key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A manifest changed after signing to list a file that is not there, and to claim another
    site: the refusal is the signature's, not what the altered manifest says."""
    bundle = build_bundle(tmp_path, site_key)
    manifest = manifest_of(bundle)
    manifest["files"]["tables/ghost.parquet"] = "0" * 64
    manifest["site"] = "atlantis"
    write_json(bundle / MANIFEST, manifest)
    code, _, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(tmp_path / "wh"))
    assert code == 3 and "(bad-signature)" in err, err
    assert "ghost" not in err and "atlantis" not in err


@pytest.mark.parametrize(
    ("text", "depth"),
    [
        (b'"x"', 0),
        (b'{"a": [1, {"b": []}]}', 4),
        (b'{"a": "]]]}}}[[[{{{", "b": ["\\"[["]}', 2),  # brackets inside strings do not count
        (b"[" * 5000 + b"]" * 5000, 5000),
    ],
)
def test_nesting_counts_the_brackets_outside_strings(text: bytes, depth: int) -> None:
    assert nesting(text) == depth
    assert MAX_JSON_DEPTH < 5000


def test_a_huge_manifest_is_refused_by_its_size_unread(
    tmp_path: Path, site_key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A 4 GB manifest.json (sparse: it takes no disk) is refused by its size, never read into
    memory to check its signature."""
    bundle = build_bundle(tmp_path, site_key)
    with (bundle / MANIFEST).open("r+b") as fh:
        fh.truncate(4 << 30)
    code, _, err = cli(capsys, "pool", "add", str(bundle), "--warehouse", str(tmp_path / "wh"))
    assert code == 3, err
    assert "(bad-manifest)" in err and "4,294,967,296 bytes" in err and f"file {MANIFEST}" in err
