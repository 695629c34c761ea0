"""``federate query "SQL"``: one read-only SELECT over the role's relations."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from federate.cli.options import (
    DEFAULT_MIN_CELL,
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
SecondsOpt = Annotated[
    float, typer.Option("--timeout", min=0.01, help="Time limit in seconds: then interrupted.")
]
MemoryOpt = Annotated[
    str, typer.Option("--memory-limit", help="Memory limit of the query engine, e.g. 2GB.")
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
    seconds: SecondsOpt = QUERY_SECONDS,
    memory: MemoryOpt = QUERY_MEMORY,
    operator: OperatorOpt = None,
) -> None:
    """Run one read-only SELECT over every site's current submission, as a role.

    Relations: each shared table; allocation, periods and treatment_periods (the arm of
    each patient: 'ALL' only, for the blinded role); code_labels; intake (row accounting).
    The blinded role's tables are read from the warehouse's blinded area: restricted
    columns do not exist there. SQL cannot read or write files, attach databases, load
    extensions or change settings. Anything but a single SELECT (or WITH ... SELECT), a
    query past the time or memory limit, exits 2.

    Example: federate query "SELECT site, count(*) AS n FROM subjects GROUP BY site"
    --warehouse wh --min-cell 5
    """
    import pyarrow as pa

    from federate.output import emit_table
    from federate.query.sandbox import Limits, run_query

    if fmt is DataFormat.PARQUET and out is None:
        raise UsageError("--format parquet needs --out FILE", code="bad-format")
    limits = Limits(seconds=seconds, memory=memory)
    result = run_query(sql, wh, role=role, limits=limits, min_cell=min_cell, operator=operator)
    try:
        emit_table(result, fmt, out=out)
    except (pa.ArrowNotImplementedError, pa.ArrowInvalid, TypeError) as exc:
        raise UsageError(
            f"this result cannot be written as {fmt.value} ({exc}); try --format json",
            code="bad-format",
        ) from None
    raise typer.Exit(0)
