"""``federate query "SQL"``: one read-only SELECT over the role's relations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from federate.cli.options import (
    DEFAULT_MIN_CELL,
    QUERY_MAX_BYTES,
    QUERY_MAX_ROWS,
    QUERY_MEMORY,
    QUERY_SECONDS,
    OperatorOpt,
    WarehouseOpt,
)
from federate.errors import UsageError
from federate.output import DataFormat
from federate.query.roles import Role

# Shared with `federate analyses run`.
RoleOpt = Annotated[
    Role,
    typer.Option(
        "--role",
        help="blinded (default): no sequence, product, dose or arm can be reached. unblinded: "
        "by arm; every unblinded run is recorded in the warehouse's audit log.",
    ),
]
DataFormatOpt = Annotated[
    DataFormat,
    typer.Option("--format", help="table, csv, json, or parquet (needs --out FILE)."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option("--out", help="Write the result to this file instead of stdout."),
]
# Shared with `federate analyses run`, where each part's query has the time limit.
SecondsOpt = Annotated[
    float, typer.Option("--timeout", min=0.01, help="Time limit in seconds: then interrupted.")
]
MemoryOpt = Annotated[
    str, typer.Option("--memory-limit", help="Memory limit of the query engine, e.g. 2GB.")
]
CommandSecondsOpt = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.01,
        help="Time limit of the whole command in seconds (query, fetching and writing the "
        "output): then stopped, exit 2, nothing written.",
    ),
]
CommandMemoryOpt = Annotated[
    str,
    typer.Option(
        "--memory-limit",
        help="Memory limit of the query engine, e.g. 500MB or 2GB; the whole command stays "
        "within about twice that over what it uses once the session is open. Past it: exit 2.",
    ),
]
MaxRowsOpt = Annotated[
    int,
    typer.Option(
        "--max-rows",
        min=0,
        help="Refuse (exit 2, nothing written) a result of more rows than this: never cut.",
    ),
]
MaxBytesOpt = Annotated[
    str,
    typer.Option(
        "--max-bytes",
        help="Refuse (exit 2, nothing written) a result larger than this as fetched (Arrow "
        "data, before formatting), e.g. 1GB: never cut.",
    ),
]


def register(app: typer.Typer) -> None:
    app.command("query")(query)


def query(
    sql: Annotated[
        str,
        typer.Argument(help="One SELECT over the shared tables and the role's views."),
    ],
    wh: WarehouseOpt,
    role: RoleOpt = Role.BLINDED,
    min_cell: Annotated[
        int | None,
        typer.Option(
            "--min-cell",
            min=1,
            help="Release the result as a table of aggregates (e.g. "
            f"{DEFAULT_MIN_CELL}): keys are the GROUP BY columns; whole-number values are "
            "counts (1..K-1 suppressed, with secondary suppression over ROLLUP/CUBE and "
            "'ALL' totals); every other value of a suppressed row is hidden with it. A shape "
            "that cannot be audited is refused (exit 3); --timeout covers the suppression. "
            "Default: no suppression (a row-level tool).",
        ),
    ] = None,
    fmt: DataFormatOpt = DataFormat.TABLE,
    out: OutOpt = None,
    seconds: CommandSecondsOpt = QUERY_SECONDS,
    memory: CommandMemoryOpt = QUERY_MEMORY,
    max_rows: MaxRowsOpt = QUERY_MAX_ROWS,
    max_bytes: MaxBytesOpt = QUERY_MAX_BYTES,
    operator: OperatorOpt = None,
) -> None:
    """Run one read-only SELECT over every site's current submission, as a role.

    Relations: each shared table; allocation, periods and treatment_periods (the arm of
    each patient: 'ALL' only, for the blinded role); code_labels; intake (row accounting).
    The blinded role's tables are read from the warehouse's blinded area: restricted
    columns do not exist there. SQL cannot read or write files, attach databases, load
    extensions or change settings. Anything but a single SELECT (or WITH ... SELECT), a
    query past the time or memory limit, or a result past --max-rows or --max-bytes, exits 2
    with nothing written: results stream, and are never cut short.

    Example: federate query "SELECT site, count(*) AS n FROM subjects GROUP BY site"
    --warehouse WH --format csv --timeout 30 --memory-limit 1GB
    """
    import pyarrow as pa

    from federate.output import emit_batches
    from federate.query.sandbox import Limits, open_query

    if fmt is DataFormat.PARQUET and out is None:
        raise UsageError("--format parquet needs --out FILE", code="bad-format")
    if fmt is DataFormat.TABLE and out is not None:
        raise UsageError("--out needs --format csv, json or parquet", code="bad-format")
    limits = Limits(seconds=seconds, memory=memory, max_rows=max_rows, max_bytes=max_bytes)
    with open_query(
        sql, wh, role=role, limits=limits, min_cell=min_cell, operator=operator, whole_process=True
    ) as result:
        try:
            emit_batches(result.schema, result.batches, fmt, out, result.check)
        except (pa.ArrowNotImplementedError, pa.ArrowInvalid, TypeError) as exc:
            raise UsageError(
                f"this result cannot be written as {fmt.value} ({exc}); try --format json",
                code="bad-format",
            ) from None
    raise typer.Exit(0)
