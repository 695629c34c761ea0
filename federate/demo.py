"""``federate demo``: the whole flow on simulated data, as a new user first sees it.

simulate the trial -> every registered site's adapter ingests its export -> pool the bundles ->
the primary endpoint. On simulated data the demo acts as the unblinded statistician (recorded
in the warehouse's audit log like any unblinded run).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from federate.adapters import registry
from federate.analyses import Result, run_analysis
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import load_key
from federate.query.roles import Role
from federate.synth import run as synth_run
from federate.warehouse import publish


@dataclass(frozen=True)
class DemoResult:
    workdir: Path
    ingests: dict[str, IngestResult]
    endpoint: Result  # the primary endpoint, unblinded


def run_demo(workdir: Path, *, seed: int, patients: int, say: object = print) -> DemoResult:
    if workdir.exists():
        shutil.rmtree(workdir)
    trial = synth_run(workdir / "trial", seed=seed, patients=patients)
    wh = workdir / "warehouse"
    ingests: dict[str, IngestResult] = {}
    for adapter in registry.adapters():
        export = trial.export_dir(adapter.name)
        if not export.is_dir():
            continue
        key = load_key(adapter.name, trial.keys[adapter.name])
        result = ingest(adapter, export, workdir / "bundles" / adapter.name, key, operator="demo")
        ingests[adapter.name] = result
        publish.add(result.bundle, wh, operator="demo")
        say(adapter.name, result)  # type: ignore[operator]
    endpoint = run_analysis("primary-endpoint", wh, role=Role.UNBLINDED, operator="demo")
    return DemoResult(workdir, ingests, endpoint)
