"""Results for people (rich tables on stdout, messages on stderr) and for machines (CSV, JSON,
and Parquet written to a file). Suppressed cells (federate.query.disclosure) read ``[c]`` in tables
and CSV, and are null with ``"suppressed": true`` in JSON and Parquet."""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import os
import sys
import tempfile
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from rich.console import Console

from federate.errors import UsageError

if TYPE_CHECKING:  # imported where used: every command imports this module to build its options
    import pyarrow as pa
    from rich.table import Table as RichTable

err = Console(stderr=True, highlight=False, soft_wrap=True)
# Piped tables keep every column whole instead of squeezing to 80 characters.
# Off a terminal, tables are not cut to 80 columns, unless COLUMNS says how wide to be.
_WIDTH = None if sys.stdout.isatty() or os.environ.get("COLUMNS") else 200
out_console = Console(highlight=False, soft_wrap=True, width=_WIDTH)


# How disclosure control (federate.query.disclosure) marks what it released: a suppressed row
# has ``suppressed`` true, and every measure of it (field metadata) reads MARK in text outputs.
MARK = "[c]"
SUPPRESSED = "suppressed"
_MEASURE_KEY = b"federate.disclosure"
MEASURE_META = {_MEASURE_KEY: b"measure"}


class Format(StrEnum):
    TABLE = "table"
    CSV = "csv"
    JSON = "json"


class SummaryFormat(StrEnum):
    """Formats of a command that does something and reports it (ingest, pool add): a summary
    for people, or JSON for machines; a CSV of a summary would mean nothing."""

    TABLE = "table"
    JSON = "json"


