"""``federate analyses``: the trial's named analyses, each a few readable SQL files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from federate.cli.options import (
    DEFAULT_MIN_CELL,
    QUERY_MEMORY,
    QUERY_SECONDS,
    FormatOpt,
    OperatorOpt,
    WarehouseOpt,
)
from federate.cli.query import DataFormatOpt, MemoryOpt, OutOpt, RoleOpt, SecondsOpt
from federate.errors import UsageError
from federate.output import DataFormat, Format, err
from federate.query.roles import Role

if TYPE_CHECKING:
    from federate.analyses import Analysis, Result
    from federate.query.sandbox import Limits

analyses_app = typer.Typer(
    help="List and run the trial's named analyses.\n\n"
    "Example: federate analyses run primary-endpoint --warehouse wh",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(analyses_app, name="analyses")


@analyses_app.command("list")
def list_(
    fmt: FormatOpt = Format.TABLE,
) -> None:
    """List the named analyses, their parts and SQL files, and what they offer.

    Example: federate analyses list --format json
    """
    import pyarrow as pa

    from federate import analyses as registry
    from federate.output import emit_table

    rows = [
        {
            "name": a.name,
            "title": a.title,
            "parts": ", ".join(p.name for p in a.parts),
            "rows": a.listing is not None,
            "plot": a.plot,
            "reads": ", ".join(a.reads),
            "sql_files": ", ".join(
                [p.sql_file for p in a.parts] + ([a.listing] if a.listing else [])
            ),
            "description": a.description,
        }
        for a in registry.ANALYSES
    ]
    table = pa.Table.from_pylist(rows)
    if fmt is Format.TABLE:  # files and description are for csv/json; too wide
        table = table.drop_columns(["sql_files", "description"])
    emit_table(table, fmt, title="Analyses")
    raise typer.Exit(0)


@analyses_app.command("run")
def run(
    name: Annotated[str, typer.Argument(help="Analysis name (see `federate analyses list`).")],
    wh: Annotated[Path | None, WarehouseOpt.__metadata__[0]] = None,
    role: RoleOpt = Role.BLINDED,
    min_cell: Annotated[
        int,
        typer.Option(
            "--min-cell",
            min=1,
            help="Suppress counts of 1..K-1 (and statistics over fewer than K patients), "
            "with secondary suppression so no suppressed cell can be recovered from totals.",
        ),
    ] = DEFAULT_MIN_CELL,
    fmt: DataFormatOpt = DataFormat.TABLE,
    out: OutOpt = None,
    plot: Annotated[
        Path | None,
        typer.Option("--plot", help="Also draw the analysis's figure to FILE.png, .svg or .pdf."),
    ] = None,
    rows: Annotated[
        bool,
        typer.Option(
            "--rows",
            help="The row-level listing instead (e.g. serious AEs): --role unblinded only; "
            "never a released table.",
        ),
    ] = False,
    seconds: SecondsOpt = QUERY_SECONDS,
    memory: MemoryOpt = QUERY_MEMORY,
    operator: OperatorOpt = None,
    federated: Annotated[
        str | None,
        typer.Option(
            "--federated",
            help="Run at the sites instead, through the hub at this URL (docs/federated.md); "
            "no warehouse. Example: --federated http://127.0.0.1:8765",
        ),
    ] = None,
    site_timeout: Annotated[
        float, typer.Option("--site-timeout", min=1, help="--federated: seconds a site may take.")
    ] = 60.0,
) -> None:
    """Run a named analysis over every site's current submission, pooled and per site.

    blinded (default): pooled over arms, no sequence, product, dose or arm. unblinded: by
    arm, recorded in the warehouse's audit log. Every table is released with disclosure
    control; suppressed cells read \\[c] (null, with "suppressed": true, in JSON/Parquet).

    Example: federate analyses run primary-endpoint --warehouse wh --plot gel.pdf
    """
    from federate import analyses as registry
    from federate.query.sandbox import Limits

    analysis = registry.get(name)
    _check_outputs(analysis, fmt, out, plot, rows)
    if federated is not None:
        from federate.federation.run import run_federated

        result = run_federated(name, federated, role, min_cell, site_timeout, rows, plot)
        emit_result(result, fmt, out)
        raise typer.Exit(0)
    if wh is None:
        raise UsageError("say --warehouse DIR (or --federated URL)", code="no-warehouse")
    limits = Limits(seconds=seconds, memory=memory)
    if rows:
        _emit_listing(analysis, role, wh, limits, operator, fmt, out)
        raise typer.Exit(0)
    result = registry.run_analysis(
        name, wh, role=role, min_cell=min_cell, limits=limits, operator=operator
    )
    if plot is not None:
        from federate.analyses.plots import draw

        draw(result, plot, footer(result, wh))
    emit_result(result, fmt, out)
    raise typer.Exit(0)


@analyses_app.command("report")
def report(
    wh: WarehouseOpt,
    out: Annotated[
        Path, typer.Option("--out", help="The report to write: FILE.html (self-contained).")
    ],
    role: RoleOpt = Role.BLINDED,
    min_cell: Annotated[
        int, typer.Option("--min-cell", min=1, help="Suppress counts of 1..K-1, as `run` does.")
    ] = DEFAULT_MIN_CELL,
    seconds: SecondsOpt = QUERY_SECONDS,
    memory: MemoryOpt = QUERY_MEMORY,
    operator: OperatorOpt = None,
) -> None:
    """The trial report: every named analysis's tables and figures in one self-contained HTML
    page (population, baseline, primary, secondary, safety, completeness), disclosure control
    applied, recording the warehouse state it was made from and whether it was locked
    (`federate pool lock`). Blinded (default): no treatment group named anywhere.

    Example: federate analyses report --warehouse wh --role unblinded --out trial-report.html
    """
    from federate.analyses.report import write_report
    from federate.query.sandbox import Limits

    if out.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"--out {out}: the report is written as HTML (FILE.html)", code="bad-out")
    state = write_report(
        wh,
        out,
        role=role,
        min_cell=min_cell,
        limits=Limits(seconds=seconds, memory=memory),
        operator=operator,
    )
    locked = "locked" if state.locked else "not locked"
    err.print(f"Wrote {out} (warehouse state {state.entry_hash[:16]}, {locked})")
    raise typer.Exit(0)


PLOT_FORMATS = (".png", ".svg", ".pdf")


def footer(result: Result, wh: Path, made: str | None = None) -> str:
    """A figure's source: analysis, warehouse state (the last publish, rollback or lock
    entry's hash), role, date (UTC)."""
    import datetime as dt

    from federate.warehouse.freeze import pool_state

    state = pool_state(wh)
    day = made or dt.datetime.now(dt.UTC).strftime("%Y-%m-%d")
    locked = ", locked" if state.locked else ""
    return (
        f"federate · analysis {result.analysis.name} · warehouse state "
        f"{state.entry_hash[:16]}{locked} · role {result.role.value} · {day}"
    )


