"""``federate pool report``: the pool's data-quality page (federate.quality.pool_page) from
every site's current submission, read in the blinded role: the blinded copies of the tables,
which hold no allocation, and each bundle's own report, which never held any."""

from __future__ import annotations

import datetime as dt
import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

from federate.bundle.manifest import REPORT
from federate.errors import Location, UsageError
from federate.warehouse.blind import current_blinded_files
from federate.warehouse.catalog import read_catalog


def write_pool_report(warehouse: Path, out: Path) -> dict[str, Any]:
    """Write the page to ``out`` (whole or not at all) and return what it covers."""
    from federate.adapters import registry
    from federate.quality.pool_page import render_pool

    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(
            "the pool report is an HTML page: give --out a name ending in .html",
            code="bad-option",
            where=Location(file=str(out)),
        )
    catalog = read_catalog(warehouse)
    files = current_blinded_files(warehouse, catalog)
    reports = {
        sub.site: json.loads((warehouse / sub.path / REPORT).read_text("utf-8"))
        for sub in catalog.current_submissions()
    }
    last = catalog.history[-1] if catalog.history else None
    made = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    state = f"made {made}"
    if last is not None:
        state = f"state after publish #{last.seq} ({last.time_utc}) · {state}"
    page = render_pool(
        registry.schema(), files, reports, [asdict(e) for e in catalog.history], state
    )
    _write_whole(out, page)
    return {"out": str(out), "sites": sorted(reports), "made_utc": made}


def _write_whole(out: Path, text: str) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    tmp.write_text(text, "utf-8")
    os.replace(tmp, out)
