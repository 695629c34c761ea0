"""Federated analysis end to end: a real hub (``federate hub serve`` in a subprocess on a
loopback port chosen at run time) and a node per simulated site (threads of this process,
talking HTTP to the hub). The primary endpoint federated equals the pooled warehouse's; the
hub's stored messages hold no site's count; nodes refuse what they must; a stopped node fails
the run with its site named; the hub keeps its tasks across a restart."""

from __future__ import annotations

import json
import math
import sqlite3
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federate import analyses
from federate.bundle.signing import SigningKey
from federate.federation import primary, wire
from federate.federation.compute import Policy
from federate.federation.hub import DATABASE
from federate.federation.node import AUDIT, Node
from federate.federation.wire import FederationError
from federate.query.roles import Role
from tests.bundles import cli
from tests.federation.running import Federation, analyst_signing_key

pytestmark = pytest.mark.slow


def _same(federated: pa.Table, pooled: pa.Table) -> None:
    """Counts identical, estimates within 1e-6 relative, the same cells suppressed."""
    assert federated.column_names == pooled.column_names
    assert federated.num_rows == pooled.num_rows
    for name in pooled.column_names:
        ours, theirs = federated[name].to_pylist(), pooled[name].to_pylist()
        for a, b in zip(ours, theirs, strict=True):
            if isinstance(b, float) and isinstance(a, float) and not math.isnan(b):
                assert a == pytest.approx(b, rel=1e-6, abs=1e-12), name
            else:
                assert a == b, name


@pytest.mark.parametrize("role", [Role.UNBLINDED, Role.BLINDED])
def test_the_primary_endpoint_federated_is_the_pooled_one(
    federation: Federation, role: Role
) -> None:
    session = federation.session(role)
    try:
        result, missing = primary.run(session, min_cell=5)
    finally:
        session.close()
    pooled = analyses.run_analysis(
        "primary-endpoint", federation.trial.warehouse, role=role, min_cell=5
    )
    parts = ["period1", "cumulative", "crossover"]
    if role is Role.UNBLINDED:
        parts = ["period1", "model", "cumulative", "crossover", "crossover_model"]
    assert [part.name for part, _ in result.parts] == parts
    for name in parts:
        _same(result.part(name), pooled.part(name))
    assert missing == []
    if role is Role.UNBLINDED:  # the fits are the pooled ones, not lucky rows
        assert result.part("model")["rate_ratio"][0].as_py() is not None
        assert result.part("crossover_model")["rate_ratio"][0].as_py() is not None


def test_the_hubs_stored_messages_hold_no_single_sites_count(federation: Federation) -> None:
    session = federation.session(Role.BLINDED)  # (and every message of the runs before it)
    try:
        primary.run(session, min_cell=5)
    finally:
        session.close()
    whole = analyses.run_analysis(
        "primary-endpoint", federation.trial.warehouse, role=Role.UNBLINDED, min_cell=1
    ).part("period1")
    counts = {
        float(v)
        for row in whole.to_pylist()
        if row["scope"] != "pooled"
        for v in (row["patients"], row["scans"], row["total_gel"])
    }
    with sqlite3.connect(federation.hub.state / DATABASE) as con:
        bodies = [json.loads(b) for (b,) in con.execute("SELECT body FROM answers")]
    assert len(bodies) > 6
    seen = []
    for body in bodies:
        payload = body["payload"]
        assert "rows" not in payload and "total_gel" not in json.dumps(payload)
        for text in payload.get("secure", []):
            seen += [float(int(text)), *wire.decode([int(text)])]
    assert seen and not counts & set(seen)


def test_a_node_refuses_unsigned_untrusted_and_unblinded_requests(
    federation: Federation, tmp_path: Path
) -> None:
    site, (running, _, _) = next(iter(federation.nodes.items()))
    node = Node(
        running.bundle,
        running.key,
        federation.hub.url,
        tmp_path / "node",
        running.trust_blinded,
        running.trust_unblinded,
        Policy(min_cell=10_000),
    )
    peers = {site: wire.dh_public(node.dh), "zz": wire.dh_public(X25519PrivateKey.generate())}

    def ask(key: SigningKey, role: Role, step: str, sites: tuple[str, ...] = ()) -> dict[str, Any]:
        request = {"task_id": step + role, "step": step, "role": role.value, "params": {}}
        chosen = list(sites or (site, "zz"))
        return wire.seal_envelope({**request, "sites": chosen, "analyst_dh": peers["zz"]}, key)

    unsigned = ask(federation.unblinded, Role.UNBLINDED, "nb2_site")
    unsigned.pop("signature")
    stranger = analyst_signing_key(tmp_path / "stranger.pem")
    cases = {
        "unsigned": unsigned,
        "untrusted": ask(stranger, Role.BLINDED, "period1"),
        "blinded key, unblinded role": ask(federation.blinded, Role.UNBLINDED, "nb2_site"),
        "not allow-listed": ask(federation.unblinded, Role.UNBLINDED, "rows"),
        "small subset": ask(federation.blinded, Role.BLINDED, "period1"),
        "alone": ask(federation.blinded, Role.BLINDED, "period1", (site,)),
    }
    reasons = {}
    for case, envelope in cases.items():
        answer = wire.check_envelope(node.handle(envelope, peers), running.key.public)
        assert "secure" not in answer and "sealed" not in answer, case
        reasons[case] = answer["refused"]
    assert "not signed" in reasons["unsigned"]
    assert "not trusted" in reasons["untrusted"]
    assert "unblinded role" in reasons["blinded key, unblinded role"]
    assert "allow-list" in reasons["not allow-listed"]
    assert "minimum cell" in reasons["small subset"]
    assert "at least 1 other site" in reasons["alone"]
    entries = [json.loads(line) for line in (tmp_path / "node" / AUDIT).read_text().splitlines()]
    assert [e["outcome"] for e in entries] == ["refused"] * len(cases)
    previous = "0" * 64
    for entry in entries:
        assert entry["previous"] == previous
        body = {k: v for k, v in entry.items() if k != "hash"}
        assert wire.digest(body) == entry["hash"]
        previous = entry["hash"]


