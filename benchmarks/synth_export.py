"""Worker (run as a child process, so its time and peak memory are measured from outside):
simulate one site's export, or only the pooled truth, with ``federate.synth.run``.

    python benchmarks/synth_export.py OUT --site italy --patients 24000
    python benchmarks/synth_export.py OUT --truth-only --patients 100000

Two adjustments, both confined to this process and both reported in RESULTS.md:

* Italian local ids. The simulator numbers patients ``{centre:02d}{seq:04d}`` per centre, and
  the Italian adapter restores stripped leading zeros with DuckDB's ``lpad(id, 6, '0')``, which
  *truncates* longer ids. Past 9,999 patients in a centre, ids grow to 7 digits, are cut to 6
  and distinct patients collide (a clean export then quarantines thousands of rows as
  conflicting-key). The benchmark gives Italian patients ``{centre code}{seq:06d}`` ids
  (``GEN000123``): unique up to a million per centre, never padded, so the export stays clean
  and the ingest does exactly the work of a clean registry export.
* ``--truth-only`` hides the registered adapters from the simulator, so it writes the shared
  tables (``truth/*.parquet``) for every site without spending minutes rendering Excel, XML and
  SPSS exports that the pooled-query benchmark does not read.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

ITALY_IDS = "{code}{s:06d}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--site", default="italy")
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--truth-only", action="store_true")
    args = parser.parse_args()

    import federate.synth.sites as sites

    sites.SITES = tuple(
        replace(s, id_format=ITALY_IDS) if s.name == "italy" else s for s in sites.SITES
    )
    from federate import registry, synth

    if args.truth_only:
        registry.adapters = lambda: []  # the truth only, no exports
        counts = sites.site_counts(args.patients)
    else:
        counts = {args.site: args.patients}
    start = time.perf_counter()
    result = synth.run(args.out, seed=args.seed, counts=counts)
    summary = {
        "seconds_in_synth": time.perf_counter() - start,
        "patients": result.patients,
        "exports": {site: [str(p) for p in paths] for site, paths in result.exports.items()},
        "truth": {table: str(p) for table, p in result.truth.items()},
        "keys": {site: str(p) for site, p in result.keys.items()},
        "notes": result.notes,
    }
    (args.out / "synth.json").write_text(json.dumps(summary, indent=2), "utf-8")


if __name__ == "__main__":
    main()
