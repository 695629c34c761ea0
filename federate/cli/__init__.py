"""The ``federate`` command. One module per command group; exit codes as in the README:

0 ok · 1 finished, rows quarantined · 2 usage error or bad input, nothing written ·
3 refused for privacy or integrity · 70 internal error (traceback in a log file, not on screen).

Each module defines its commands at module level, one function per command (a group's on a
module-level ``typer.Typer`` sub-app), and ``register(app)`` attaches them here. A command
imports the engine it needs in its own body, so building the command line stays light.
"""

from __future__ import annotations

import datetime as dt
import sys
import traceback
from pathlib import Path

import platformdirs
import typer

from federate.cli import analyses as analyses_cmd
from federate.cli import demo as demo_cmd
from federate.cli import federation as federation_cmd
from federate.cli import ingest as ingest_cmd
from federate.cli import keys as keys_cmd
from federate.cli import pool as pool_cmd
from federate.cli import query as query_cmd
from federate.cli import sites as sites_cmd
from federate.cli import synth as synth_cmd
from federate.errors import ExitCode, FederateError
from federate.output import err

app = typer.Typer(
    name="federate",
    help="Pool the MESEMS national exports into one validated schema and query them safely.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
for module in (
    demo_cmd,
    sites_cmd,
    synth_cmd,
    keys_cmd,
    ingest_cmd,
    pool_cmd,
    query_cmd,
    analyses_cmd,
    federation_cmd,
):
    module.register(app)


def _log_crash() -> Path:
    log_dir = Path(platformdirs.user_log_dir("federate"))
    log_dir.mkdir(parents=True, exist_ok=True)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = log_dir / f"crash-{stamp}.log"
    path.write_text(f"federate {' '.join(sys.argv[1:])}\n\n{traceback.format_exc()}", "utf-8")
    return path


def main(argv: list[str] | None = None) -> None:
    """Entry point. Commands end by raising ``typer.Exit(code)``; errors become exit codes."""
    try:
        app(args=argv)
    except FederateError as exc:
        from rich.markup import escape  # a message quotes the site's values: never markup

        err.print(f"[bold red]error[/] [dim]({exc.code})[/]: {escape(str(exc))}", markup=True)
        sys.exit(exc.exit_code)
    except Exception as exc:  # a bug: one line here, the traceback in a log file
        log = _log_crash()
        err.print(f"federate: internal error ({type(exc).__name__}); this is a bug. Details: {log}")
        sys.exit(ExitCode.INTERNAL)
