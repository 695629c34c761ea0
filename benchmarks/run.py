"""``make bench``: the performance benchmarks of issue 11, on demand (never in CI).

    python benchmarks/run.py            # full: 1M, 5M and 20M lab rows, 100,000 patients
    python benchmarks/run.py --skip-20m # full without 20M (its simulator needs ~15 GB free)
    python benchmarks/run.py --quick    # sanity run: 100k and 300k lab rows, 10,000 patients

Writes benchmarks/RESULTS.md and exits 1 when a target is missed (2 on a benchmark failure).
Simulated data goes to a temporary folder (``--workdir`` to choose it, ``--keep`` to keep it).
"""

from __future__ import annotations

import argparse
import compileall
import datetime as dt
import shutil
import sys
import tempfile
import time
from pathlib import Path

import formats_bench
import ingest_bench
import machine
import queries_bench
import report
import targets

from federate.bundle.signing import new_signing_key

HERE = Path(__file__).resolve().parent
FULL = (1_000_000, 5_000_000)
QUICK = (100_000, 300_000)
TWENTY = 20_000_000
BUDGET_S = 30.0  # a command whose first run is longer is not repeated


def parse() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="small sizes: a sanity run")
    p.add_argument("--skip-20m", action="store_true", help="leave out the 20M lab-row ingest")
    p.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    p.add_argument("--workdir", type=Path, help="where simulated data goes (default: a temp dir)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    p.add_argument("--results", type=Path, default=HERE / "RESULTS.md")
    for part in ("formats", "queries", "profile"):
        p.add_argument(f"--skip-{part}", action="store_true", help=f"leave out the {part}")
    return p.parse_args()


def twenty_m_feasible(rep: report.Report) -> str | None:
    """Why 20M cannot run here, or None. The simulator holds a site in memory, so its peak
    RSS is extrapolated linearly from the largest size measured."""
    measured = [c for c in rep.ingest if c.export.synth.peak_rss]
    if not measured:
        return "no smaller size measured to extrapolate from"
    big = max(measured, key=lambda c: c.actual_lab_rows)
    need = big.export.synth.peak_rss * TWENTY / big.actual_lab_rows * 1.1
    free = machine.available_bytes() or 0
    if need > free:
        return (
            f"`federate synth` would need ~{need / 1e9:.0f} GB (linear from "
            f"{big.export.synth.peak_rss / 1e9:.1f} GB at {big.actual_lab_rows:,} lab rows); "
            f"{free / 1e9:.0f} GB available"
        )
    return None


def extrapolation_note(rep: report.Report) -> str:
    big = max(rep.ingest, key=lambda c: c.actual_lab_rows)
    k = TWENTY / big.actual_lab_rows
    synth, run = big.export.synth, big.federate
    ingest_s = f", `federate ingest` ~{run.wall_s * k / 60:.0f} min" if run else ""
    return (
        f"20M lab rows (~{TWENTY / 40.1:,.0f} Italian patients), extrapolated linearly from "
        f"{big.actual_lab_rows:,}: `federate synth` ~{synth.wall_s * k / 60:.0f} min and "
        f"~{synth.peak_rss * k / 1e9:.0f} GB peak RSS (it builds a whole site in memory)"
        f"{ingest_s}; machine memory {rep.machine['memory']}."
    )


def main() -> int:
    args = parse()
    start = time.perf_counter()
    now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    mode = "quick" if args.quick else "full" + (" without 20M" if args.skip_20m else "")
    rep = report.Report(mode, machine.describe(), machine.load(), now)
    work = args.workdir or Path(tempfile.mkdtemp(prefix="federate-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    signing = work / "italy.signing.pem"
    if not signing.exists():
        new_signing_key(signing)
    # Byte-compile the package once, as an installed wheel is: this machine's environment sets
    # PYTHONDONTWRITEBYTECODE, which would otherwise make every timed `federate` recompile it.
    for package in ("federate", "schemas", "site_adapters"):
        compileall.compile_dir(HERE.parent / package, quiet=1)
    sizes = list(QUICK if args.quick else FULL)
    print(f"federate bench ({mode}); work folder {work}", file=sys.stderr)

    for i, n in enumerate(sizes):
        print(f"ingest, {n:,} lab rows", file=sys.stderr)
        rep.ingest.append(
            ingest_bench.run_case(
                work, n, signing, repeat=args.repeat, budget_s=BUDGET_S,
                pandas=i == 0, cp1252=i == 0, sample_memory=i == len(sizes) - 1,
                profile=i == 0 and not args.skip_profile, distinct=i == 0,
            )
        )  # fmt: skip
    why_not = "quick mode" if args.quick else "`--skip-20m`"
    if not args.skip_20m and not args.quick:
        why_not = twenty_m_feasible(rep) or ""
        if not why_not:
            print(f"ingest, {TWENTY:,} lab rows", file=sys.stderr)
            rep.ingest.append(
                ingest_bench.run_case(
                    work, TWENTY, signing, repeat=1, budget_s=0, pandas=False, cp1252=False,
                    sample_memory=True, profile=False, distinct=False,
                )
            )  # fmt: skip
    if not args.quick and why_not:
        rep.not_run.append(f"20M lab rows not run ({why_not}). {extrapolation_note(rep)}")

    if not args.skip_formats:
        print("other formats", file=sys.stderr)
        patients = 200 if args.quick else 1000
        rep.formats, profiles = formats_bench.run_all(
            work, patients, args.repeat, BUDGET_S, not args.skip_profile
        )
        rep.profiles.update(profiles)
    if not args.skip_queries:
        print("pooled queries", file=sys.stderr)
        patients = 10_000 if args.quick else 100_000
        rep.queries = queries_bench.run(work / "warehouse", patients, args.repeat)

    first = rep.ingest[0]
    if first.profile:
        title = f"`federate ingest` of {first.actual_lab_rows:,} Italian lab rows"
        rep.profiles = {title: first.profile, **rep.profiles}
    rep.targets = (
        targets.ingest(rep.ingest)
        + targets.memory(rep.ingest, why_not)
        + targets.queries(rep.queries)
        + targets.distinct(first)
    )
    rep.notes = notes(rep)
    rep.load_after = machine.load()
    rep.minutes = (time.perf_counter() - start) / 60
    report.write(rep, args.results)
    print(f"wrote {args.results}", file=sys.stderr)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    missed = [t for t in rep.targets if t.met is False]
    for t in missed:
        print(f"missed: {t.name}: {t.shown} (target {t.goal})", file=sys.stderr)
    return 1 if missed else 0


def notes(rep: report.Report) -> list[str]:
    out = [
        "The machine has 2 cores and may be shared: the load average was "
        f"{rep.load_before} before and {machine.load()} after. Ratios are measured back to "
        "back in the same run to cancel most of any drift.",
        "The pandas + pandera baseline runs at the first size only (it holds every form in "
        "memory); the cp1252 twin, the profile and the distinct-value check likewise.",
    ]
    for c in rep.ingest:  # e.g. a habit (stripped zeros) the adapter could not read back
        said = c.export.summary.get("notes")
        for note in said[:3] if isinstance(said, list) else []:
            out.append(f"Simulator at {c.actual_lab_rows:,} lab rows: {note}")
    if "dirty" in rep.machine["commit"]:
        out.append(
            "The working tree had uncommitted engine changes (other engineers' work in "
            "progress): the figures are for the code as it was on disk, not exactly the commit."
        )
    return out


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as exc:  # a benchmark that cannot run is not a missed target
        print(f"benchmark failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        raise SystemExit(2) from exc
