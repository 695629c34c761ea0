"""The guard against one submission emptying a site: ``pool add`` refuses a bundle that would
leave a site with fewer than half of its current subjects, or of any table's rows, unless the
operator says ``--allow-shrink`` (and the log records it).

An export whose every patient was quarantined still makes a valid, signed bundle; published, it
would replace a good submission with nothing. The rows per table are the manifest's, which
``bundle.manifest.verify`` has checked against the Parquet files.
"""

from __future__ import annotations

from typing import Any

from federate.errors import IntegrityError
from federate.warehouse.catalog import Catalog


def shrinkage(catalog: Catalog, manifest: dict[str, Any]) -> list[str]:
    """Each table of the site's current submission whose rows would fall below half, as
    ``table before → after`` (empty when nothing shrinks sharply, or the site is new)."""
    current = catalog.current.get(manifest["site"])
    if current is None:
        return []
    before = catalog.submissions[current].rows
    after = {name: int(info["rows"]) for name, info in manifest["tables"].items()}
    return [
        f"{table} {rows:,} → {after.get(table, 0):,}"
        for table, rows in before.items()
        if 2 * after.get(table, 0) < rows
    ]


def check_shrink(catalog: Catalog, manifest: dict[str, Any], allow: bool) -> str:
    """Refuse (exit 3) a sharp shrink; with ``allow`` return the note the log keeps of it."""
    shrunk = shrinkage(catalog, manifest)
    if not shrunk:
        return ""
    site, current = manifest["site"], catalog.current[manifest["site"]]
    what = ", ".join(shrunk)
    if allow:
        return f"--allow-shrink: {site} shrinks to fewer than half of {current}'s rows ({what})"
    raise IntegrityError(
        f"bundle {manifest['submission_id']} would leave {site} with fewer than half of the rows "
        f"of its current submission {current}: {what}. Was most of the export quarantined (see "
        "the bundle's report)? If the site's data really shrank, add it with --allow-shrink "
        "(recorded in the audit log)",
        code="site-shrinks",
    )
