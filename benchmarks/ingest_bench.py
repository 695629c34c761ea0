"""Benchmark 1 and 2: ``federate ingest`` of a simulated Italian export of N lab rows, against
the bare DuckDB conversion and the pandas + pandera pipeline, with peak RSS of each.

Every command is a child process measured from outside (measure.py); timings are medians.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import bare_duckdb
import exports
import measure
import profiling
import timeline

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
FEDERATE = str(Path(sys.executable).parent / "federate")
INGEST_OK = (0, 1)  # 1: finished with rows quarantined (counted and reported, not a crash)


@dataclass
class IngestCase:
    lab_rows: int  # as asked
    export: exports.Export
    actual_lab_rows: int = 0
    rows_total: int = 0  # every form, from the manifest
    quarantined: int = 0
    bare: measure.Repeated | None = None
    federate: measure.Repeated | None = None
    pandas: measure.Repeated | None = None
    pandas_agrees: str = ""
    cp1252: measure.Repeated | None = None
    utf8_twin: measure.Repeated | None = None  # the UTF-8 ingest timed beside the cp1252 one
    phases: list[timeline.Phase] = field(default_factory=list)
    profile: profiling.Profile | None = None
    distinct: dict[str, int] = field(default_factory=dict)

    def ratio(self, slow: measure.Repeated | None, fast: measure.Repeated | None) -> float | None:
        return slow.wall_s / fast.wall_s if slow and fast else None


def ingest_cmd(export: Path, bundle: Path, key: Path, signing: Path) -> list[str | Path]:
    return [
        FEDERATE,
        "ingest",
        "italy",
        export,
        "--out",
        bundle,
        "--key-file",
        key,
        "--signing-key",
        signing,
    ]


def _clear(path: Path) -> None:
    shutil.rmtree(path, ignore_errors=True)


def _manifest_rows(bundle: Path) -> tuple[int, int]:
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    return sum(s["rows_read"] for s in manifest["sources"]), manifest["quarantine"]["rows"]


def _agreement(pandas_out: Path, bundle: Path) -> str:
    """Do both pipelines write the same number of rows per table? (Values were compared once
    by hand: equal except msfc_z, which differs by 4e-16 from the order of float additions.)"""
    summary: dict[str, Any] = json.loads((pandas_out / "summary.json").read_text("utf-8"))
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    differ = [
        f"{t}: pandas {s['written']}, federate {manifest['tables'].get(t, {}).get('rows')}"
        for t, s in summary.items()
        if s["written"] != manifest["tables"].get(t, {}).get("rows")
    ]
    return "same rows per table" if not differ else "DIFFER: " + "; ".join(differ)


def run_case(
    work: Path,
    lab_rows: int,
    signing: Path,
    *,
    repeat: int,
    budget_s: float,
    pandas: bool,
    cp1252: bool,
    sample_memory: bool,
    profile: bool,
    distinct: bool,
) -> IngestCase:
    folder = work / f"italy-{lab_rows}"
    _clear(folder)
    case, place = _synthesise(folder, lab_rows, signing)
    _time_pipelines(case, place, repeat, budget_s, pandas=pandas, sample_memory=sample_memory)
    if cp1252:
        _time_cp1252(case, place, repeat, budget_s)
    if profile:
        print("  py-spy profile of federate ingest", file=sys.stderr)
        _clear(place.bundle)
        raw = work / f"profile-ingest-{lab_rows}.txt"
        case.profile = profiling.record(place.ingest(), raw)
    if distinct:
        case.distinct = _distinct(place, work / "distinct.json")
    _clear(folder)
    return case


@dataclass(frozen=True)
class _Place:
    """One case's folder: the UTF-8 export every pipeline reads, and where each writes."""

    folder: Path
    utf8: Path
    key: Path  # the site's pseudonymisation key
    signing: Path

    @property
    def bundle(self) -> Path:
        return self.folder / "bundle"

    def ingest(self, export: Path | None = None) -> list[str | Path]:
        """``federate ingest`` of ``export`` (the UTF-8 one unless told) into the bundle."""
        return ingest_cmd(export or self.utf8, self.bundle, self.key, self.signing)


