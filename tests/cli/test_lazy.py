"""Building the command line imports no engine: each command imports what it needs in its own
body, so `federate --help` or `federate ingest` never pays for the query engine, the
analyses, statistics or plotting. The defaults the options show are repeated in
federate.cli.options; they must stay those of the modules that own them."""

from __future__ import annotations

import subprocess
import sys

from federate.cli import options
from federate.query.disclosure import DEFAULT_MIN_CELL
from federate.query.sandbox import Limits
from federate.synth import DEFAULT_SEED
from federate.synth.sites import DEFAULT_PATIENTS

HEAVY = (
    "duckdb",
    "pandas",
    "pandera",
    "polars",
    "pyarrow",
    "numpy",
    "scipy",
    "statsmodels",
    "matplotlib",
    "federate.adapters",
    "federate.analyses",
    "federate.bundle.signing",
    "federate.ingest",
    "federate.privacy",
    "federate.query.disclosure",
    "federate.query.sandbox",
    "federate.schema",
    "federate.warehouse.publish",
)


def _imported_by(code: str) -> set[str]:
    probe = f"import sys\n{code}\nprint('\\n'.join(sys.modules))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    return set(done.stdout.split())


def test_cli_defaults_are_the_engines() -> None:
    assert (Limits().seconds, Limits().memory) == (options.QUERY_SECONDS, options.QUERY_MEMORY)
    assert (Limits().max_rows, Limits().max_bytes) == (
        options.QUERY_MAX_ROWS,
        options.QUERY_MAX_BYTES,
    )
    assert options.DEFAULT_MIN_CELL == DEFAULT_MIN_CELL
    assert options.SYNTH_SEED == DEFAULT_SEED
    assert options.SYNTH_PATIENTS == DEFAULT_PATIENTS


def test_building_every_command_imports_no_engine() -> None:
    loaded = _imported_by(
        "import typer.main\nfrom federate.cli import app\ntyper.main.get_command(app)"
    )
    assert sorted(m for m in HEAVY if m in loaded) == []


def test_help_of_every_command_imports_no_engine() -> None:
    for args in (["--help"], ["ingest", "--help"], ["analyses", "run", "--help"]):
        code = (
            f"from federate.cli import main\ntry:\n    main({args!r})\nexcept SystemExit:\n    pass"
        )
        loaded = _imported_by(code)
        assert sorted(m for m in HEAVY if m in loaded) == [], args
