"""``federate synth``: simulate the trial (truth, keys and each registered site's export)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from federate.cli.options import SYNTH_PATIENTS, SYNTH_SEED
from federate.output import err

if TYPE_CHECKING:
    from federate.synth import SynthResult


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)


def synth(
    out: Annotated[
        Path, typer.Option("--out", help="Folder to write truth/, keys/ and exports/ into.")
    ],
    seed: Annotated[
        int, typer.Option("--seed", min=0, help="Random seed: the same seed, the same trial.")
    ] = SYNTH_SEED,
    patients: Annotated[
        int,
        typer.Option(
            "--patients",
            min=1,
            help="Patients in all (MESEMS: 144), split over the six sites in MESEMS "
            "proportions; each site gets at least one.",
        ),
    ] = SYNTH_PATIENTS,
    inject_errors: Annotated[
        bool,
        typer.Option(
            "--inject-errors",
            help="Write deliberate errors into the exports and list them in "
            "OUT/injected.json with the reason code ingest must give.",
        ),
    ] = False,
) -> int:
    """Simulate a MESEMS-like trial: the truth in the shared schema and each registered
    site's local export, as the site would send it.

    Example: federate synth --out trial --patients 144 --inject-errors
    """
    from federate.synth import run

    with err.status("simulating …") as status:  # on a terminal only; a step's name as it starts
        result = run(
            out,
            seed=seed,
            patients=patients,
            inject_errors=inject_errors,
            progress=lambda step: status.update(step),
        )
    _summary(result)
    return 0


def _summary(result: SynthResult) -> None:
    from rich.table import Table as RichTable

    view = RichTable(
        title=f"Simulated MESEMS (seed {result.seed})", title_justify="left", header_style="bold"
    )
    view.add_column("site")
    view.add_column("patients", justify="right")
    view.add_column("export")
    for site, n in result.patients.items():
        files = result.exports.get(site)
        where = (
            f"{result.export_dir(site)} ({', '.join(p.name for p in files)})"
            if files
            else "— (no registered adapter)"
        )
        view.add_row(site, str(n), where)
    err.print(view)
    err.print(
        f"truth: {result.out / 'truth'} ({len(result.truth)} tables); keys: {result.out / 'keys'}"
    )
    if result.injected_file:
        err.print(f"injected {len(result.injected)} error(s), listed in {result.injected_file}")
    for note in result.notes:
        err.print(f"note: {note}")
