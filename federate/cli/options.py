"""Options shared by several commands, declared once so their help reads the same everywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from federate.output import Format

WarehouseOpt = Annotated[
    Path,
    typer.Option(
        "--warehouse",
        envvar="FEDERATE_WAREHOUSE",
        help="Warehouse folder (created by the first `pool add`). Default: $FEDERATE_WAREHOUSE.",
    ),
]
FormatOpt = Annotated[Format, typer.Option("--format", help="table, csv or json.")]
SummaryFormatOpt = Annotated[
    Format, typer.Option("--format", help="table (summary on stderr) or json (stdout).")
]
OperatorOpt = Annotated[
    str | None, typer.Option(help="Who does it, for the record (default: the login name).")
]
