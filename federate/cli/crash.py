"""The log of an internal error (exit 70): owner-only, and holding no SQL, path or key.

The log goes to the user's log folder (created owner-only, 0700) as a new file of mode 0600.
It names the command (its command words and the names of the options given), never the values:
each argument or option value is replaced by its SHA-256, so a query's SQL can be matched
against the audit log's ``query sha256:...`` without being kept. The traceback keeps its
stack (our code's lines); in its messages every argument, and the value of every
``FEDERATE_*`` variable (key files, the warehouse), is replaced the same way, DuckDB's excerpt
of the SQL (its ``LINE n:`` lines) is dropped, and anything that looks like a key is hidden.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import re
import stat
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import platformdirs

from federate.errors import redact

_EXCERPT = re.compile(r"^\s*LINE \d+:.*$|^\s*\^\s*$", re.M)


def log_folder() -> Path:
    """The user's log folder for federate, owner-only (made so if it was not)."""
    folder = Path(platformdirs.user_log_dir("federate"))
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    if stat.S_IMODE(folder.stat().st_mode) & 0o077:
        folder.chmod(0o700)
    return folder


def hashed(value: str) -> str:
    return f"<sha256:{hashlib.sha256(value.encode()).hexdigest()}>"


def command_line(command: Any, args: Sequence[str]) -> tuple[str, list[str]]:
    """The command line as it may be kept (command words and option names, every value
    hashed), and the values it hid (to hide them in the traceback too)."""
    kept, hidden = ["federate"], []
    group: Any = command  # a click command; a group has .commands
    for arg in args:
        if arg.startswith("-") and len(arg) > 1:
            name, eq, value = arg.partition("=")
            kept.append(name + (f"={hashed(value)}" if eq else ""))
            if eq:
                hidden.append(value)
            group = None  # after an option, a word is an option's value or an argument
            continue
        sub = getattr(group, "commands", {}).get(arg)
        if sub is not None:
            kept.append(arg)
            group = sub
            continue
        group = None
        kept.append(hashed(arg))
        hidden.append(arg)
    return " ".join(kept), hidden


def write_log(command: Any, args: Sequence[str]) -> Path:
    """Write the current exception's log (call from an ``except`` block); its path."""
    line, hidden = command_line(command, args)
    hidden += [v for k, v in os.environ.items() if k.startswith("FEDERATE_")]  # key files too
    text = traceback.format_exc()
    for value in sorted((v for v in hidden if len(v) >= 3), key=len, reverse=True):
        text = text.replace(value, hashed(value))
    text = redact(_EXCERPT.sub("", text))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = log_folder() / f"crash-{stamp}-{os.getpid()}.log"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    with os.fdopen(os.open(path, flags, 0o600), "w", encoding="utf-8") as log:
        log.write(f"{line}\n\n{text}")
    return path
