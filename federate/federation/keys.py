"""The analyst's signing key (Ed25519): one per user, owner-only, in the per-user key folder
(``federate keys init --analyst``); sites trust its public key with ``--trust-analyst``."""

from __future__ import annotations

from pathlib import Path

from federate.bundle.signing import SigningKey, load_signing_key, new_signing_key
from federate.errors import UsageError
from federate.privacy.keyfiles import key_folder

ANALYST = "analyst"


def analyst_key_path(folder: Path | None = None) -> Path:
    return (folder or key_folder()) / f"{ANALYST}.signing.pem"


def init_analyst(folder: Path | None = None) -> tuple[Path, str]:
    path = analyst_key_path(folder)
    if path.exists():
        raise UsageError(f"{path} exists already; keys are never overwritten", code="key-exists")
    new_signing_key(path)
    return path, load_analyst(path).public


def load_analyst(path: Path | None = None) -> SigningKey:
    path = path or analyst_key_path()
    if not path.exists():
        raise UsageError(
            f"no analyst key at {path}: create one with federate keys init --analyst",
            code="no-analyst-key",
        )
    return load_signing_key(ANALYST, path, create=False)
