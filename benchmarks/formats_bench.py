"""Benchmark 3: every other registered format - ``federate ingest`` of a simulated export
against the bare read of the same files by the library the reader is built on.

Rows per second are over the export's records as the bare reader counts them (a REDCap record
feeds several shared tables, so the engine's ``rows_read`` is reported beside them).
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import exports
import ingest_bench
import measure
import profiling

from federate.adapters import registry
from federate.bundle.signing import new_signing_key

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
BARE = {  # the adapter's format -> bare_read.py's reader, and the library named in RESULTS.md
    "excel": ("excel", "python-calamine"),
    "redcap": ("redcap", "pyarrow CSV"),
    "spss": ("spss", "pyreadstat read_sav"),
    "odm": ("odm", "lxml iterparse"),
    "sdtm": ("sdtm", "pyreadstat read_xport"),
}


@dataclass
class FormatCase:
    site: str
    format: str
    library: str
    patients: int
    records: int  # as the bare reader counts them
    rows_read: int  # the engine's accounting, summed over shared tables
    federate: measure.Repeated
    bare: measure.Repeated
    synth: measure.Run
    command: list[str | Path]  # the ingest, to profile it again

    @property
    def ratio(self) -> float:
        return self.federate.wall_s / self.bare.wall_s


def run_site(work: Path, site: str, patients: int, repeat: int, budget_s: float) -> FormatCase:
    adapter = registry.adapter(site)
    reader, library = BARE[adapter.format]
    folder = work / f"{site}-{patients}"
    shutil.rmtree(folder, ignore_errors=True)
    export = exports.synthesise(folder / "synth", site, patients)
    signing = folder / f"{site}.signing.pem"
    new_signing_key(signing)
    bundle = folder / "bundle"
    cmd: list[str | Path] = [
        ingest_bench.FEDERATE, "ingest", site, export.folder, "--out", bundle,
        "--key-file", export.key, "--signing-key", signing,
    ]  # fmt: skip
    print(f"  {site} ({adapter.format}): federate ingest, bare {library}", file=sys.stderr)
    count = folder / "records.txt"
    timed = measure.interleaved(
        {
            "federate": measure.Command(
                cmd, ingest_bench.INGEST_OK,
                before=lambda: shutil.rmtree(bundle, ignore_errors=True),
            ),
            "bare": measure.Command([PYTHON, HERE / "bare_read.py", reader, export.folder, count]),
        },
        repeat, budget_s,
    )  # fmt: skip
    federate, bare = timed["federate"], timed["bare"]
    manifest = json.loads((bundle / "manifest.json").read_text("utf-8"))
    return FormatCase(
        site, adapter.format, library, patients, int(count.read_text("utf-8")),
        sum(s["rows_read"] for s in manifest["sources"]), federate, bare, export.synth, cmd,
    )  # fmt: skip


def run_all(
    work: Path, patients: int, repeat: int, budget_s: float, profile: bool
) -> tuple[list[FormatCase], dict[str, profiling.Profile]]:
    """Every registered site with a non-CSV format; then, with ``profile``, one more ingest of
    each under py-spy (the exports are kept until then)."""
    cases = [
        run_site(work, a.name, patients, repeat, budget_s)
        for a in registry.adapters()
        if a.format in BARE
    ]
    profiles: dict[str, profiling.Profile] = {}
    for case in sorted(cases, key=lambda c: -c.ratio) if profile else []:
        print(f"  py-spy profile of {case.site} ingest", file=sys.stderr)
        shutil.rmtree(work / f"{case.site}-{patients}" / "bundle", ignore_errors=True)
        found = profiling.record(case.command, work / f"profile-ingest-{case.site}.txt")
        if found is not None:
            title = f"`federate ingest` of {case.site} ({case.format}), {case.records:,} records"
            profiles[title] = found
    for case in cases:
        shutil.rmtree(work / f"{case.site}-{patients}", ignore_errors=True)
    return cases, profiles
