"""Worker: are pseudonyms and identifier checks computed per distinct value, not per row?

    python benchmarks/distinct_check.py italy EXPORT_DIR BUNDLE KEY SIGNING_KEY OUT.json

Runs one ingest in this process with two counters spliced in: the HMAC behind every pseudonym
(``federate.privacy.pseudonym.pseudonyms``) and the identifier scan's input
(``federate.privacy.gate.scan_values``). It then compares the calls with the distinct local ids and
the distinct values of the scanned columns, and with the rows.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

import federate.privacy.gate
import federate.privacy.pseudonym
from federate.adapters import registry
from federate.bundle.signing import load_signing_key
from federate.ingest.run import ingest

counts = {"hmac_calls": 0, "scan_values_in": 0, "scan_distinct_in": 0, "scan_calls": 0}
_hmac = federate.privacy.pseudonym.pseudonyms
_scan = getattr(federate.privacy.gate, "scan_values")  # noqa: B009


def counting_hmac(key: Any, country: str, ids: list[str]) -> Any:
    counts["hmac_calls"] += len(ids)  # one HMAC per id, computed in bulk
    return _hmac(key, country, ids)


def counting_scan(values: pa.Array, **kwargs: Any) -> Any:
    counts["scan_calls"] += 1
    counts["scan_values_in"] += len(values)
    counts["scan_distinct_in"] += len(pc.unique(values))
    return _scan(values, **kwargs)


def main() -> None:
    site, export_dir, bundle, key_file, signing_file, out = sys.argv[1:7]
    # Both are looked up by module global at call time, so the counters see every call.
    setattr(federate.privacy.pseudonym, "pseudonyms", counting_hmac)  # noqa: B010
    setattr(federate.privacy.gate, "scan_values", counting_scan)  # noqa: B010
    adapter = registry.adapter(site)
    key = federate.privacy.pseudonym.load_key(site, Path(key_file))
    signing = load_signing_key(site, Path(signing_file), create=False)
    ingest(adapter, Path(export_dir), Path(bundle), key, signing=signing, operator="benchmark")
    rows = 0
    subjects: set[str] = set()
    for path in (Path(bundle) / "tables").glob("*.parquet"):
        table = pq.read_table(path)
        rows += table.num_rows
        if "subject_id" in table.column_names:
            subjects.update(pc.unique(table["subject_id"]).to_pylist())
    result = {**counts, "rows": rows, "distinct_subjects": len(subjects)}
    Path(out).write_text(json.dumps(result, indent=2), "utf-8")


if __name__ == "__main__":
    main()
