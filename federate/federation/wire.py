"""What crosses the wire: canonical JSON, signed envelopes (Ed25519), secure aggregation
(pairwise X25519 masks over a fixed-point encoding, modulo 2**128) and rows sealed for the
analyst alone (X25519 + ChaCha20-Poly1305)."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from collections.abc import Sequence
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from federate.bundle.signing import SigningKey, parse_public
from federate.errors import FederateError, IntegrityError

MODULUS = 2**128
SCALE = 2**48  # fixed point: 48 fractional bits; |value| < 2**79 fits


class FederationError(FederateError):
    """A federated run could not complete: a site did not answer, or refused."""

    code = "federation"


def canonical(payload: Any) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":")).encode("utf-8")


def digest(payload: Any) -> str:
    return hashlib.sha256(canonical(payload)).hexdigest()


def seal_envelope(payload: dict[str, Any], key: SigningKey) -> dict[str, Any]:
    return {"payload": payload, "signer": key.public, "signature": key.sign(canonical(payload))}


def check_envelope(envelope: Any, expected_signer: str | None = None) -> dict[str, Any]:
    """The payload of a well-signed envelope (by ``expected_signer`` if given), else raises."""
    if not isinstance(envelope, dict) or not isinstance(envelope.get("payload"), dict):
        raise IntegrityError("not a signed message (no payload)", code="unsigned")
    signer, signature = envelope.get("signer"), envelope.get("signature")
    if not isinstance(signer, str) or not isinstance(signature, str):
        raise IntegrityError("the message is not signed", code="unsigned")
    if expected_signer is not None and signer != expected_signer:
        raise IntegrityError("signed by another key than the one pinned", code="bad-signer")
    try:
        parse_public(signer).verify(
            base64.b64decode(signature, validate=True), canonical(envelope["payload"])
        )
    except (InvalidSignature, ValueError, FederateError):
        raise IntegrityError("the signature does not verify", code="bad-signature") from None
    payload: dict[str, Any] = envelope["payload"]
    return payload


def dh_public(key: X25519PrivateKey) -> str:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(raw).decode("ascii")


def _shared(mine: X25519PrivateKey, theirs: str, info: str) -> bytes:
    peer = X25519PublicKey.from_public_bytes(base64.b64decode(theirs, validate=True))
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info.encode("utf-8"))
    return hkdf.derive(mine.exchange(peer))


def encode(values: Sequence[float]) -> list[int]:
    return [round(float(v) * SCALE) % MODULUS for v in values]


def decode(values: Sequence[int]) -> list[float]:
    out = []
    for v in values:
        v %= MODULUS
        out.append((v - MODULUS if v >= MODULUS // 2 else v) / SCALE)
    return out


def mask(
    values: Sequence[float],
    *,
    site: str,
    peers: dict[str, str],
    mine: X25519PrivateKey,
    task: str,
) -> list[str]:
    """``values`` fixed-point encoded plus, for every other site, the pairwise mask agreed with
    it (added by the site first in order, subtracted by the other): they cancel in the sum."""
    out = encode(values)
    for peer, their_dh in sorted(peers.items()):
        if peer == site:
            continue
        low, high = sorted((site, peer))
        seed = _shared(mine, their_dh, f"federate mask {task} {low} {high}")
        stream = Cipher(algorithms.ChaCha20(seed, bytes(16)), mode=None).encryptor()
        noise = stream.update(bytes(16 * len(out)))
        sign = 1 if site == low else -1
        for i in range(len(out)):
            r = int.from_bytes(noise[16 * i : 16 * (i + 1)], "big")
            out[i] = (out[i] + sign * r) % MODULUS
    return [str(v) for v in out]


def unmask_sum(vectors: Sequence[Sequence[str]]) -> list[float]:
    """The sum of every site's masked vector: the masks cancel, the total remains."""
    lengths = {len(v) for v in vectors}
    if len(lengths) != 1:
        raise IntegrityError("the sites' answers differ in length", code="bad-answer")
    total = [sum(int(v[i]) for v in vectors) % MODULUS for i in range(lengths.pop())]
    return decode(total)


def seal_for(rows: Any, mine: X25519PrivateKey, analyst_dh: str, context: str) -> str:
    key = _shared(mine, analyst_dh, f"federate rows {context}")
    nonce = os.urandom(12)
    return base64.b64encode(
        nonce + ChaCha20Poly1305(key).encrypt(nonce, canonical(rows), None)
    ).decode()


def open_sealed(sealed: str, mine: X25519PrivateKey, site_dh: str, context: str) -> Any:
    key = _shared(mine, site_dh, f"federate rows {context}")
    raw = base64.b64decode(sealed, validate=True)
    try:
        return json.loads(ChaCha20Poly1305(key).decrypt(raw[:12], raw[12:], None))
    except InvalidTag:
        raise IntegrityError(f"rows sealed for {context} do not open", code="bad-seal") from None
