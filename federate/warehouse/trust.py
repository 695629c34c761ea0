"""Which public key the warehouse trusts for each site (``trust.json``), and the checks a signed
bundle must pass before it is published."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from federate.bundle.manifest import MANIFEST, SIGNATURE
from federate.bundle.signing import fingerprint, parse_public, verify_signature
from federate.errors import IntegrityError, Location
from federate.warehouse.fs import write_json_atomic

TRUST = "trust.json"


def read_trust(warehouse: Path) -> dict[str, dict[str, str]]:
    path = warehouse / TRUST
    if not path.exists():
        return {}
    data: dict[str, dict[str, str]] = json.loads(path.read_text("utf-8"))
    return data


def set_trust(warehouse: Path, site: str, public: str, how: str) -> None:
    parse_public(public)
    trust = read_trust(warehouse)
    trust[site] = {
        "public_key": public,
        "fingerprint": fingerprint(public),
        "since_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "how": how,
    }
    write_json_atomic(warehouse / TRUST, trust)


def read_signature(bundle: Path) -> dict[str, Any]:
    path = bundle / SIGNATURE
    if not path.is_file():
        raise IntegrityError(
            "the bundle is not signed (no manifest.sig): refused",
            code="unsigned",
            where=Location(file=SIGNATURE),
        )
    try:
        data: dict[str, Any] = json.loads(path.read_text("utf-8"))
        str(data["public_key"]), str(data["signature"])
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(
            "manifest.sig is malformed", code="bad-signature", where=Location(file=SIGNATURE)
        ) from None
    return data


def check_signed(bundle: Path, site: str, warehouse: Path) -> str | None:
    """Verify the bundle's signature against the key trusted for ``site``. Returns the public
    key to pin when the warehouse trusts none for the site yet (trust on first use)."""
    sig = read_signature(bundle)
    trusted = read_trust(warehouse).get(site)
    public = trusted["public_key"] if trusted else str(sig["public_key"])
    if trusted and sig["public_key"] != public:
        raise IntegrityError(
            f"the bundle is signed by key {fingerprint(str(sig['public_key']))}, but the "
            f"warehouse trusts {fingerprint(public)} for {site} (federate pool trust to change "
            "it, deliberately)",
            code="untrusted-key",
        )
    verify_signature((bundle / MANIFEST).read_bytes(), str(sig["signature"]), public, site)
    return None if trusted else public
