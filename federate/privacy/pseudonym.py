"""Pseudonyms: keyed hashes of a site's local patient ids, under a key that never leaves the site.

Format: ``<country>-<26 lower-case base32 characters>`` (the first 130 bits of
HMAC-SHA256(key, normalised local id)), e.g. ``it-mzxw6ytboi2dsnrqgq3tqmbz``. Lower case with a
hyphenated prefix, it cannot be mistaken for a national id (those are digits, or upper case).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.errors import UsageError
from federate.privacy.keyfiles import check_private, default_key_path, write_private

# The settled patients' pseudonyms of those of the given ids they hold.
Known = Callable[[list[str]], dict[str, str]]

KEY_ENV = "FEDERATE_KEY_FILE"
_MIN_KEY_BYTES = 32


@dataclass(frozen=True)
class SiteKey:
    secret: bytes
    path: Path

    @property
    def key_id(self) -> str:
        """Fingerprint recorded in manifests: shows which key was used, reveals nothing of it."""
        return hashlib.sha256(b"federate-key-id:" + self.secret).hexdigest()[:16]


def write_new_key(path: Path) -> None:
    write_private(path, (secrets.token_hex(32) + "\n").encode("ascii"))


def load_key(site: str, key_file: Path | None) -> SiteKey:
    """--key-file, else $FEDERATE_KEY_FILE, else the per-user default key (created on first use)."""
    if key_file is None and os.environ.get(KEY_ENV):
        key_file = Path(os.environ[KEY_ENV])
    if key_file is None:
        key_file = default_key_path(site)
        if not key_file.exists():
            write_new_key(key_file)
            print(
                f"federate: created a new pseudonymisation key for {site} at {key_file} "
                "(owner-only). Keep it: the same patients get the same pseudonyms only "
                "with the same key. It must never leave the site.",
                file=sys.stderr,
            )
    if not key_file.exists():
        raise UsageError(f"key file {key_file} does not exist", code="no-key")
    check_private(key_file)
    try:
        text = key_file.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"key file {key_file} cannot be read: {exc}", code="bad-key") from None
    try:
        secret = bytes.fromhex(text)
    except ValueError:
        secret = text.encode()
    if len(secret) < _MIN_KEY_BYTES:
        raise UsageError(
            f"key file {key_file} holds {len(secret)} bytes; at least {_MIN_KEY_BYTES} are needed",
            code="weak-key",
        )
    return SiteKey(secret, key_file)


def pseudonym(key: SiteKey, country: str, local_id: str) -> str:
    digest = hmac.new(key.secret, local_id.encode("utf-8"), hashlib.sha256).digest()
    return f"{country}-" + base64.b32encode(digest).decode("ascii").lower()[:26]


_BASE32 = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)
_CHARS = 26  # 130 bits


def pseudonyms(key: SiteKey, country: str, local_ids: list[str]) -> pa.Array:
    """``pseudonym`` of each id, as one string array. The base32 step (pure Python in
    ``base64``, two thirds of the cost per id) is done on all digests at once."""
    digests = b"".join(hmac.digest(key.secret, v.encode("utf-8"), "sha256") for v in local_ids)
    n = len(local_ids)
    # Base32 reads 5 bytes as 8 characters of 5 bits: the first 20 bytes give 32 characters.
    groups = np.frombuffer(digests, dtype=np.uint8).reshape(n, 32)[:, :20].reshape(n, 4, 5)
    value = np.zeros((n, 4), dtype=np.uint64)
    for i in range(5):
        value = (value << np.uint64(8)) | groups[:, :, i].astype(np.uint64)
    shifts = np.arange(35, -1, -5, dtype=np.uint64)  # 8 characters per group
    codes = (value[:, :, None] >> shifts) & np.uint64(31)
    chars = _BASE32[codes.reshape(n, 32)[:, :_CHARS]]
    prefix = np.frombuffer(f"{country}-".encode("ascii"), dtype=np.uint8)
    text = np.concatenate([np.broadcast_to(prefix, (n, len(prefix))), chars], axis=1)
    width = text.shape[1]
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(text.tobytes()))


class Pseudonymiser:
    """Computes each distinct id once (a cache across batches and tables) and maps whole arrays
    through their dictionary: a batch costs one lookup per distinct id in it, not per row.

    Once the patients are settled (``settle``), their pseudonyms are held by the ingest's
    settled patients: the cache, which grows with the patients (80 MB at 500,000), is dropped,
    and ``of`` asks them before computing anything."""

    def __init__(self, key: SiteKey, country: str):
        self.key = key
        self.country = country
        self._cache: dict[str, str] = {}
        self._known: Known | None = None

    def settle(self, known: Known) -> None:
        """``known(ids)``: the pseudonym of each of ``ids`` that the settled patients hold."""
        self._cache.clear()
        self._known = known

    def __call__(self, local_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Pseudonyms computed (or cached): for ids that are not settled patients."""
        return self._map(local_ids, settled=False)

    def of(self, local_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Pseudonyms of any ids: a settled patient's as settled, others computed."""
        return self._map(local_ids, settled=True)

    def _map(self, local_ids: pa.Array | pa.ChunkedArray, settled: bool) -> pa.Array:
        if isinstance(local_ids, pa.ChunkedArray):
            local_ids = local_ids.combine_chunks()
        encoded = pc.dictionary_encode(local_ids)
        values = encoded.dictionary.to_pylist()
        new = [v for v in values if v not in self._cache]
        found = self._known(new) if settled and new and self._known is not None else {}
        new = [v for v in new if v not in found]
        if new:
            names = pseudonyms(self.key, self.country, new).to_pylist()
            self._cache.update(zip(new, names, strict=True))
        names = [found[v] if v in found else self._cache[v] for v in values]
        return pc.take(pa.array(names, pa.string()), encoded.indices)
