"""The ``federation`` fixture: a hub and a node per simulated site, one per test module."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest

from federate.bundle.signing import load_signing_key
from federate.federation.compute import Bundle
from federate.federation.keys import analyst_key_path, init_analyst, load_analyst
from federate.federation.node import Node
from tests.federation.running import Federation, Hub, analyst_signing_key, wait_for_hellos
from tests.simulated import build


@pytest.fixture(scope="module")
def federation(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Federation]:
    root = tmp_path_factory.mktemp("federated")
    trial = build(root)
    if not analyst_key_path().exists():
        init_analyst()
    blinded, unblinded = analyst_signing_key(root / "blinded.pem"), load_analyst()
    hub = Hub(root / "hub")
    hub.start()
    nodes = {}
    manifests = sorted((root / "bundles").glob("*/**/manifest.json"))
    last = Bundle(manifests[-1].parent)
    command = [sys.executable, "-m", "federate", "node", "run", last.site]
    command += ["--bundle", str(last.path), "--hub", hub.url, "--poll", "0.05"]
    command += ["--state", str(root / "nodes" / last.site)]
    command += ["--trust-analyst", blinded.public, "--trust-unblinded", unblinded.public]
    process = subprocess.Popen(command)
    try:
        for manifest in manifests[:-1]:
            bundle = Bundle(manifest.parent)
            key = load_signing_key(bundle.site, None, create=False)
            node = Node(
                bundle,
                key,
                hub.url,
                root / "nodes" / bundle.site,
                frozenset({blinded.public}),
                frozenset({unblinded.public}),
                poll=0.05,
            )
            stop = threading.Event()
            thread = threading.Thread(target=node.run, args=(stop,), daemon=True)
            thread.start()
            nodes[bundle.site] = (node, stop, thread)
        assert sorted([*nodes, last.site]) == sorted(trial.sites)
        wait_for_hellos(hub, {*nodes, last.site})
        yield Federation(trial, hub, blinded, unblinded, nodes, (last.site, process))
    finally:
        process.terminate()
        process.wait(10)
        for _, stop, thread in nodes.values():
            stop.set()
            thread.join(10)
        hub.stop()
