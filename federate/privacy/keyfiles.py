"""A site's secret files (the pseudonym key, the signing key, a backup's passphrase): where
they live, how they are written (owner-only, never overwritten) and the check every one of
them passes before it is read: a secret that group or others can read is refused."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import platformdirs

from federate.errors import UsageError


def key_folder() -> Path:
    return Path(platformdirs.user_config_dir("federate")) / "keys"


def default_key_path(site: str) -> Path:
    """The per-user pseudonym key of ``site``."""
    return key_folder() / f"{site}.key"


def signing_key_path(site: str) -> Path:
    """The per-user Ed25519 signing key of ``site``."""
    return key_folder() / f"{site}.signing.pem"


def check_private(path: Path, what: str = "key file") -> None:
    """A secret readable by group or others is refused (and never read)."""
    mode = path.stat().st_mode
    if os.name == "posix" and mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise UsageError(
            f"{what} {path} is readable by others (mode {stat.filemode(mode)}); "
            f"make it owner-only: chmod 600 {path}",
            code="key-permissions",
        )


def write_private(path: Path, data: bytes) -> None:
    """Create ``path`` owner-only (its folder too); an existing file is never overwritten."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
