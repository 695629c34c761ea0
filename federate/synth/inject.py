"""Deliberate errors for ``--inject-errors``, each with the reason code ingest must give it.

Errors are planned from the adapter declaration (which column carries the scan date, the visit
code...), written in the site's own notation, one per row, on distinct random rows of the file,
from the site's own error stream (so the rest of the export is byte-identical to the clean one).
The truth keeps these rows: exclude the listed (site, file, source_row) when comparing.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import Code, Date, Integer, Locale, Parser


@dataclass(frozen=True)
class InjectedError:
    site: str
    table: str
    file: str
    source_row: int  # record number (header = 1)
    column: str  # the site's column name
    value: str  # as written in the file
    reason: str  # the reason code ingest must report

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def impossible_date(parser: Parser, locale: Locale) -> str | None:
    """31 February 2020 in the site's date format."""
    if not isinstance(parser, Date):
        return None
    fmt = (parser.formats or locale.date_formats)[0]
    parts = {"%d": "31", "%m": "02", "%Y": "2020", "%y": "20"}
    text = fmt
    for token, value in parts.items():
        text = text.replace(token, value)
    return None if "%" in text else text


def unknown_code(parser: Parser, locale: Locale) -> str | None:
    """A plausible-looking code the site's list lacks, e.g. SETT99 next to SETT48."""
    if not isinstance(parser, Code):
        return None
    known = {str(k).strip().lower() for k in parser.mapping}
    numbered = [str(k).rstrip("0123456789") for k in parser.mapping if str(k)[-1:].isdigit()]
    for candidate in [f"{stem}99" for stem in numbered] + ["ZZ99"]:
        if candidate.lower() not in known:
            return candidate
    return None


def not_a_number(parser: Parser, locale: Locale) -> str | None:
    return "n.d." if isinstance(parser, Integer) else None  # "non disponibile"


def negative(parser: Parser, locale: Locale) -> str | None:
    return "-1" if isinstance(parser, Integer) else None


Recipe = tuple[str, str, Callable[[Parser, Locale], str | None], str]
# (shared table, shared column, value in the site's notation, expected reason)
RECIPES: tuple[Recipe, ...] = (
    ("mri", "scan_date", impossible_date, "invalid-date"),
    ("mri", "visit_code", unknown_code, "unknown-code"),
    ("mri", "gel_count", not_a_number, "invalid-number"),
    ("mri", "gel_count", negative, "out-of-range"),
)
# Errors a format cannot hold: a REDCap export has no row for an event the project lacks
# (its reader refuses such a file whole, as REDCap itself would never write it).
IMPOSSIBLE: dict[str, set[tuple[str, str]]] = {"redcap": {("mri", "visit_code")}}


def inject(
    adapter: SiteAdapter,
    tm: TableMap,
    columns: dict[str, pa.Array],
    rng: np.random.Generator,
) -> list[InjectedError]:
    """Apply this file's recipes to ``columns`` (in place) and list what was injected."""
    planned = [
        (column, parser.source, value, reason)
        for table, column, make, reason in RECIPES
        if table == tm.table
        and (table, column) not in IMPOSSIBLE.get(adapter.format, set())
        and (parser := tm.fields.get(column)) is not None
        and parser.source is not None
        and (value := make(parser, adapter.locale)) is not None
    ]
    n = len(next(iter(columns.values()))) if columns else 0
    rows = rng.choice(n, size=min(n, len(planned)), replace=False)
    injected = []
    for (_, source, value, reason), row in zip(planned, sorted(rows.tolist()), strict=False):
        mask = np.zeros(n, dtype=bool)
        mask[row] = True
        columns[source] = pc.if_else(pa.array(mask), value, columns[source])
        injected.append(
            InjectedError(adapter.name, tm.table, tm.file, row + 2, source, value, reason)
        )
    return injected
