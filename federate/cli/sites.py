"""``federate sites``: the registered sites."""

from __future__ import annotations

from typing import Annotated

import pyarrow as pa
import typer

from federate import registry
from federate.output import Format, emit_table


def register(app: typer.Typer) -> None:
    @app.command("sites")
    def sites(
        fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
    ) -> None:
        """List the registered sites and the export format each adapter reads."""
        rows = [
            {
                "name": a.name,
                "country": a.country.upper(),
                "format": a.format,
                "adapter_version": a.version,
                "title": a.title,
            }
            for a in registry.adapters()
        ]
        emit_table(pa.Table.from_pylist(rows), fmt, title="Registered sites")
        raise typer.Exit(0)
