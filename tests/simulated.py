"""A small simulated warehouse of every registered site (shared by the analysis, blinding and
disclosure tests): the simulator's truth, each site's export ingested and pooled."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from federate.adapters import registry
from federate.ingest.run import ingest
from federate.privacy.pseudonym import load_key
from federate.synth import SynthResult
from federate.synth import run as synth_run
from federate.warehouse import publish

PATIENTS = 72


@dataclass(frozen=True)
class Simulated:
    trial: SynthResult
    warehouse: Path
    sites: list[str]  # the registered sites pooled


def build(root: Path, *, seed: int = 5, patients: int = PATIENTS) -> Simulated:
    trial = synth_run(root / "trial", seed=seed, patients=patients)
    wh = root / "warehouse"
    pooled = []
    for adapter in registry.adapters():  # whichever adapters are registered today
        export = trial.export_dir(adapter.name)
        if not export.is_dir():
            continue
        key = load_key(adapter.name, trial.keys[adapter.name])
        result = ingest(adapter, export, root / "bundles" / adapter.name, key, operator="test")
        publish.add(result.bundle, wh, operator="test")
        pooled.append(adapter.name)
    assert pooled, "no registered site could be simulated"
    return Simulated(trial, wh, pooled)


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    return build(tmp_path_factory.mktemp("simulated"))
