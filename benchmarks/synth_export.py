"""Worker (run as a child process, so its time and peak memory are measured from outside):
simulate one site's export, or only the pooled truth, with ``federate.synth.run``.

    python benchmarks/synth_export.py OUT --site italy --patients 24000
    python benchmarks/synth_export.py OUT --truth-only --patients 100000

``--truth-only`` hides the registered adapters from the simulator (in this process only), so
it writes the shared tables (``truth/*.parquet``) for every site without spending minutes
rendering Excel, XML and SPSS exports that the pooled-query benchmark does not read.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--site", default="italy")
    parser.add_argument("--patients", type=int, required=True)
    parser.add_argument("--seed", type=int, default=2012)
    parser.add_argument("--truth-only", action="store_true")
    args = parser.parse_args()

    import federate.synth.sites as sites
    from federate import synth
    from federate.adapters import registry

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
