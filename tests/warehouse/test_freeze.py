"""The database lock (issue 25, part 2): `pool lock` freezes the state: add and rollback are
refused, exit 3, saying since when, by whom and why, and change nothing, until `pool unlock`;
both are entries of the audit chain, and `pool verify` passes across them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federate.privacy.pseudonym import SiteKey
from federate.warehouse import audit, publish
from federate.warehouse.catalog import read_catalog
from tests.bundles import build_bundle, cli, manifest_of, published_state


@pytest.fixture
def wh(tmp_path: Path, site_key: SiteKey) -> tuple[Path, list[Path]]:
    bundles = [build_bundle(tmp_path / f"b{n}", site_key) for n in range(3)]
    root = tmp_path / "wh"
    publish.add(bundles[0], root)
    publish.add(bundles[1], root)
    return root, bundles


def _pool(capsys: pytest.CaptureFixture[str], wh: Path, *args: str) -> tuple[int, str, str]:
    return cli(capsys, "pool", *args, "--warehouse", str(wh))


def test_a_lock_refuses_add_and_rollback_until_unlock(
    wh: tuple[Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, bundles = wh
    first = manifest_of(bundles[0])["submission_id"]
    code, _, err = _pool(capsys, root, "lock", "--reason", "final lock before unblinding")
    assert code == 0, err
    before = published_state(root)

    code, out, err = _pool(capsys, root, "add", str(bundles[2]))
    assert (code, out) == (3, ""), err
    said = " ".join(err.split())
    assert "locked since" in said and "final lock before unblinding" in said
    assert audit.accountable(None) in said  # by whom
    refused = audit.read_entries(root)[-1]  # the refused add is itself logged
    assert (refused["action"], refused["outcome"]) == ("add", "refused")
    assert "warehouse-locked" in refused["reason"]
    code, out, err = _pool(capsys, root, "rollback", "italy", "--to", first)
    assert (code, out) == (3, "") and "locked since" in " ".join(err.split()), err
    assert published_state(root) == before
    assert _pool(capsys, root, "verify")[0] == 0
    code, _, err = _pool(capsys, root, "status")
    assert code == 0 and "Locked since" in " ".join(err.split())

    code, _, err = _pool(capsys, root, "unlock", "--reason", "DMC asked for a correction")
    assert code == 0, err
    assert _pool(capsys, root, "rollback", "italy", "--to", first)[0] == 0
    assert _pool(capsys, root, "add", str(bundles[2]))[0] == 0
    assert read_catalog(root).current["italy"] == manifest_of(bundles[2])["submission_id"]
    assert _pool(capsys, root, "verify")[0] == 0


def test_lock_and_unlock_are_entries_of_the_chain(
    wh: tuple[Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = wh
    assert _pool(capsys, root, "lock", "--reason", "lock one", "--format", "json")[0] == 0
    assert _pool(capsys, root, "unlock", "--reason", "lift one")[0] == 0
    entries = audit.read_entries(root)
    lock, unlock = entries[-2], entries[-1]
    assert (lock["action"], lock["reason"], unlock["action"], unlock["reason"]) == (
        "lock",
        "lock one",
        "unlock",
        "lift one",
    )
    current = read_catalog(root).current
    assert lock["state"]["current"] == current  # the state it froze
    assert audit.chain_breaks(entries) is None and audit.read_head(root) == unlock["hash"]
    # Dropping the unlock entry from the log (and its head) would unlock nothing unseen:
    lines = (root / audit.LOG).read_text("utf-8").splitlines(keepends=True)
    (root / audit.LOG).write_text("".join(lines[:-1]), "utf-8")
    code, _, err = _pool(capsys, root, "verify")
    assert code == 3, err


def test_lock_needs_a_reason_and_cannot_be_doubled(
    wh: tuple[Path, list[Path]], capsys: pytest.CaptureFixture[str]
) -> None:
    root, _ = wh
    assert _pool(capsys, root, "lock", "--reason", "  ")[0] == 2
    assert _pool(capsys, root, "unlock", "--reason", "nothing to lift")[0] == 2
    assert _pool(capsys, root, "lock", "--reason", "once")[0] == 0
    code, _, err = _pool(capsys, root, "lock", "--reason", "twice")
    assert code == 2 and "already locked" in err
    code, out, _ = _pool(capsys, root, "unlock", "--reason", "done", "--format", "json")
    assert code == 0 and json.loads(out)["lock"]["reason"] == "once"
