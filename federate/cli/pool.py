"""``federate pool``."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds the command(s) of this module to the app."""
