"""The hub's pins, in process (Starlette's test client): a key pinned ahead with `federate hub
trust` holds against a node with another key; an answer is stored only when signed by the
site's pinned key; the analyst's key is written owner-only and shown alone on the last line."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from federate.bundle.signing import SigningKey, load_signing_key, new_signing_key
from federate.federation import wire
from federate.federation.hub import app
from tests.bundles import cli


def _key(path: Path) -> SigningKey:
    new_signing_key(path)
    path.chmod(0o600)
    return load_signing_key("italy", path, create=False)


def test_a_key_pinned_ahead_holds_and_answers_need_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    site, impostor = _key(tmp_path / "site.pem"), _key(tmp_path / "other.pem")
    state = tmp_path / "hub"
    code, _, err = cli(capsys, "hub", "trust", "italy", site.public, "--state", str(state))
    assert code == 0, err
    client = TestClient(app(state))
    hello = {"site": "italy", "dh": "AAAA"}
    assert client.post("/nodes", json=wire.seal_envelope(hello, impostor)).status_code == 409
    assert client.post("/nodes", json=wire.seal_envelope(hello, site)).status_code == 200
    answer = {"task_id": "t1", "site": "italy", "request": "x", "secure": ["1"]}
    assert client.post("/answers", json=wire.seal_envelope(answer, impostor)).status_code == 403
    assert client.post("/answers", content=b"not json").status_code == 403
    assert client.get("/answers", params={"task": "t1"}).json() == []
    assert client.post("/answers", json=wire.seal_envelope(answer, site)).status_code == 201
    assert [a["payload"] for a in client.get("/answers", params={"task": "t1"}).json()] == [answer]
    code, _, err = cli(capsys, "hub", "trust", "italy", impostor.public, "--state", str(state))
    assert code == 2 and "pinned to another key" in err


def test_the_analysts_key_is_owner_only_and_shown_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = cli(capsys, "keys", "init", "--analyst", "--dir", str(tmp_path))
    assert code == 0
    path = tmp_path / "analyst.signing.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    public = out.splitlines()[-1]
    assert public.startswith("ed25519:")
    code, out, _ = cli(capsys, "keys", "show", "--analyst", "--signing-key", str(path))
    assert code == 0 and out.splitlines()[-1] == public
    code, _, err = cli(capsys, "keys", "init", "--analyst", "--dir", str(tmp_path))
    assert code == 2 and "never overwritten" in err
