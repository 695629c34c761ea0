"""The node, at a site: connects out to the hub only, polls it, and answers the tasks it allows
on its own validated bundle, signed with the site's signing key. Every request, answered or
refused, goes into the node's own hash-chained audit log (``--state``/audit.jsonl)."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from federate.bundle.signing import SigningKey, fingerprint
from federate.errors import FederateError, UsageError
from federate.federation import compute, wire
from federate.privacy.keyfiles import check_private, write_private
from federate.query.roles import Role

AUDIT = "audit.jsonl"
MIN_SITES = 2  # a task's sites: fewer, and the "sum" is one site's values
DH_KEY = "exchange.pem"  # the node's X25519 key (masks, rows sealed for the analyst)


@dataclass
class Node:
    bundle: compute.Bundle
    key: SigningKey
    hub: str
    state: Path
    trust_blinded: frozenset[str]
    trust_unblinded: frozenset[str]
    policy: compute.Policy = field(default_factory=compute.Policy)
    poll: float = 1.0
    timeout: float = 10.0

    def __post_init__(self) -> None:
        self.dh = _exchange_key(self.state / DH_KEY)
        self._head: tuple[int, str] | None = None  # the audit log's length and last hash

    @property
    def site(self) -> str:
        return self.bundle.site

    def hello(self, client: httpx.Client) -> None:
        payload = {"site": self.site, "dh": wire.dh_public(self.dh)}
        reply = client.post("/nodes", json=wire.seal_envelope(payload, self.key))
        if reply.status_code == 409:
            raise UsageError(
                f"the hub has another key pinned for {self.site}: this node's key "
                f"(fingerprint {fingerprint(self.key.public)}) is not the one it trusts",
                code="pinned",
            )
        reply.raise_for_status()

    def handle(self, envelope: Any, peers: dict[str, str]) -> dict[str, Any]:
        """The signed answer to one task (or its signed refusal), recorded in the audit log."""
        raw = envelope.get("payload", {}) if isinstance(envelope, dict) else {}
        task_id = str(raw.get("task_id", "")) if isinstance(raw, dict) else ""
        request_sha = wire.digest(raw)
        answer: dict[str, Any] = {"task_id": task_id, "site": self.site, "request": request_sha}
        analyst, step = str(envelope.get("signer", "")), str(raw.get("step", ""))
        try:
            payload = wire.check_envelope(envelope)
            role = self._authorise(analyst, str(payload.get("role", "")))
            sites = {s: peers[s] for s in payload["sites"]}
            if self.site not in sites or len(sites) < MIN_SITES:
                raise UsageError(
                    f"a sum needs {self.site} and at least {MIN_SITES - 1} other site(s); one "
                    "site's sum would be its own values",
                    code="too-few-sites",
                )
            result = compute.compute(
                self.bundle, step, role, payload.get("params", {}), self.policy
            )
            # Masks keyed by the whole request, not its id: two requests under one id (a
            # replay with other parameters) get unrelated masks, so their difference says nothing.
            answer["secure"] = wire.mask(
                result.secure, site=self.site, peers=sites, mine=self.dh, task=request_sha
            )
            if result.rows is not None:
                context = f"{task_id} {self.site}"
                answer["sealed"] = wire.seal_for(
                    result.rows, self.dh, payload["analyst_dh"], context
                )
            outcome, reason = "answered", ""
        except (FederateError, KeyError, TypeError, ValueError) as exc:
            outcome, reason = "refused", str(exc)
            answer = {**answer, "refused": reason}
        self._audit(task_id, analyst, step, outcome, reason)
        return wire.seal_envelope(answer, self.key)

    def _authorise(self, analyst: str, role_name: str) -> Role:
        try:
            role = Role(role_name)
        except ValueError:
            raise UsageError(f"unknown role {role_name!r}", code="bad-request") from None
        trusted = self.trust_unblinded | (self.trust_blinded if role is Role.BLINDED else set())
        if analyst not in trusted:
            raise UsageError(
                f"analyst {fingerprint(analyst)} is not trusted by {self.site} for the "
                f"{role.value} role",
                code="untrusted-analyst",
            )
        return role

    def _audit(self, task_id: str, analyst: str, step: str, outcome: str, reason: str) -> None:
        path = self.state / AUDIT
        if self._head is None:  # read once; then the head is kept, not the whole log re-read
            lines = path.read_text("utf-8").splitlines() if path.exists() else []
            self._head = (len(lines), json.loads(lines[-1])["hash"] if lines else "0" * 64)
        count, previous = self._head
        entry = {
            "seq": count + 1,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "task_id": task_id,
            "analyst": fingerprint(analyst) if analyst else "",
            "step": step,
            "outcome": outcome,
            "reason": reason,
            "previous": previous,
        }
        entry["hash"] = hashlib.sha256(wire.canonical(entry)).hexdigest()
        with path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(entry, sort_keys=True) + "\n")
        self._head = (count + 1, str(entry["hash"]))

    def run(self, stop: threading.Event | None = None) -> None:
        """Poll the hub until ``stop`` is set; an unreachable hub is retried, never fatal."""
        stop = stop or threading.Event()
        with httpx.Client(base_url=self.hub, timeout=self.timeout) as client:
            registered = False
            while not stop.is_set():
                try:
                    if not registered:
                        self.hello(client)
                        registered = True
                    self._poll_once(client)
                except httpx.HTTPError:
                    registered = False  # the hub is down or restarting: say hello again
                stop.wait(self.poll)

    def _poll_once(self, client: httpx.Client) -> None:
        reply = client.get("/tasks", params={"site": self.site})
        reply.raise_for_status()
        tasks = reply.json()
        if not tasks:
            return
        nodes = client.get("/nodes").json()
        peers = _peer_keys(nodes)
        for task in tasks:
            client.post("/answers", json=self.handle(task["envelope"], peers)).raise_for_status()


def _peer_keys(nodes: dict[str, Any]) -> dict[str, str]:
    """Each site's X25519 key, from its hello as signed by the key the hub pinned."""
    peers = {}
    for site, node in nodes.items():
        try:
            payload = wire.check_envelope(node.get("hello"), node["public"])
        except (FederateError, KeyError, AttributeError):
            continue
        if payload.get("site") == site:
            peers[site] = str(payload["dh"])
    return peers


def _exchange_key(path: Path) -> X25519PrivateKey:
    if not path.exists():
        pem = X25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_private(path, pem)
    check_private(path)
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, X25519PrivateKey):
        raise UsageError(f"{path} is not an X25519 key", code="bad-key")
    return key


def load_policy(path: Path | None) -> compute.Policy:
    if path is None:
        return compute.Policy()
    try:
        return compute.Policy(**json.loads(path.read_text("utf-8")))
    except (OSError, ValueError, TypeError) as exc:
        raise UsageError(
            f"policy file {path}: {exc} (JSON with min_cell, max_parameters_per_patient, "
            "max_iterations)",
            code="bad-policy",
        ) from None


def wait_forever(node: Node) -> None:  # pragma: no cover - the CLI's loop, stopped by a signal
    try:
        node.run()
    except KeyboardInterrupt:
        time.sleep(0)
