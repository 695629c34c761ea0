"""Ingest an export and hold the pool to the truth: every table, every column, every row (by
its file and record number), the accounting of every source, and what was quarantined."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from federate.adapters import registry
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import SiteKey
from tests.conformance.truth import Row, expected_table

IGNORED = {"site", "submission_id"}
Rows = list[dict[str, Any]]
KEY = bytes(range(32))


def site_key(folder: Path) -> SiteKey:
    return SiteKey(KEY, folder / "site.key")


def run(site: str, export: Path, out: Path) -> IngestResult:
    return ingest(registry.adapter(site), export, out, site_key(out.parent))


@dataclass(frozen=True)
class Quarantined:
    """A quarantine row as the spec says the coordinator sees it."""

    table: str
    source_file: str
    source_row: int
    column: str | None
    reason: str


def differences(site: str, expected: dict[str, list[Row]], result: IngestResult) -> list[str]:
    """Every way the pool differs from the truth (empty: it pools exactly)."""
    found: list[str] = []
    schema = registry.schema()
    adapter = registry.adapter(site)
    for table in schema:
        rows = expected.get(table.name, [])
        want = expected_table(adapter, table, rows)
        path = result.bundle / "tables" / f"{table.name}.parquet"
        got = pq.read_table(path) if path.exists() else None
        found += _table_differences(table.name, want, got)
    for source in result.manifest["sources"]:
        parts = source["rows_mapped"] + source["rows_quarantined"] + source["rows_skipped"]
        if source["rows_read"] != parts:
            found.append(f"accounting of {source['path']}: {source}")
    return found


def _table_differences(name: str, want: pa.Table, got: pa.Table | None) -> list[str]:
    order = [("source_file", "ascending"), ("source_row", "ascending")]
    if got is None:
        return [f"{name}: no table pooled, {want.num_rows} rows in the truth"] if want else []
    want, got = want.sort_by(order), got.sort_by(order)
    w_at = list(zip(want["source_file"].to_pylist(), want["source_row"].to_pylist(), strict=True))
    g_at = list(zip(got["source_file"].to_pylist(), got["source_row"].to_pylist(), strict=True))
    if w_at != g_at:
        return [
            f"{name}: rows pooled at {_short(g_at)}, the truth's at {_short(w_at)}"
            f" ({got.num_rows} pooled, {want.num_rows} in the truth)"
        ]
    found = []
    for column in want.column_names:
        if column in IGNORED:
            continue
        w, g = want[column].to_pylist(), got[column].to_pylist()
        for (file, row), a, b in zip(w_at, w, g, strict=True):
            if not same(a, b):
                found.append(f"{name}.{column} at {file} record {row}: pooled {b!r}, truth {a!r}")
    return found


def _short(at: list[tuple[str, int]]) -> str:
    return ", ".join(f"{f}:{r}" for f, r in at[:8]) + (" ..." if len(at) > 8 else "")


def same(want: Any, have: Any) -> bool:
    if isinstance(want, float) and isinstance(have, float):
        return math.isclose(want, have, rel_tol=1e-9, abs_tol=1e-9)
    if isinstance(want, dt.datetime) or isinstance(have, dt.datetime):
        return False
    return bool(want == have) and type(want) is type(have)


def quarantined(result: IngestResult) -> list[Quarantined]:
    return [
        Quarantined(q["table"], q["source_file"], q["source_row"], q["column"], q["reason"])
        for q in result.quarantine.to_pylist()
    ]


def pooled(result: IngestResult, table: str) -> Rows:
    """A pooled table's rows, in file and record order."""
    rows: Rows = pq.read_table(result.bundle / "tables" / f"{table}.parquet").to_pylist()
    return sorted(rows, key=lambda r: (r["source_file"], r["source_row"]))


def ingest_by_hand(site: str, tmp_path: Path, write: Callable[[Path], None]) -> IngestResult:
    """Ingest what ``write`` puts in an export folder: it must pool with nothing quarantined."""
    export = tmp_path / "export"
    export.mkdir()
    write(export)
    result = run(site, export, tmp_path / "bundle")
    assert result.quarantine.to_pylist() == []
    assert int(result.exit_code) == 0
    return result
