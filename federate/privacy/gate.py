"""The identifier gate: nothing that names a patient leaves the site.

Runs on every text column of every staged table (free text included) before the bundle is
sealed. A hit refuses the bundle (exit 3) with a report naming table, column and rows and
showing the identifier masked. ``--allow-identifier-in TABLE.COLUMN`` lets a documented false
positive through; it is recorded in the manifest.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from federate.adapters.declaration import SiteAdapter
from federate.errors import PrivacyError
from federate.privacy.identifiers import names_an_identifier, scan_values
from federate.schema import DType, Schema
from federate.sqltext import sql_ident, sql_str

MAX_ROWS_SHOWN = 5


@dataclass(frozen=True)
class Finding:
    table: str
    column: str
    kind: str
    masked: str
    rows: list[tuple[str, int]]  # (source file, record)

    def describe(self) -> str:
        where = ", ".join(f"{f} row {r}" for f, r in self.rows)
        return f"{self.table}.{self.column}: {self.kind} {self.masked}" + (
            f" at {where}" if where else ""
        )


def check_column_names(adapter: SiteAdapter) -> None:
    """An adapter must not map a column whose very name announces a national identifier."""
    for tm in adapter.tables:
        for name, parser in tm.fields.items():
            if parser.source and names_an_identifier(parser.source):
                raise PrivacyError(
                    f"the {adapter.name} adapter maps {parser.source!r} (a national-identifier "
                    f"column by its name) into {tm.table}.{name}; declare it as dropped",
                    code="identifier-column",
                )


Scan = tuple[int, list[Finding]]  # columns scanned, findings


def scan_table(
    con: duckdb.DuckDBPyConnection,
    parquet: Path,
    schema: Schema,
    name: str,
    allowed: set[str],
) -> Scan:
    """The staged table's text columns scanned, each distinct value once: (columns scanned,
    findings). Run as each table is settled; ``identifier_verdict`` then rules on them all."""
    findings: list[Finding] = []
    scanned = 0
    table = schema.table(name)
    path = sql_str(str(parquet))
    for col in table.columns:
        if col.dtype is not DType.STRING or col.name in (
            "site",
            "subject_id",
            "submission_id",
            "source_file",
        ):
            continue
        if f"{name}.{col.name}" in allowed or col.name in allowed:
            continue
        scanned += 1
        ident = sql_ident(col.name)
        values = (
            con.sql(
                f"SELECT DISTINCT {ident} AS v FROM read_parquet({path}) WHERE {ident} IS NOT NULL"
            )
            .to_arrow_table()
            .column("v")
            .combine_chunks()
        )
        for hit in scan_values(values, free_text=col.free_text):
            rows = con.sql(
                f"SELECT source_file, source_row FROM read_parquet({path}) WHERE {ident} = "
                f"{sql_str(hit.value)} ORDER BY source_file, source_row LIMIT {MAX_ROWS_SHOWN}"
            ).fetchall()
            findings.append(Finding(name, col.name, hit.kind, hit.masked, rows))
    return scanned, findings


def identifier_verdict(scans: list[Scan], allowed: set[str]) -> dict[str, Any]:
    """Refuse the bundle (exit 3) if any table's scan found something; else the manifest's
    record of the scan."""
    findings = [f for _, found in scans for f in found]
    if findings:
        lines = "\n".join("  " + f.describe() for f in findings[:20])
        more = f"\n  … and {len(findings) - 20} more" if len(findings) > 20 else ""
        raise PrivacyError(
            f"refused: {len(findings)} possible national identifier(s), e-mail address(es) or "
            f"phone number(s) in the data; nothing was written. Remove them from the export, "
            f"or if one is a documented false positive pass --allow-identifier-in "
            f"TABLE.COLUMN:\n{lines}{more}",
            code="identifier-found",
        )
    scanned = sum(n for n, _ in scans)
    return {"scanned_columns": scanned, "allowed": sorted(allowed), "findings": 0}


LOCAL_ID_MASK = "(local patient id)"


def mask_identifiers(values: pa.Array) -> pa.Array:
    """``values`` with every identifier found in them masked where it stands (free-text rules:
    phone numbers too), each distinct value scanned once."""
    import pyarrow.compute as pc

    hits = scan_values(values, free_text=True)
    if not hits:
        return values
    masked: dict[str, str] = {}
    for hit in hits:
        masked[hit.value] = masked.get(hit.value, hit.value).replace(hit.match, hit.masked)
    keys = pa.array(list(masked), pa.string())
    index = pc.index_in(values, value_set=keys)
    replaced = pa.array(list(masked.values()), pa.string()).take(index)
    return pc.if_else(pc.is_null(index), values, replaced)


def mask_records(records: pa.Table, local_id_columns: set[str]) -> pa.Table:
    """Quarantine or warning records fit to leave the site: identifiers in their values masked,
    and the values of the local patient id columns (the site's own, or ``subject_id``) hidden."""
    import pyarrow.compute as pc

    if records.num_rows == 0:
        return records
    values = mask_identifiers(records.column("value").combine_chunks())
    is_id = pc.or_kleene(
        pc.is_in(records.column("column"), value_set=pa.array(sorted(local_id_columns))),
        pc.equal(records.column("shared_column"), "subject_id"),
    )
    is_id = pc.and_(pc.fill_null(is_id, False), pc.is_valid(values))
    values = pc.if_else(is_id, pa.scalar(LOCAL_ID_MASK), values)
    index = records.schema.get_field_index("value")
    return records.set_column(index, records.schema.field(index), values)


def local_id_columns(adapter: SiteAdapter) -> set[str]:
    """The site's own columns that hold its local patient id."""
    return {tm.subject.source for tm in adapter.tables if tm.subject}


def recheck_bundle(
    con: duckdb.DuckDBPyConnection, bundle: Path, schema: Schema, manifest: dict[str, Any]
) -> None:
    """The gate again, centrally, on a bundle as received (``pool add``): every text column of
    every table, and every quarantined value, scanned; any identifier refuses it (exit 3). Only
    the allowances the site recorded in its signed manifest are honoured."""
    allowed = set(manifest.get("identifier_scan", {}).get("allowed", []))
    scans = [
        scan_table(con, bundle / info["file"], schema, name, allowed)
        for name, info in manifest["tables"].items()
    ]
    quarantine = bundle / manifest.get("quarantine", {}).get("file", "")
    if quarantine.is_file():
        import pyarrow.parquet as pq

        values = pq.read_table(quarantine, columns=["value"]).column("value").combine_chunks()
        hits = scan_values(values, free_text=True)
        found = [Finding("quarantine", "value", h.kind, h.masked, []) for h in hits]
        scans.append((1, found))
    identifier_verdict(scans, allowed)
