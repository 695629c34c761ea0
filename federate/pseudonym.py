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
from dataclasses import dataclass
from pathlib import Path

import platformdirs
import pyarrow as pa
import pyarrow.compute as pc

from federate.errors import UsageError

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


def default_key_path(site: str) -> Path:
    return Path(platformdirs.user_config_dir("federate")) / "keys" / f"{site}.key"


def write_new_key(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_hex(32) + "\n")


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
    try:
        text = key_file.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        raise UsageError(f"key file {key_file} does not exist", code="no-key") from None
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


class Pseudonymiser:
    """Computes each distinct id once (a cache across batches and tables) and maps whole arrays
    through their dictionary: a batch costs one lookup per distinct id in it, not per row."""

    def __init__(self, key: SiteKey, country: str):
        self.key = key
        self.country = country
        self._cache: dict[str, str] = {}

    def __call__(self, local_ids: pa.Array | pa.ChunkedArray) -> pa.Array:
        if isinstance(local_ids, pa.ChunkedArray):
            local_ids = local_ids.combine_chunks()
        encoded = pc.dictionary_encode(local_ids)
        names = []
        for value in encoded.dictionary.to_pylist():
            name = self._cache.get(value)
            if name is None:
                name = self._cache[value] = pseudonym(self.key, self.country, value)
            names.append(name)
        return pc.take(pa.array(names, pa.string()), encoded.indices)
