"""The federation the tests run against (fixture ``federation`` in conftest.py): a real hub
(``federate hub serve`` in a subprocess on a loopback port chosen at run time) and a node per
simulated site (threads of the test process, talking HTTP to the hub; the last site's node is a
``federate node run`` process). Every process and thread is stopped afterwards."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from federate.bundle.signing import SigningKey, load_signing_key, new_signing_key
from federate.federation.analyst import Session
from federate.federation.node import Node
from federate.query.roles import Role
from tests.simulated import Simulated


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Hub:
    state: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, "-m", "federate", "hub", "serve", "--state", str(self.state)]
        self.process = subprocess.Popen([*command, "--port", str(self.port)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/nodes", timeout=1).raise_for_status()
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        self.stop()
        pytest.fail("the hub did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
            self.process = None


@dataclass
class Federation:
    trial: Simulated
    hub: Hub
    blinded: SigningKey  # trusted by every node for the blinded role only
    unblinded: SigningKey  # trusted for both roles
    nodes: dict[str, tuple[Node, threading.Event, threading.Thread]]
    process: tuple[str, subprocess.Popen[bytes]]  # one site's node as `federate node run`

    def session(self, role: Role, key: SigningKey | None = None, timeout: float = 30) -> Session:
        chosen = key or (self.unblinded if role is Role.UNBLINDED else self.blinded)
        return Session(self.hub.url, chosen, role, site_timeout=timeout)


def analyst_signing_key(path: Path) -> SigningKey:
    new_signing_key(path)
    path.chmod(0o600)
    return load_signing_key("analyst", path, create=False)


def wait_for_hellos(hub: Hub, sites: set[str]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        known = httpx.get(f"{hub.url}/nodes", timeout=5).json()
        if sites <= {s for s, n in known.items() if n.get("hello")}:
            return
        time.sleep(0.2)
    pytest.fail("the nodes did not register with the hub within 30 s")
