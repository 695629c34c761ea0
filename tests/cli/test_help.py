"""Every command and group of commands shows an example in its --help, and no flag shows a
type it does not take."""

from __future__ import annotations

from typing import Any

import pytest
import typer

from federate.cli import app
from tests.bundles import cli


def _paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    out = [path] if path else []
    if hasattr(command, "commands"):  # a group (typer bundles its own click)
        for name, sub in command.commands.items():
            out += _paths(sub, (*path, name))
    return out


COMMANDS = _paths(typer.main.get_command(app))


def test_every_command_is_found() -> None:
    assert ("pool", "report") in COMMANDS and ("ingest",) in COMMANDS and len(COMMANDS) > 15


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_help_has_an_example(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, *path, "--help")
    assert code == 0
    assert "Example: federate " in out


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_a_flag_shows_no_type(path: tuple[str, ...], capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, *path, "--help")
    assert code == 0
    assert "<bool>" not in out


def test_shell_completion_is_offered(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "--help")
    assert code == 0 and "--install-completion" in out and "--show-completion" in out


def test_a_commands_summary_reads_as_one_sentence(capsys: pytest.CaptureFixture[str]) -> None:
    """The command list wraps each summary to the screen, never at the docstring's own line
    breaks ("… run every registered site's adapter on its export, pool" then a new line)."""
    code, out, _ = cli(capsys, "--help")
    assert code == 0
    demo = " ".join(line.strip("│ ") for line in out.splitlines() if "│" in line)
    assert "adapter on its export, pool the bundles" in " ".join(demo.split())
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert not any(line.rstrip("│ ").endswith(", pool") for line in rows)
