"""Results for people (rich tables on stdout, messages on stderr) and for machines (CSV, JSON)."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import sys
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
from rich.console import Console
from rich.table import Table as RichTable

err = Console(stderr=True, highlight=False, soft_wrap=True)
# Piped tables keep every column whole instead of squeezing to 80 characters.
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


def plain(value: Any) -> Any:
    """A JSON-ready scalar: dates as ISO strings, decimals as floats, NaN as null."""
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return float(value)
    if isinstance(value, float) and (math.isnan(value) or math.isinf(value)):
        return None
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return value


def rows_as_json(table: pa.Table) -> list[dict[str, Any]]:
    return [{k: plain(v) for k, v in row.items()} for row in table.to_pylist()]


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2, default=str) + "\n")


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        if value != 0 and (abs(value) < 1e-3 or abs(value) >= 1e6):
            return f"{value:.4g}"
        return f"{value:,.3f}".rstrip("0").rstrip(".")
    return str(plain(value))


def rich_table(table: pa.Table, title: str | None = None) -> RichTable:
    view = RichTable(title=title, title_justify="left", header_style="bold")
    for field in table.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        view.add_column(field.name, justify="right" if numeric else "left")
    for row in table.to_pylist():
        view.add_row(*(_cell(v) for v in row.values()))
    return view


def emit_table(table: pa.Table, fmt: Format, title: str | None = None) -> None:
    if fmt is Format.JSON:
        print_json(rows_as_json(table))
    elif fmt is Format.CSV:
        sink = pa.BufferOutputStream()
        pa_csv.write_csv(table, sink)
        sys.stdout.write(sink.getvalue().to_pybytes().decode("utf-8"))
    else:
        out.print(rich_table(table, title))
