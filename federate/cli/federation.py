"""``federate hub`` and ``federate node``: the central mailbox and a site's node for federated
analysis (docs/federated.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from federate.output import err

hub_app = typer.Typer(
    help="The hub of federated analysis: a mailbox of signed tasks and answers; never rows.\n\n"
    "Example: federate hub serve --state hub-state --port 8765",
    no_args_is_help=True,
)
node_app = typer.Typer(
    help="A site's node for federated analysis: connects out to the hub and answers what the "
    "site allows on its own bundle.\n\n"
    "Example: federate node run italy --bundle bundle --hub http://127.0.0.1:8765 "
    "--trust-analyst ed25519:…",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(hub_app, name="hub")
    app.add_typer(node_app, name="node")


StateOpt = Annotated[
    Path, typer.Option("--state", help="Folder of the hub's database (created if missing).")
]


@hub_app.command("serve")
def serve(
    state: StateOpt,
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="TCP port.")] = 8765,
    host: Annotated[
        str, typer.Option("--host", help="Address to listen on (loopback unless you say).")
    ] = "127.0.0.1",
) -> None:
    """Serve the hub until stopped (Ctrl-C). Tasks, answers and the sites' pinned keys are kept
    in SQLite under --state, so a restart loses nothing.

    Example: federate hub serve --state hub-state --port 8765
    """
    from federate.federation.hub import serve as run

    err.print(f"hub on http://{host}:{port} (state {state})")
    run(state, host, port)
    raise typer.Exit(0)


@hub_app.command("trust")
def trust(
    site: Annotated[str, typer.Argument(help="Site name.")],
    public: Annotated[str, typer.Argument(help="The site's key: ed25519:BASE64.")],
    state: StateOpt,
) -> None:
    """Pin a site's signing key ahead of its node's first contact (else the first is pinned).

    Example: federate hub trust italy ed25519:AAAA… --state hub-state
    """
    from federate.federation.hub import trust as pin

    pin(state, site, public)
    err.print(f"{site} pinned")
    raise typer.Exit(0)


TrustOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--trust-analyst",
        help="An analyst's public key (ed25519:BASE64) this site answers in the blinded role "
        "(repeatable).",
    ),
]
UnblindedOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--trust-unblinded",
        help="An analyst's public key this site answers in both roles (repeatable).",
    ),
]


@node_app.command("run")
def run(
    site: Annotated[str, typer.Argument(help="This site's name (its bundle's site).")],
    bundle: Annotated[Path, typer.Option("--bundle", help="The site's own validated bundle.")],
    hub: Annotated[str, typer.Option("--hub", help="The hub's URL.")],
    trust_analyst: TrustOpt = None,
    trust_unblinded: UnblindedOpt = None,
    state: Annotated[
        Path | None,
        typer.Option(
            "--state", help="The node's folder: audit log, exchange key (default: per-user)."
        ),
    ] = None,
    policy: Annotated[
        Path | None,
        typer.Option(
            "--policy",
            help="JSON limits: min_cell (3), max_parameters_per_patient (1.0), "
            "max_iterations (60).",
        ),
    ] = None,
    signing_key: Annotated[
        Path | None,
        typer.Option("--signing-key", help="The site's signing key (default: per-user)."),
    ] = None,
    poll: Annotated[
        float, typer.Option("--poll", min=0.05, max=2.0, help="Seconds between polls.")
    ] = 1.0,
) -> None:
    """Run the site's node until stopped: outbound connections only; answers only the trusted
    analysts' allow-listed steps on this bundle; signs every answer; logs every request.

    Example: federate node run italy --bundle bundle --hub http://127.0.0.1:8765
    --trust-analyst ed25519:AAAA…
    """
    import platformdirs

    from federate.bundle.signing import load_signing_key, parse_public
    from federate.errors import UsageError
    from federate.federation.compute import Bundle
    from federate.federation.node import Node, load_policy

    opened = Bundle(bundle)
    if opened.site != site:
        raise UsageError(f"{bundle} is a bundle of {opened.site}, not {site}", code="wrong-site")
    for public in [*(trust_analyst or []), *(trust_unblinded or [])]:
        parse_public(public)
    node = Node(
        opened,
        load_signing_key(site, signing_key, create=False),
        hub,
        state or Path(platformdirs.user_state_dir("federate")) / f"node-{site}",
        frozenset(trust_analyst or []),
        frozenset(trust_unblinded or []),
        load_policy(policy),
        poll=poll,
    )
    err.print(f"node {site}: polling {hub} every {poll:g} s (Ctrl-C stops)")
    with contextlib.suppress(KeyboardInterrupt):
        node.run()
    raise typer.Exit(0)