def _check_outputs(
    analysis: Analysis, fmt: DataFormat, out: Path | None, plot: Path | None, rows: bool
) -> None:
    """Refuse an output the run could not write, before any query runs."""
    from federate import analyses as registry

    if fmt is DataFormat.PARQUET and out is None:
        raise UsageError("--format parquet needs --out FILE", code="bad-format")
    if plot is not None and (not analysis.plot or rows):
        drawn = ", ".join(a.name for a in registry.ANALYSES if a.plot)
        raise UsageError(f"--plot is for {drawn} (not --rows)", code="no-plot")
    if plot is not None and plot.suffix.lower() not in PLOT_FORMATS:
        raise UsageError(
            f"--plot {plot}: a figure is written as {', '.join(PLOT_FORMATS)}, by the name's "
            "suffix",
            code="bad-plot",
        )


def _emit_listing(
    analysis: Analysis,
    role: Role,
    wh: Path,
    limits: Limits,
    operator: str | None,
    fmt: DataFormat,
    out: Path | None,
) -> None:
    """The row-level listing (e.g. serious AEs): unblinded only, never a released table."""
    from federate import analyses as registry
    from federate.output import emit_table

    if role is not Role.UNBLINDED:
        raise UsageError(
            "row-level listings exist only for --role unblinded --rows", code="no-rows"
        )
    listing = registry.listing(analysis.name, wh, limits=limits, operator=operator)
    emit_table(listing, fmt, title=f"{analysis.title}: row-level listing", out=out)


def emit_result(result: Result, fmt: DataFormat, out: Path | None = None) -> None:
    """Tables per part for people (labels in words, estimates with their 95% CI, n (%)); one
    JSON document (stable snake_case keys); CSV as one table per part, one after the other
    under a ``part`` column, headers in words and numbers unquoted; Parquet as one table with
    a part column (the analysis, role and K in its metadata)."""
    from federate.analyses.labels import for_people
    from federate.output import emit_table, out_console, rich_table, write_text

    if fmt is DataFormat.TABLE:
        if out is not None:
            raise UsageError("--out needs --format csv, json or parquet", code="bad-format")
        for part, table in result.parts:
            out_console.print(rich_table(for_people(table), result.title(part)))
    elif fmt is DataFormat.JSON:
        write_text(json.dumps(result.to_json(), ensure_ascii=False, indent=2) + "\n", out)
    elif fmt is DataFormat.CSV:
        write_text(result.csv(), out)
    else:
        emit_table(result.combined(), fmt, out=out)
