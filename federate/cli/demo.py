"""``federate demo``."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from federate.output import DataFormat, Format, err

if TYPE_CHECKING:
    from federate.ingest.run import IngestResult


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)


def demo(
    workdir: Annotated[
        Path,
        typer.Option(
            help="Folder for the simulated trial, bundles and warehouse (replaced on each run)."
        ),
    ] = Path("demo-run"),
    seed: Annotated[int, typer.Option(help="Random seed of the simulated trial.")] = 2012,
    patients: Annotated[int, typer.Option(help="Patients in the simulated trial.")] = 144,
    fmt: Annotated[Format, typer.Option("--format", help="table, csv or json.")] = Format.TABLE,
) -> None:
    """Simulate the MESEMS trial, run every registered site's adapter on its export, pool
    the bundles and print the primary endpoint and its rate ratio (unblinded: simulated
    data; the run is recorded in the warehouse's audit log).

    Example: federate demo --workdir demo-run
    """
    from federate.cli.analyses import emit_result
    from federate.demo import run_demo

    err.print(f"Simulating {patients} patients (seed {seed}) in {workdir} …")

    def say(site: str, result: IngestResult) -> None:
        rows = sum(s["rows_mapped"] for s in result.manifest["sources"])
        quarantined = result.report["quarantine"]["rows"]
        err.print(f"  {site}: ingested {rows:,} rows ({quarantined} quarantined), pooled")

    result = run_demo(workdir, seed=seed, patients=patients, say=say)
    err.print(
        f"Warehouse: {workdir / 'warehouse'} — try "
        f'federate query "SELECT site, count(*) FROM mri GROUP BY site" '
        f"--warehouse {workdir / 'warehouse'}"
    )
    shown = [(p, t) for p, t in result.endpoint.parts if p.name in ("period1", "model")]
    emit_result(replace(result.endpoint, parts=shown), DataFormat(fmt.value))
    raise typer.Exit(max((int(r.exit_code) for r in result.ingests.values()), default=0))
