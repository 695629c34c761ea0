"""``federate analyses``: the trial's named analyses, each a readable SQL file."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
import typer

from federate import analyses as registry
from federate.cli.options import FormatOpt, WarehouseOpt
from federate.output import Format, emit_table


def register(app: typer.Typer) -> None:
    group = typer.Typer(help="List and run the trial's named analyses.", no_args_is_help=True)
    app.add_typer(group, name="analyses")

    @group.command("list")
    def list_(
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        """List the named analyses, the tables they read and whether they reveal the arm."""
        rows = [
            {
                "name": a.name,
                "title": a.title,
                "reads": ", ".join(a.reads),
                "unblinded": a.unblinded,
                "sql_file": a.sql_file,
                "description": a.description,
            }
            for a in registry.ANALYSES
        ]
        table = pa.Table.from_pylist(rows)
        if fmt is Format.TABLE:  # the description is for csv/json; too wide for a terminal
            table = table.drop_columns(["sql_file", "description"])
        emit_table(table, fmt, title="Analyses")
        raise typer.Exit(0)

    @group.command("run")
    def run(
        name: Annotated[str, typer.Argument(help="Analysis name (see `federate analyses list`).")],
        wh: WarehouseOpt,
        fmt: FormatOpt = Format.TABLE,
    ) -> None:
        """Run a named analysis over every site's current submission."""
        analysis = registry.get(name)
        emit_table(registry.run_analysis(name, wh), fmt, title=analysis.title)
        raise typer.Exit(0)
