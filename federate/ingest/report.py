"""The bundle's report: what a site's coordinator reads after an ingest - each source's row
accounting, the columns ignored or dropped, and the quarantine and warnings by reason, with
examples."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa

from federate.adapters.declaration import SiteAdapter
from federate.bundle.manifest import read_manifest, table_path
from federate.errors import Location, UsageError
from federate.ingest.accounts import SourceAccount
from federate.quality.bundle_page import Previous

EXAMPLES = 200  # of each of the quarantine and the warnings: the files hold them all


def build_report(
    adapter: SiteAdapter,
    submission_id: str,
    accounts: list[SourceAccount],
    quarantine: pa.Table,
    warnings: pa.Table,
    columns: list[dict[str, Any]],
) -> dict[str, Any]:
    quarantined_rows = (
        quarantine.select(["source_file", "source_row"])
        .group_by(["source_file", "source_row"])
        .aggregate([])
        .num_rows
        if quarantine.num_rows
        else 0
    )
    examples = quarantine.slice(0, EXAMPLES).to_pylist()
    warning_examples = warnings.slice(0, EXAMPLES).to_pylist()
    return {
        "site": adapter.name,
        "submission_id": submission_id,
        "sources": [vars(a) for a in accounts],
        "columns": columns,
        "quarantine": {
            "rows": quarantined_rows,
            "failures": quarantine.num_rows,
            "by_reason": _counts(quarantine, ["table", "reason"]),
            "examples": examples,
        },
        "warnings": {
            "count": warnings.num_rows,
            "by_reason": _counts(
                warnings, ["table", "reason", "shared_column", "source_file", "column"]
            ),
            "examples": warning_examples,
        },
    }


def _counts(table: pa.Table, by: list[str]) -> list[dict[str, Any]]:
    if table.num_rows == 0:
        return []
    grouped = table.group_by(by).aggregate([([], "count_all")])
    return sorted(grouped.to_pylist(), key=lambda r: [str(r[k]) for k in by])


def previous_submission(bundle: Path, site: str, key_id: str) -> Previous:
    """The site's previous bundle, to say what changed since: its tables, matched on their
    keys when its pseudonyms were made with the same key (otherwise the report says so)."""
    manifest = read_manifest(bundle)
    if manifest.get("site") != site:
        raise UsageError(
            f"--previous is a bundle of {manifest.get('site')!r}, not of {site!r}",
            code="bad-option",
            where=Location(file=str(bundle)),
        )
    tables = {name: table_path(bundle, name) for name in manifest.get("tables", {})}
    same_key = manifest.get("pseudonym_key_id") == key_id
    return Previous(str(manifest.get("submission_id", bundle.name)), tables, same_key)
