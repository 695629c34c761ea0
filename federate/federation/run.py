"""``federate analyses run NAME --federated URL``: the analyst's side, end to end."""

from __future__ import annotations

from federate import analyses
from federate.errors import UsageError
from federate.federation import primary
from federate.federation.analyst import Session
from federate.federation.keys import load_analyst
from federate.output import err
from federate.query.roles import Role

FEDERATED = ("primary-endpoint",)


def run_federated(
    name: str, hub: str, role: Role, min_cell: int, site_timeout: float
) -> analyses.Result:
    analyses.get(name)
    if name not in FEDERATED:
        raise UsageError(
            f"{name} does not run federated yet (those that do: {', '.join(FEDERATED)})",
            code="not-federated",
        )
    session = Session(hub, load_analyst(), role, site_timeout=site_timeout)
    try:
        result, missing = primary.run(session, min_cell)
    finally:
        session.close()
    err.print(f"federated over {', '.join(session.sites)} in {session.steps} rounds")
    if missing:
        err.print(f"parts not yet run federated: {', '.join(missing)}")
    return result
