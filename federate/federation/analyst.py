"""The analyst: posts signed tasks to the hub, waits for every site (at most ``site_timeout``),
checks each answer against the key the hub pinned for its site and against the request it
answers, and combines. Only sums over every site are ever decoded; a site's own rows arrive
sealed for this run's ephemeral key and are released under the same disclosure control as
in pooled mode."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federate.bundle.signing import SigningKey
from federate.errors import FederateError, PrivacyError
from federate.federation import wire
from federate.federation.wire import FederationError
from federate.query.roles import Role

POLL = 0.1


@dataclass
class Session:
    hub: str
    key: SigningKey
    role: Role
    site_timeout: float = 60.0
    request_timeout: float = 10.0
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])

    def __post_init__(self) -> None:
        self.client = httpx.Client(base_url=self.hub, timeout=self.request_timeout)
        self.dh = X25519PrivateKey.generate()  # this run's: rows are sealed for it alone
        self.steps = 0
        try:
            reply = self.client.get("/nodes")
            reply.raise_for_status()
            nodes = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            self.client.close()
            raise FederationError(f"the hub at {self.hub} does not answer ({exc})") from None
        self.pins = {site: str(node["public"]) for site, node in nodes.items()}
        from federate.federation.node import _peer_keys

        self.peers = _peer_keys(nodes)
        if not self.peers:
            raise FederationError(f"no site has registered with the hub at {self.hub}")
        self.sites = sorted(self.peers)

    def close(self) -> None:
        self.client.close()

    def ask(self, step: str, params: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
        """Every site's verified answer to one step, by site."""
        self.steps += 1
        payload = {
            "task_id": f"{self.run_id}-{self.steps}",
            "step": step,
            "role": self.role.value,
            "params": params or {},
            "sites": self.sites,
            "analyst_dh": wire.dh_public(self.dh),
        }
        try:
            self.client.post(
                "/tasks", json=wire.seal_envelope(payload, self.key)
            ).raise_for_status()
        except httpx.HTTPError as exc:
            raise FederationError(f"the hub at {self.hub} refused the task ({exc})") from None
        return self._collect(payload)

    def _collect(self, payload: dict[str, Any]) -> dict[str, dict[str, Any]]:
        deadline = time.monotonic() + self.site_timeout
        answers: dict[str, dict[str, Any]] = {}
        while True:
            try:
                reply = self.client.get("/answers", params={"task": payload["task_id"]})
                reply.raise_for_status()
                envelopes = reply.json()
            except httpx.HTTPError:
                envelopes = []  # the hub is restarting: keep asking until the deadline
            for envelope in envelopes:
                site = str(envelope.get("payload", {}).get("site", ""))
                if site in self.sites and site not in answers:
                    answers[site] = self._verify(site, envelope, payload)
            if len(answers) == len(self.sites):
                return answers
            if time.monotonic() > deadline:
                missing = ", ".join(s for s in self.sites if s not in answers)
                raise FederationError(
                    f"no answer from {missing} within {self.site_timeout:g} s (step "
                    f"{payload['step']}): the site's node is down or cannot reach the hub",
                    code="site-missing",
                )
            time.sleep(POLL)

    def _verify(self, site: str, envelope: Any, request: dict[str, Any]) -> dict[str, Any]:
        try:
            answer = wire.check_envelope(envelope, self.pins[site])
        except FederateError as exc:
            raise FederationError(f"the answer of {site} is not to be trusted: {exc}") from None
        if answer.get("request") != wire.digest(request):
            raise FederationError(f"the answer of {site} is not to this request", code="bad-answer")
        if "refused" in answer:
            raise PrivacyError(f"{site} refused: {answer['refused']}", code="site-refused")
        return answer

    def secure_sum(self, answers: dict[str, dict[str, Any]]) -> list[float]:
        return wire.unmask_sum([answers[s]["secure"] for s in self.sites])

    def rows(self, answers: dict[str, dict[str, Any]], task_id: str) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for site in self.sites:
            out += wire.open_sealed(
                answers[site]["sealed"], self.dh, self.peers[site], f"{task_id} {site}"
            )
        return out

    def last_task(self) -> str:
        return f"{self.run_id}-{self.steps}"
