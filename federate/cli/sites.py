"""``federate sites``: the registered sites and what each expects."""

from __future__ import annotations

import sys
from typing import Annotated

import pyarrow as pa
import typer

from federate import registry
from federate.docs import schema_markdown, site_markdown
from federate.output import Format, emit_table


def register(app: typer.Typer) -> None:
    sites_app = typer.Typer(
        help="The registered sites and the exports their adapters expect.",
        invoke_without_command=True,
        no_args_is_help=False,
    )
    app.add_typer(sites_app, name="sites")

    @sites_app.callback()
    def sites(
        ctx: typer.Context,
        fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
    ) -> None:
        """List the registered sites and the export format each adapter reads."""
        if ctx.invoked_subcommand is not None:
            return
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

    @sites_app.command("show")
    def show(
        site: Annotated[str, typer.Argument(help="Registered site name.")],
    ) -> None:
        """Print the export a site's coordinator must produce (Markdown): files, columns,
        codes, formats and units, generated from the adapter's declaration."""
        sys.stdout.write(site_markdown(registry.adapter(site), registry.schema()))

    schema_app = typer.Typer(help="The shared schema.", no_args_is_help=True)
    app.add_typer(schema_app, name="schema")

    @schema_app.command("docs")
    def docs() -> None:
        """Print the data dictionary (Markdown) rendered from the schema declaration."""
        sys.stdout.write(schema_markdown(registry.schema()))
