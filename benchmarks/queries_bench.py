"""Benchmark 4: the SQL of each named analysis on a warehouse of simulated patients, through
federate's sandboxed session and through bare DuckDB on the same Parquet files."""

from __future__ import annotations

import json
import shutil
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import exports
import measure

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable


@dataclass
class QueryResults:
    patients: dict[str, int]
    synth: measure.Run
    build: measure.Run
    worker: measure.Run
    analyses: dict[str, Any]  # pooled_queries.py's output

    def total(self, analysis: str, path: str) -> float:
        """Median over repeats of session + every part's SQL, seconds."""
        return float(statistics.median(self.analyses[analysis]["totals"][path]))


def run(work: Path, patients: int, repeat: int) -> QueryResults:
    shutil.rmtree(work, ignore_errors=True)  # a fresh warehouse: one submission per site
    print(f"  simulated truth for {patients:,} patients", file=sys.stderr)
    synth, summary = exports.synthesise_truth(work / "truth", patients)
    print(
        "  signed bundles from the truth, published with federate.warehouse.publish.add",
        file=sys.stderr,
    )
    build = measure.run([PYTHON, HERE / "warehouse_truth.py", work / "truth" / "synth.json", work])
    out = work / "queries.json"
    print("  the analyses' SQL, federate and bare", file=sys.stderr)
    worker = measure.run(
        [PYTHON, HERE / "pooled_queries.py", work / "warehouse", out, "--repeat", str(repeat)]
    )
    return QueryResults(
        dict(summary["patients"]),  # type: ignore[call-overload]
        synth,
        build,
        worker,
        json.loads(out.read_text("utf-8")),
    )
