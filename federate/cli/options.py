"""Options shared by several commands, declared once so their help reads the same everywhere.

Building the command line (every command's options, for ``--help`` or to run one command)
imports nothing heavy: each command imports the engine it needs in its own body. The defaults
it shows are therefore repeated here from the modules that own them, which
tests/cli/test_lazy.py checks they still match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from federate.output import Format, SummaryFormat


def _flags_show_no_type() -> None:
    """typer (0.2x) shows a flag's type as ``<bool>``, as if it took a value (``--help <bool>``):
    a flag shows none. Its rich help asks each option for its type through this one method."""
    from typer.core import TyperOption

    shown = TyperOption.display_type_rich

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        return None if self.is_flag else shown(self, ctx)

    setattr(TyperOption, "display_type_rich", display_type_rich)  # noqa: B010


_flags_show_no_type()

# federate.query.bounds.Limits (seconds, memory, max_rows, max_bytes),
# federate.query.disclosure.DEFAULT_MIN_CELL,
# federate.synth.DEFAULT_SEED and federate.synth.sites.DEFAULT_PATIENTS.
QUERY_SECONDS = 60.0
QUERY_MEMORY = "2GB"
QUERY_MAX_ROWS = 1_000_000
QUERY_MAX_BYTES = "1GB"
DEFAULT_MIN_CELL = 5
SYNTH_SEED = 2012
SYNTH_PATIENTS = 144

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
    SummaryFormat, typer.Option("--format", help="table (summary on stderr) or json (stdout).")
]
OperatorOpt = Annotated[
    str | None, typer.Option(help="Who does it, for the record (default: the login name).")
]
