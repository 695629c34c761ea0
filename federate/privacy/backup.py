"""A passphrase-encrypted backup of a site's keys (`federate keys export` / `keys import`).

A lost pseudonym key silently breaks the linkage of every later submission: the same patient
gets another pseudonym. The backup holds the pseudonym key and the signing key, encrypted with
the ``cryptography`` package's Fernet (AES-128-CBC with HMAC-SHA256) under a key derived from
the passphrase by scrypt - the package's documented recipe for passwords, not a scheme of ours.
Only the site name, the key's fingerprint and the KDF's parameters are readable without it.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from federate.errors import UsageError
from federate.privacy.keyfiles import check_private, write_private

FORMAT = "federate-key-backup"
VERSION = 1
MIN_PASSPHRASE = 12
# scrypt's interactive-login cost (2**14) doubled: about 0.1 s and 32 MB per derivation.
_SCRYPT = {"n": 2**15, "r": 8, "p": 1}


@dataclass(frozen=True)
class SiteKeys:
    """A site's two secrets as their files hold them."""

    site: str
    pseudonym_key: bytes  # the key file's text (hex)
    signing_key: bytes  # PEM, PKCS#8, unencrypted
    pseudonym_key_id: str


def _fernet(passphrase: str, salt: bytes, n: int, r: int, p: int) -> object:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=salt, length=32, n=n, r=r, p=p).derive(passphrase.encode("utf-8"))
    return Fernet(base64.urlsafe_b64encode(key))


def seal_keys(keys: SiteKeys, passphrase: str) -> bytes:
    """The backup file's bytes."""
    if len(passphrase) < MIN_PASSPHRASE:
        raise UsageError(
            f"the passphrase must have at least {MIN_PASSPHRASE} characters", code="weak-passphrase"
        )
    salt = os.urandom(16)
    payload = json.dumps(
        {
            "site": keys.site,
            "pseudonym_key": keys.pseudonym_key.decode("ascii"),
            "signing_key": keys.signing_key.decode("ascii"),
        }
    ).encode("utf-8")
    token = _fernet(passphrase, salt, **_SCRYPT).encrypt(payload)  # type: ignore[attr-defined]
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "site": keys.site,
        "pseudonym_key_id": keys.pseudonym_key_id,
        "kdf": {"name": "scrypt", "salt": base64.b64encode(salt).decode("ascii"), **_SCRYPT},
        "cipher": "fernet",
        "token": token.decode("ascii"),
    }
    return (json.dumps(doc, indent=2) + "\n").encode("utf-8")


def open_keys(path: Path, site: str, passphrase: str) -> SiteKeys:
    """The keys of a backup made by ``seal_keys``; a wrong passphrase or an altered file is
    refused, and so is another site's backup."""
    from cryptography.fernet import InvalidToken

    doc = _read_backup(path)
    if doc["site"] != site:
        raise UsageError(
            f"{path} is the backup of site {doc['site']!r}, not {site!r}", code="wrong-site"
        )
    kdf = doc["kdf"]
    fernet = _fernet(passphrase, base64.b64decode(kdf["salt"]), kdf["n"], kdf["r"], kdf["p"])
    try:
        payload = json.loads(fernet.decrypt(doc["token"].encode("ascii")))  # type: ignore[attr-defined]
    except InvalidToken:
        raise UsageError(
            f"{path} cannot be opened: wrong passphrase, or the file was altered",
            code="bad-backup",
        ) from None
    return SiteKeys(
        site=payload["site"],
        pseudonym_key=payload["pseudonym_key"].encode("ascii"),
        signing_key=payload["signing_key"].encode("ascii"),
        pseudonym_key_id=str(doc["pseudonym_key_id"]),
    )


def _read_backup(path: Path) -> dict[str, Any]:
    def bad(why: str) -> UsageError:
        return UsageError(f"{path} is not a federate key backup ({why})", code="bad-backup")

    if not path.is_file():
        raise UsageError(f"{path} does not exist or is not a file", code="bad-backup")
    check_private(path, "key backup")
    if path.stat().st_size > 1 << 20:
        raise bad("too large")
    try:
        doc = json.loads(path.read_bytes())
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise bad("not JSON") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise bad("no backup header")
    if doc.get("version") != VERSION:
        raise bad(f"version {doc.get('version')!r}; this federate reads {VERSION}")
    kdf = doc.get("kdf")
    if not isinstance(kdf, dict) or kdf.get("name") != "scrypt" or doc.get("cipher") != "fernet":
        raise bad("unknown key derivation or cipher")
    return doc


def restore(keys: SiteKeys, pseudonym_path: Path, signing_path: Path) -> list[str]:
    """Write the keys where they belong, owner-only. A key already there is kept if it is the
    same, and refused if it differs (never overwritten). Returns what was done, per file."""
    done = []
    for path, data, what in (
        (pseudonym_path, keys.pseudonym_key, "pseudonym key"),
        (signing_path, keys.signing_key, "signing key"),
    ):
        if path.exists():
            check_private(path)
            if path.read_bytes().strip() != data.strip():
                raise UsageError(
                    f"{path} holds another {what}; move it away first (keys are never overwritten)",
                    code="key-exists",
                )
            done.append(f"{what}: {path} (already in place)")
            continue
        write_private(path, data)
        done.append(f"{what}: {path} (restored)")
    return done
