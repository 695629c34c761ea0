"""``federate sites``: the registered sites and what each expects."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from federate.output import Format


class DocFormat(StrEnum):
    MARKDOWN = "markdown"
    HTML = "html"


sites_app = typer.Typer(
    help="The registered sites and the exports their adapters expect.\n\n"
    "Example: federate sites --format json",
    invoke_without_command=True,
    no_args_is_help=False,
)
schema_app = typer.Typer(
    help="The shared schema.\n\nExample: federate schema docs --format html > schema.html",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(sites_app, name="sites")
    app.add_typer(schema_app, name="schema")


@sites_app.callback()
def sites(
    ctx: typer.Context,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
) -> None:
    """List the registered sites and the export format each adapter reads.

    Example: federate sites --format json
    """
    if ctx.invoked_subcommand is not None:
        return
    import pyarrow as pa

    from federate.adapters import registry
    from federate.output import emit_table

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
    fmt: Annotated[DocFormat, typer.Option("--format", help="markdown or html.")] = (
        DocFormat.MARKDOWN
    ),
) -> None:
    """Print the export a site's coordinator must produce: files, columns, codes,
    formats and units, generated from the adapter's declaration.

    Example: federate sites show italy --format html > italy.html
    """
    from federate.adapters import registry
    from federate.adapters.docs import markdown_to_html, site_markdown

    adapter = registry.adapter(site)
    text = site_markdown(adapter, registry.schema())
    if fmt is DocFormat.HTML:
        text = markdown_to_html(text, adapter.title)
    sys.stdout.write(text)


@schema_app.command("docs")
def docs(
    fmt: Annotated[DocFormat, typer.Option("--format", help="markdown or html.")] = (
        DocFormat.MARKDOWN
    ),
) -> None:
    """Print the data dictionary rendered from the schema declaration: every table,
    column, type, unit, range, code list, and which columns are restricted.

    Example: federate schema docs --format html > schema.html
    """
    from federate.adapters import registry
    from federate.adapters.docs import markdown_to_html, schema_markdown

    schema = registry.schema()
    text = schema_markdown(schema)
    if fmt is DocFormat.HTML:
        text = markdown_to_html(text, f"Shared schema {schema.name} {schema.version}")
    sys.stdout.write(text)
