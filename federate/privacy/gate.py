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
        return f"{self.table}.{self.column}: {self.kind} {self.masked} at {where}"


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
