"""The bundle's own files, written once every table is staged: the quarantine (Parquet for the
coordinating centre, CSV and Excel for the site), the report, the manifest that seals every file
by its SHA-256, and the signature over the manifest."""

from __future__ import annotations

import datetime as dt
import getpass
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from federate import __version__
from federate.adapters.declaration import SiteAdapter
from federate.bundle.manifest import (
    MANIFEST,
    MANIFEST_VERSION,
    QUARANTINE,
    QUARANTINE_CSV,
    QUARANTINE_XLSX,
    REPORT,
    REPORT_HTML,
    SIGNATURE,
    seal,
    table_path,
    write_json,
)
from federate.bundle.signing import SigningKey
from federate.ingest.accounts import SourceAccount
from federate.ingest.quarantine import Collector
from federate.ingest.quarantine_xlsx import write_quarantine_csv, write_quarantine_xlsx
from federate.ingest.report import build_report
from federate.privacy.gate import local_id_columns, mask_records
from federate.quality.bundle_page import Previous, Profiled, assess, profile_tables, render
from federate.schema import Schema


def site_copy_of(bundle: Path) -> Path:
    """Where the coordinator's own quarantine and report go: beside the bundle, never in it."""
    return bundle.with_name(bundle.name + ".site")


@dataclass(frozen=True)
class Submission:
    """Who submits what, under which id: the manifest's header."""

    adapter: SiteAdapter
    schema: Schema
    submission_id: str
    created: dt.datetime
    operator: str | None  # None: the user running the ingest
    pseudonym_key_id: str
    previous: Previous | None = None  # the site's previous submission, to compare with


@dataclass(frozen=True)
class Tally:
    """What the staged tables came to."""

    accounts: list[SourceAccount]  # as the adapter declares the sources, then files skipped
    columns: list[dict[str, Any]]  # per source: the columns ignored and dropped (the report's)
    identifier_scan: dict[str, Any]


@dataclass(frozen=True)
class Sealed:
    manifest: dict[str, Any]
    report: dict[str, Any]
    site_report: dict[str, Any]  # the coordinator's: values as exported
    quarantine: pa.Table
    warnings: pa.Table


def seal_bundle(
    stage: Path,
    site_copy: Path,
    submission: Submission,
    tally: Tally,
    failures: Collector,
    warnings: Collector,
    signing: SigningKey,
) -> Sealed:
    """Write the quarantine, the report and the manifest into ``stage``, then sign it. The
    bundle leaves the site, so its quarantine and report pass the identifier gate (identifiers
    and local patient ids masked); the coordinator's own copies, with the values as exported,
    go to ``site_copy``, which is never part of the bundle."""
    quarantine = failures.table()
    warning_table = _unquarantined(warnings.table(), quarantine)
    tables = {t.name: table_path(stage, t.name) for t in submission.schema}
    profiled = profile_tables(tables, submission.schema, submission.previous)
    site_report = _write_records(site_copy, profiled, submission, tally, quarantine, warning_table)
    hidden = local_id_columns(submission.adapter)
    leaving = mask_records(quarantine, hidden)
    masked = mask_records(warning_table, hidden)
    report = _write_records(stage, profiled, submission, tally, leaving, masked)
    pq.write_table(leaving, stage / QUARANTINE, compression="zstd")
    manifest = _manifest(stage, submission, tally, quarantine)
    manifest["files"] = seal(stage)
    write_json(stage / MANIFEST, manifest)
    # One signature over the manifest covers every file: it holds their SHA-256.
    write_json(
        stage / SIGNATURE,
        {
            "algorithm": "ed25519",
            "public_key": signing.public,
            "signature": signing.sign((stage / MANIFEST).read_bytes()),
        },
    )
    return Sealed(manifest, report, site_report, quarantine, warning_table)


def _unquarantined(warnings: pa.Table, quarantine: pa.Table) -> pa.Table:
    """Warnings of rows that were accepted: a quarantined row's warnings would only distract
    from what stopped it (and it is checked again once fixed)."""
    if not warnings.num_rows or not quarantine.num_rows:
        return warnings
    held = (
        quarantine.select(["source_file", "source_row"])
        .group_by(["source_file", "source_row"])
        .aggregate([])
    )
    kept = warnings.join(held, ["source_file", "source_row"], join_type="left anti")
    return (
        kept.select(warnings.column_names)
        .cast(warnings.schema)
        .sort_by(
            [("table", "ascending"), ("source_file", "ascending"), ("source_row", "ascending")]
        )
    )


def _write_records(
    folder: Path,
    profiled: Profiled,
    submission: Submission,
    tally: Tally,
    quarantine: pa.Table,
    warnings: pa.Table,
) -> dict[str, Any]:
    """The quarantine as CSV and Excel, and the report, into ``folder``; returns the report."""
    folder.mkdir(parents=True, exist_ok=True)
    write_quarantine_csv(folder / QUARANTINE_CSV, quarantine, submission.adapter.spreadsheet)
    report = build_report(
        submission.adapter,
        submission.submission_id,
        tally.accounts,
        quarantine,
        warnings,
        tally.columns,
    )
    records = pa.concat_tables([quarantine, warnings])
    quality = assess(report, submission.schema, records, profiled)
    report["quality"] = quality.to_json()
    write_quarantine_xlsx(folder / QUARANTINE_XLSX, quarantine, warnings, quality.causes)
    write_json(folder / REPORT, report)
    (folder / REPORT_HTML).write_text(render(report, quality, submission.previous), "utf-8")
    return report


def _manifest(
    stage: Path, submission: Submission, tally: Tally, quarantine: pa.Table
) -> dict[str, Any]:
    """The manifest without its ``files``, which can only be sealed once it is the last file
    left to write."""
    adapter, schema = submission.adapter, submission.schema
    return {
        "manifest_version": MANIFEST_VERSION,
        "site": adapter.name,
        "country": adapter.country,
        "submission_id": submission.submission_id,
        "schema": {"name": schema.name, "version": schema.version},
        "adapter": {"name": adapter.name, "version": adapter.version},
        "tool": {"name": "federate", "version": __version__},
        "created_utc": submission.created.isoformat().replace("+00:00", "Z"),
        "operator": submission.operator or getpass.getuser(),
        "pseudonym_key_id": submission.pseudonym_key_id,
        "identifier_scan": tally.identifier_scan,
        "sources": [vars(a) for a in tally.accounts],
        "tables": {
            name: {"file": table_path(stage, name).relative_to(stage).as_posix(), "rows": rows}
            for name, rows in _rows_per_table(tally.accounts).items()
        },
        "quarantine": {"file": QUARANTINE, "rows": quarantine.num_rows},
    }


def _rows_per_table(accounts: list[SourceAccount]) -> dict[str, int]:
    rows: dict[str, int] = {}
    for account in accounts:
        if account.table:  # files skipped whole feed no table
            rows[account.table] = rows.get(account.table, 0) + account.rows_mapped
    return rows