def _synthesise(folder: Path, lab_rows: int, signing: Path) -> tuple[IngestCase, _Place]:
    """Simulate the Italian export, then keep only its UTF-8 twin (what every pipeline reads)."""
    export = exports.synthesise(folder / "synth", "italy", exports.patients_for(lab_rows))
    case = IngestCase(lab_rows, export)
    utf8 = exports.transcode(export.folder, folder / "utf8", "utf-8-sig")
    shutil.rmtree(folder / "synth" / "exports")  # the twin replaces it; disk is shared too
    case.actual_lab_rows = exports.lab_rows(utf8)
    return case, _Place(folder, utf8, export.key, signing)


def _time_pipelines(
    case: IngestCase,
    place: _Place,
    repeat: int,
    budget_s: float,
    *,
    pandas: bool,
    sample_memory: bool,
) -> None:
    """Benchmarks 1 and 2: the bare DuckDB conversion, federate ingest and (if ``pandas``) the
    pandas + pandera pipeline, timed in interleaved rounds; federate's memory sampled over time
    if ``sample_memory``."""
    bundle, bare_out, pandas_out = place.bundle, place.folder / "bare", place.folder / "pandas"
    sampler = timeline.Sampler(bundle) if sample_memory else None
    bare_plan = place.folder / "bare.json"
    bare_duckdb.plan("italy", place.utf8, bare_out, bare_plan)
    commands = {
        "bare": measure.Command(
            [PYTHON, HERE / "bare_duckdb.py", "run", bare_plan],
            before=lambda: _clear(bare_out),
        ),
        "federate": measure.Command(
            place.ingest(), INGEST_OK,
            before=lambda: _clear(bundle), on_start=sampler.start if sampler else None,
        ),
    }  # fmt: skip
    if pandas:
        commands["pandas"] = measure.Command(
            [PYTHON, HERE / "pandas_pipeline.py", "italy", place.utf8, pandas_out, place.key],
            before=lambda: _clear(pandas_out),
        )
    print(
        f"  {', '.join(commands)} in {repeat} rounds ({case.actual_lab_rows:,} lab rows)",
        file=sys.stderr,
    )
    timed = measure.interleaved(commands, repeat, budget_s)
    case.bare, case.federate, case.pandas = timed["bare"], timed["federate"], timed.get("pandas")
    if sampler:
        case.phases = sampler.stop()
    case.rows_total, case.quarantined = _manifest_rows(bundle)
    if pandas:
        case.pandas_agrees = _agreement(pandas_out, bundle)
        _clear(pandas_out)


def _time_cp1252(case: IngestCase, place: _Place, repeat: int, budget_s: float) -> None:
    """federate ingest of a cp1252 twin of the export: what a legacy encoding costs."""
    print("  federate ingest, cp1252 twin", file=sys.stderr)
    legacy = exports.transcode(place.utf8, place.folder / "cp1252", "cp1252")
    # Against the UTF-8 ingest again, in rounds, so the ratio is like for like.
    twins = measure.interleaved(
        {
            "utf8": measure.Command(
                place.ingest(), INGEST_OK, before=lambda: _clear(place.bundle)
            ),
            "cp1252": measure.Command(
                place.ingest(legacy), INGEST_OK, before=lambda: _clear(place.bundle)
            ),
        },
        repeat, budget_s,
    )  # fmt: skip
    case.utf8_twin, case.cp1252 = twins["utf8"], twins["cp1252"]
    _clear(legacy)


def _distinct(place: _Place, out: Path) -> dict[str, int]:
    """distinct_check.py's counts for the UTF-8 export (written to ``out``)."""
    _clear(place.bundle)
    args: list[str | Path] = ["italy", place.utf8, place.bundle, place.key, place.signing, out]
    measure.run([PYTHON, HERE / "distinct_check.py", *args])
    counts: dict[str, int] = json.loads(out.read_text("utf-8"))
    return counts