class DataFormat(StrEnum):
    """Formats of released results (query, analyses): Parquet needs --out FILE."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"
    PARQUET = "parquet"


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


def _is_measure(field: pa.Field) -> bool:
    return bool(field.metadata) and field.metadata.get(_MEASURE_KEY) == b"measure"


def rich_table(table: pa.Table, title: str | None = None) -> RichTable:
    """Suppressed measures read [c]; the ``suppressed`` column itself is then left out."""
    import pyarrow as pa
    from rich.table import Table as RichTable
    from rich.text import Text

    hidden = table.column(SUPPRESSED).to_pylist() if SUPPRESSED in table.column_names else None
    fields = [f for f in table.schema if f.name != SUPPRESSED]
    caption = Text(f"{MARK}: suppressed (disclosure control)") if hidden and any(hidden) else None
    view = RichTable(title=title, title_justify="left", header_style="bold", caption=caption)
    for field in fields:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type)
        view.add_column(field.name, justify="right" if numeric else "left")
    measures = [_is_measure(f) for f in fields]
    for i, row in enumerate(table.select([f.name for f in fields]).to_pylist()):
        cells = [  # Text: a value is never read as rich markup ("[c]" would vanish)
            Text(MARK if hidden and hidden[i] and measure else _cell(value))
            for value, measure in zip(row.values(), measures, strict=True)
        ]
        view.add_row(*cells)
    return view


def marked(table: pa.Table) -> pa.Table:
    import pyarrow as pa
    import pyarrow.compute as pc

    """For text outputs: every measure of a suppressed row reads ``[c]`` (columns as text)."""
    if SUPPRESSED not in table.column_names:
        return table
    hide = table.column(SUPPRESSED)
    fields, arrays = [], []
    for f, column in zip(table.schema, table.columns, strict=True):
        if _is_measure(f):
            text = pc.cast(column, pa.string()) if f.type != pa.string() else column
            column = pc.if_else(hide, pa.scalar(MARK), text)
            f = pa.field(f.name, pa.string(), metadata=f.metadata)
        fields.append(f)
        arrays.append(column)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields))


def csv_text(table: pa.Table) -> str:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    sink = pa.BufferOutputStream()
    pa_csv.write_csv(marked(table), sink)
    return str(sink.getvalue().to_pybytes().decode("utf-8"))


def emit_table(
    table: pa.Table,
    fmt: Format | DataFormat,
    title: str | None = None,
    out: Path | None = None,
) -> None:
    """Print ``table`` to stdout, or write it to ``out`` (Parquet only to a file)."""
    fmt = DataFormat(fmt.value)
    if fmt is DataFormat.PARQUET:
        import pyarrow.parquet as pq

        pq.write_table(table, require_out(out, fmt), compression="zstd")
    elif fmt is DataFormat.JSON:
        write_text(json.dumps(rows_as_json(table), ensure_ascii=False, indent=2) + "\n", out)
    elif fmt is DataFormat.CSV:
        write_text(csv_text(table), out)
    else:
        if out is not None:
            raise UsageError("--out needs --format csv, json or parquet", code="bad-format")
        out_console.print(rich_table(table, title))


def require_out(out: Path | None, fmt: DataFormat) -> Path:
    if out is None:
        raise UsageError(f"--format {fmt.value} needs --out FILE", code="bad-format")
    return out


def write_text(text: str, out: Path | None) -> None:
    if out is None:
        sys.stdout.write(text)
    else:
        out.write_text(text, "utf-8")


def emit_batches(
    schema: pa.Schema,
    batches: Iterator[pa.RecordBatch],
    fmt: DataFormat,
    out: Path | None = None,
    check: Callable[[], None] = lambda: None,
) -> None:
    """Write a result as it streams in, batch by batch; all or nothing: to a temporary file
    beside ``out`` (renamed over it at the end) or an unnamed one (copied to stdout at the
    end), so a result refused halfway (too large, too slow) leaves no partial output.
    ``check`` runs between batches and chunks (the command's deadline)."""
    import pyarrow as pa

    if fmt is DataFormat.TABLE:  # a table for people: whole, within the command's limits
        table = pa.Table.from_batches(list(batches), schema=schema)
        check()
        emit_table(table, fmt, out=out)
        return
    if fmt is DataFormat.PARQUET:
        require_out(out, fmt)
    with _all_or_nothing(out, check) as sink:
        _WRITERS[fmt](schema, batches, sink)


@contextmanager
def _all_or_nothing(out: Path | None, check: Callable[[], None]) -> Iterator[BinaryIO]:
    if out is not None:
        partial = out.with_name(f".{out.name}.partial-{os.getpid()}")
        try:
            opened = partial.open("wb")
        except OSError as exc:
            raise UsageError(f"cannot write --out {out}: {exc.strerror}", code="bad-out") from None
        try:
            with opened as sink:
                yield sink
            os.replace(partial, out)
        finally:
            partial.unlink(missing_ok=True)
        return
    with tempfile.TemporaryFile() as sink:
        yield sink
        sink.seek(0)
        sys.stdout.flush()
        target = getattr(sys.stdout, "buffer", None)
        while chunk := sink.read(1 << 20):
            check()
            if target is None:  # a text-only stdout: whole lines are whole characters
                sys.stdout.write(chunk.decode("utf-8"))
            else:
                target.write(chunk)
        sys.stdout.flush()


def _write_csv(schema: pa.Schema, batches: Iterator[pa.RecordBatch], sink: BinaryIO) -> None:
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    with pa_csv.CSVWriter(sink, marked(schema.empty_table()).schema) as writer:
        for batch in batches:
            writer.write_table(marked(pa.Table.from_batches([batch], schema=schema)))


def _write_json(schema: pa.Schema, batches: Iterator[pa.RecordBatch], sink: BinaryIO) -> None:
    """The same text as json.dumps(rows, indent=2), written a batch at a time."""
    import pyarrow as pa

    opened = False
    for batch in batches:
        rows = rows_as_json(pa.Table.from_batches([batch], schema=schema))
        if not rows:
            continue
        text = ",\n".join(
            textwrap.indent(json.dumps(row, ensure_ascii=False, indent=2), "  ") for row in rows
        )
        sink.write((("[\n" if not opened else ",\n") + text).encode("utf-8"))
        opened = True
    sink.write(b"\n]\n" if opened else b"[]\n")


def _write_parquet(schema: pa.Schema, batches: Iterator[pa.RecordBatch], sink: BinaryIO) -> None:
    import pyarrow.parquet as pq

    with pq.ParquetWriter(sink, schema, compression="zstd") as writer:
        for batch in batches:
            writer.write_batch(batch)


_WRITERS = {DataFormat.CSV: _write_csv, DataFormat.JSON: _write_json}
_WRITERS[DataFormat.PARQUET] = _write_parquet
