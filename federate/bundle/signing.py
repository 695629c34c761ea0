"""Site keys and signed manifests (Ed25519, the `cryptography` package).

A site holds two secrets: the pseudonym key (HMAC) and an Ed25519 signing key. `federate ingest`
signs the manifest, which carries the SHA-256 of every other file in the bundle, so one
signature covers every byte. The warehouse trusts a site's public key from its trust file.
Key files must be owner-only: one that others can read is refused. Keys never appear in a
bundle, a log, a report or an error message (only fingerprints do).
"""

from __future__ import annotations

import base64
import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from federate.errors import IntegrityError, Location, UsageError
from federate.privacy.keyfiles import (
    check_private,
    default_key_path,
    signing_key_path,
    write_private,
)
from federate.privacy.pseudonym import write_new_key

SIGNING_ENV = "FEDERATE_SIGNING_KEY"


def new_signing_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(path, pem)


def public_text(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "ed25519:" + base64.b64encode(raw).decode("ascii")


def parse_public(text: str) -> Ed25519PublicKey:
    try:
        kind, _, b64 = text.strip().partition(":")
        if kind != "ed25519":
            raise ValueError("not an ed25519 key")
        return Ed25519PublicKey.from_public_bytes(base64.b64decode(b64, validate=True))
    except ValueError as exc:
        raise UsageError(
            f"not a public key of the form ed25519:BASE64 ({exc})", code="bad-public-key"
        ) from None


def fingerprint(public: str) -> str:
    return hashlib.sha256(public.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class SigningKey:
    private: Ed25519PrivateKey
    path: Path

    @property
    def public(self) -> str:
        return public_text(self.private.public_key())

    def sign(self, data: bytes) -> str:
        return base64.b64encode(self.private.sign(data)).decode("ascii")


def load_signing_key(site: str, path: Path | None, *, create: bool = True) -> SigningKey:
    """--signing-key, else $FEDERATE_SIGNING_KEY, else the per-user key (created on first use)."""
    if path is None and os.environ.get(SIGNING_ENV):
        path = Path(os.environ[SIGNING_ENV])
    if path is None:
        path = signing_key_path(site)
        if not path.exists() and create:
            new_signing_key(path)
            print(
                f"federate: created a signing key for {site} at {path} (owner-only); give "
                f"the central team its public key: federate keys show --site {site}",
                file=sys.stderr,
            )
    if not path.exists():
        raise UsageError(
            f"signing key {path} does not exist (federate keys init)", code="no-signing-key"
        )
    check_private(path)
    try:
        private = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError):
        raise UsageError(
            f"{path} is not an unencrypted Ed25519 private key", code="bad-signing-key"
        ) from None
    if not isinstance(private, Ed25519PrivateKey):
        raise UsageError(f"{path} is not an Ed25519 key", code="bad-signing-key")
    return SigningKey(private, path)


def init_keys(site: str, folder: Path | None = None) -> tuple[Path, Path, str]:
    """Create a site's pseudonym key and signing key pair; never overwrite either."""
    pseudo = (folder / f"{site}.key") if folder else default_key_path(site)
    signing = (folder / f"{site}.signing.pem") if folder else signing_key_path(site)
    for path in (pseudo, signing):
        if path.exists():
            raise UsageError(
                f"{path} exists already; keys are never overwritten", code="key-exists"
            )
    write_new_key(pseudo)
    new_signing_key(signing)
    return pseudo, signing, load_signing_key(site, signing, create=False).public


def verify_signature(manifest_bytes: bytes, signature: str, public: str, site: str) -> None:
    try:
        parse_public(public).verify(base64.b64decode(signature, validate=True), manifest_bytes)
    except (InvalidSignature, ValueError):
        raise IntegrityError(
            f"the manifest's signature does not verify with the key trusted for {site} "
            f"(fingerprint {fingerprint(public)}): the bundle was altered after signing, or "
            "signed by another key",
            code="bad-signature",
        ) from None


def check_intact(bundle: Path, signed: bool) -> None:
    """The manifest's signature verifies over its bytes with the key the signature names: the
    bundle is as it was signed. Checked before the manifest is parsed; whether that key is the
    one trusted for the bundle's site is the warehouse's check."""
    from federate.bundle.contents import MAX_MANIFEST_BYTES, MAX_SIGNATURE_BYTES, load_json
    from federate.bundle.manifest import MANIFEST, SIGNATURE

    where = Location(file=SIGNATURE)
    if not signed:
        raise IntegrityError(
            "the bundle is not signed (no manifest.sig): refused", code="unsigned", where=where
        )
    size = (bundle / MANIFEST).stat().st_size
    if size > MAX_MANIFEST_BYTES:  # refused by its size, before it is read to be verified
        raise IntegrityError(
            f"{MANIFEST} is {size:,} bytes, more than the {MAX_MANIFEST_BYTES:,} it may be",
            code="bad-manifest",
            where=Location(file=MANIFEST),
        )
    sig = load_json(bundle / SIGNATURE, SIGNATURE, MAX_SIGNATURE_BYTES)
    public, signature = (
        sig.get(k) if isinstance(sig, dict) else None for k in ("public_key", "signature")
    )
    if not isinstance(public, str) or not isinstance(signature, str):
        raise IntegrityError("manifest.sig is malformed", code="bad-signature", where=where)
    try:
        key = parse_public(public)
        key.verify(base64.b64decode(signature, validate=True), (bundle / MANIFEST).read_bytes())
    except (UsageError, InvalidSignature, ValueError):
        raise IntegrityError(
            f"the manifest's signature does not verify with the key it names (fingerprint "
            f"{fingerprint(public)}): the bundle was altered after signing",
            code="bad-signature",
            where=where,
        ) from None
