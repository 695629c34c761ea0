"""The ``federate`` command. One module per command group; exit codes as in the README:

0 ok · 1 finished, rows quarantined · 2 usage error or bad input, nothing written ·
3 refused for privacy or integrity · 70 internal error (traceback in an owner-only log file,
not on screen: federate.cli.crash) · 130 interrupted (Ctrl-C). With ``--format json`` an error
is also one JSON object on stdout, ``{"error": ..., "code": ..., "exit_code": ...}``, and
nothing else is.

Each module defines its commands at module level, one function per command (a group's on a
module-level ``typer.Typer`` sub-app), and ``register(app)`` attaches them here. A command
imports the engine it needs in its own body, so building the command line stays light.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated, NoReturn

import typer
import typer.main

try:  # typer >= 0.22 carries its own click
    from typer._click.exceptions import ClickException
except ImportError:  # pragma: no cover - older typer, on click itself
    from click.exceptions import ClickException  # type: ignore[assignment]

from federate.cli import analyses as analyses_cmd
from federate.cli import demo as demo_cmd
from federate.cli import federation as federation_cmd
from federate.cli import ingest as ingest_cmd
from federate.cli import keys as keys_cmd
from federate.cli import pool as pool_cmd
from federate.cli import query as query_cmd
from federate.cli import sites as sites_cmd
from federate.cli import synth as synth_cmd
from federate.cli.crash import write_log
from federate.errors import ExitCode, FederateError
from federate.output import err

app = typer.Typer(
    name="federate",
    help="Pool the MESEMS national exports into one validated schema and query them safely."
    "\n\nExample: federate demo --workdir demo-run (simulate every site, ingest, pool, and "
    "print the primary endpoint)",
    no_args_is_help=True,
    add_completion=True,  # --install-completion and --show-completion (bash, zsh, fish)
    pretty_exceptions_enable=False,
    rich_markup_mode="markdown",
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


def _version(show: bool) -> None:
    if show:
        from federate import __version__

        sys.stdout.write(f"federate {__version__}\n")
        raise typer.Exit(0)


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Show the version and exit."
        ),
    ] = False,
) -> None:
    """Options of the command itself (its help is the Typer's)."""


def _json_requested(args: list[str]) -> bool:
    """``--format json`` (or ``--format=json``) among the options: errors are JSON too."""
    pairs = zip(args, [*args[1:], ""][: len(args)], strict=True)
    return any(a == "--format=json" or (a == "--format" and b == "json") for a, b in pairs)


def _fail(message: str, code: str, exit_code: int, as_json: bool) -> NoReturn:
    """One error: a line on stderr and, for --format json, a JSON object alone on stdout."""
    from rich.markup import escape  # a message quotes the site's values: never markup

    err.print(f"[bold red]error[/] [dim]({code})[/]: {escape(message)}", markup=True)
    if as_json:
        record = {"error": message, "code": code, "exit_code": int(exit_code)}
        sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
    sys.exit(exit_code)


def main(argv: list[str] | None = None) -> None:
    """Entry point. Commands end by raising ``typer.Exit(code)``; errors become exit codes:
    the README's table, and 130 when interrupted (Ctrl-C)."""
    args = sys.argv[1:] if argv is None else list(argv)
    as_json = _json_requested(args)
    try:
        code = app(args=args, standalone_mode=False)
    except FederateError as exc:
        _fail(str(exc), exc.code, exc.exit_code, as_json)
    except ClickException as exc:  # the command line itself: an unknown option, a bad value
        from typer.rich_utils import rich_format_error

        rich_format_error(exc)
        if as_json:
            record = {"error": exc.format_message(), "code": "usage", "exit_code": exc.exit_code}
            sys.stdout.write(json.dumps(record, ensure_ascii=False) + "\n")
        sys.exit(exc.exit_code)
    except (KeyboardInterrupt, typer.Abort):
        code = ExitCode.INTERRUPTED
    except Exception as exc:  # a bug: one line here, the traceback in a log file
        message = f"internal error ({type(exc).__name__}); this is a bug."
        try:
            message += f" Details: {write_log(typer.main.get_command(app), args)}"
        except OSError as cannot:  # the log folder is not ours, or full: say so, still one line
            message += f" (no log written: {cannot.strerror})"
        if as_json:
            _fail(message, "internal", ExitCode.INTERNAL, as_json)
        err.print(f"federate: {message}")
        sys.exit(ExitCode.INTERNAL)
    if code == ExitCode.INTERRUPTED:  # typer turns Ctrl-C into exit 130 by itself
        _fail("stopped by Ctrl-C", "interrupted", ExitCode.INTERRUPTED, as_json)
    sys.exit(code or 0)
