"""A registry-scale warehouse for the pooled-query benchmark, built from the simulator's truth.

Ingesting 100,000 patients through every adapter would take most of the benchmark's budget
(the Spanish ODM adapter alone reads ~1,600 rows/s), and the queries only need the Parquet
files. So each site's rows of ``truth/<table>.parquet`` - exactly the shared Arrow schema -
become a signed bundle (tables, manifest with checksums and per-table accounting, Ed25519
signature) and are published with ``federate.warehouse.publish.add``, which verifies them as
it would any site's bundle. The query paths under test are unchanged.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from federate.adapters import registry
from federate.bundle.manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    SIGNATURE,
    seal,
    table_path,
    write_json,
)
from federate.bundle.signing import load_signing_key, new_signing_key
from federate.synth.sites import spec
from federate.warehouse import publish


def bundle_from_truth(truth: dict[str, Path], site: str, out: Path, keys: Path) -> Path:
    schema = registry.schema()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    submission_id = f"{site}-{now:%Y%m%dT%H%M%SZ}-bench"
    tables: dict[str, dict[str, object]] = {}
    sources = []
    for table in schema:
        rows = pq.read_table(truth[table.name])
        rows = rows.filter(pc.equal(rows["site"], site))
        at = rows.schema.get_field_index("submission_id")
        ids = pa.array([submission_id] * rows.num_rows, pa.string())
        rows = rows.set_column(at, rows.schema.field(at), ids)
        path = table_path(out, table.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(rows, path, compression="zstd")
        tables[table.name] = {"file": path.relative_to(out).as_posix(), "rows": rows.num_rows}
        n = rows.num_rows
        sources.append(
            {
                "path": f"{table.name}.truth",
                "table": table.name,
                "rows_read": n,
                "rows_mapped": n,
                "rows_quarantined": 0,
                "rows_skipped": 0,
                "rows_parent_quarantined": 0,
            }
        )
    manifest = {
        "manifest_version": MANIFEST_VERSION,
        "site": site,
        "country": spec(site).country,
        "submission_id": submission_id,
        "schema": {"name": schema.name, "version": schema.version},
        "created_utc": now.isoformat().replace("+00:00", "Z"),
        "operator": "benchmark",
        "sources": sources,
        "tables": tables,
        "files": seal(out),
    }
    write_json(out / MANIFEST, manifest)
    key_path = keys / f"{site}.signing.pem"
    if not key_path.exists():
        new_signing_key(key_path)
    signing = load_signing_key(site, key_path, create=False)
    signature = signing.sign((out / MANIFEST).read_bytes())
    write_json(
        out / SIGNATURE,
        {"algorithm": "ed25519", "public_key": signing.public, "signature": signature},
    )
    return out


def build(synth_summary: Path, work: Path) -> Path:
    """Publish every registered site's truth into ``work/warehouse``; return the warehouse."""
    summary = json.loads(synth_summary.read_text("utf-8"))
    truth = {name: Path(p) for name, p in summary["truth"].items()}
    wh = work / "warehouse"
    keys = work / "signing"
    sites = [s for s in summary["patients"] if s in registry.site_names()]
    for site in sites:
        bundle = bundle_from_truth(truth, site, work / "bundles" / site, keys)
        publish.add(bundle, wh, operator="benchmark")
    return wh


if __name__ == "__main__":
    import sys

    print(build(Path(sys.argv[1]), Path(sys.argv[2])))