def test_the_cli_runs_the_primary_endpoint_federated(
    federation: Federation, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, err = cli(
        capsys,
        "analyses", "run", "primary-endpoint", "--federated", federation.hub.url,
        "--role", "unblinded", "--format", "json", "--plot", str(tmp_path / "gel.png"),
    )  # fmt: skip
    assert code == 0, err
    assert (tmp_path / "gel.png").read_bytes().startswith(b"\x89PNG")
    parts = [p["part"] for p in json.loads(out)["parts"]]
    assert parts == ["period1", "model", "cumulative", "crossover", "crossover_model"]
    assert "federated over" in err
    code, _, err = cli(
        capsys, "analyses", "run", "primary-endpoint", "--federated", federation.hub.url,
        "--role", "unblinded", "--rows",
    )  # fmt: skip
    assert code == 2 and "never leave the sites" in err
    code, out, _ = cli(capsys, "keys", "show", "--analyst")
    assert code == 0 and out.splitlines()[-1] == federation.unblinded.public


def test_the_hub_keeps_pins_and_tasks_across_a_restart(federation: Federation) -> None:
    before = httpx.get(f"{federation.hub.url}/nodes", timeout=5).json()
    with sqlite3.connect(federation.hub.state / DATABASE) as con:
        tasks = con.execute("SELECT count(*) FROM tasks").fetchone()[0]
    federation.hub.stop()
    federation.hub.start()
    assert httpx.get(f"{federation.hub.url}/nodes", timeout=5).json() == before
    with sqlite3.connect(federation.hub.state / DATABASE) as con:
        assert con.execute("SELECT count(*) FROM tasks").fetchone()[0] == tasks
    session = federation.session(Role.BLINDED)  # the nodes come back by themselves
    try:
        result, _ = primary.run(session, min_cell=5)
    finally:
        session.close()
    assert result.part("period1").num_rows > 0


def test_a_stopped_node_fails_the_run_naming_its_site(federation: Federation) -> None:
    site, process = federation.process  # `federate node run`, stopped as an operator would
    process.terminate()
    assert process.wait(10) is not None
    session = federation.session(Role.BLINDED, timeout=2)
    try:
        with pytest.raises(FederationError, match=f"no answer from {site} within 2 s"):
            primary.run(session, min_cell=5)
    finally:
        session.close()


def test_two_requests_under_one_id_get_unrelated_masks(
    federation: Federation, tmp_path: Path
) -> None:
    """A replay of a task id with other thresholds must not let the difference of the two
    masked answers give the site's counts (the masks are keyed by the whole request)."""
    site, (running, _, _) = next(iter(federation.nodes.items()))
    node = Node(
        running.bundle,
        running.key,
        federation.hub.url,
        tmp_path / "node",
        running.trust_blinded,
        running.trust_unblinded,
    )
    other = X25519PrivateKey.generate()
    peers = {site: wire.dh_public(node.dh), "zz": wire.dh_public(other)}
    vectors, counts = [], []
    for threshold in (0, 10_000):
        params = {"thresholds": [["ALL", [threshold]]]}
        request = {"task_id": "same", "step": "ranks", "role": "blinded", "params": params}
        envelope = wire.seal_envelope(
            {**request, "sites": [site, "zz"], "analyst_dh": peers["zz"]}, federation.blinded
        )
        answer = wire.check_envelope(node.handle(envelope, peers), running.key.public)
        vectors.append(int(answer["secure"][0]))
        gel = running.bundle.patients(Role.BLINDED)["total_gel"].to_pylist()
        counts.append(sum(1 for g in gel if g <= threshold))
    assert counts[0] != counts[1]
    difference = (vectors[1] - vectors[0]) % wire.MODULUS
    assert difference != wire.encode([counts[1] - counts[0]])[0]
