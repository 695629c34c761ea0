"""``federate keys``: a site's secrets (pseudonym key, signing key pair)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from federate.output import err

keys_app = typer.Typer(help="A site's pseudonym key and signing key pair.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("init")
def init(
    site: Annotated[str, typer.Option("--site", help="Registered site name.")],
    folder: Annotated[
        Path | None,
        typer.Option("--dir", help="Where to write them (default: the per-user key folder)."),
    ] = None,
) -> None:
    """Create the site's secret pseudonym key and Ed25519 signing key pair (owner-only).
    Existing keys are never overwritten. Prints the public key for the central team."""
    from federate.adapters import registry
    from federate.bundle.signing import init_keys

    registry.adapter(site)
    pseudo, signing, public = init_keys(site, folder)
    err.print(
        f"pseudonym key: {pseudo}\nsigning key:   {signing}\n"
        "Both are secret and never leave the site. Public key for the central team "
        f"(federate pool trust {site} …):"
    )
    sys.stdout.write(public + "\n")
    raise typer.Exit(0)


@keys_app.command("show")
def show(
    site: Annotated[str, typer.Option("--site", help="Registered site name.")],
    signing_key: Annotated[
        Path | None, typer.Option("--signing-key", help="Signing key file (default: per-user).")
    ] = None,
) -> None:
    """Print the site's public signing key (ed25519:BASE64), never the secret."""
    from federate.adapters import registry
    from federate.bundle.signing import load_signing_key

    registry.adapter(site)
    sys.stdout.write(load_signing_key(site, signing_key, create=False).public + "\n")
    raise typer.Exit(0)
