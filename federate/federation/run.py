"""``federate analyses run NAME --federated URL``: the analyst's side, end to end."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from federate import analyses
from federate.errors import UsageError
from federate.federation import primary
from federate.federation.analyst import Session
from federate.federation.keys import load_analyst
from federate.output import err
from federate.query.roles import Role

Runner = Callable[[Session, int], tuple[analyses.Result, list[str]]]


def runners() -> dict[str, Runner]:
    """The analyses that run federated: name -> the analyst's side (the released result, and
    the parts not federated)."""
    return {"primary-endpoint": primary.run}


def run_federated(
    name: str,
    hub: str,
    role: Role,
    min_cell: int,
    site_timeout: float,
    rows: bool = False,
    plot: Path | None = None,
) -> analyses.Result:
    """The released tables of ``name`` from the sites through ``hub`` (and its figure)."""
    analyses.get(name)
    if rows:
        raise UsageError("--rows: row-level listings never leave the sites", code="no-rows")
    federated = runners()
    if name not in federated:
        raise UsageError(
            f"{name} does not run federated yet (those that do: {', '.join(federated)})",
            code="not-federated",
        )
    session = Session(hub, load_analyst(), role, site_timeout=site_timeout)
    try:
        result, missing = federated[name](session, min_cell)
    finally:
        session.close()
    err.print(f"federated over {', '.join(session.sites)} in {session.steps} rounds")
    if missing:
        err.print(f"parts not yet run federated: {', '.join(missing)}")
    if plot is not None:
        from federate.analyses.plots import draw

        draw(result, plot)
    return result
