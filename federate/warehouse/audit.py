"""The warehouse's append-only audit log, hash-chained (JSON lines).

Each entry: UTC time, operator, action, site, submission, bundle manifest hash, outcome and
reason, the hash of the previous entry and its own hash. The latest head hash is also kept
outside the log (``audit.head``, printed to the operator, and stored in the catalog with each
publish), so a rewritten, deleted or truncated entry is detected by ``federate pool verify``.
Publishes and rollbacks add an intent and a commit entry, the commit holding the warehouse's
state (federate.warehouse.journal).

Whoever can write every file can rewrite the log and ``audit.head`` together; only a head kept
elsewhere (``federate pool verify --head HASH``) catches that.
"""

from __future__ import annotations

import datetime as dt
import getpass
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from federate.errors import IntegrityError, Location
from federate.warehouse.fs import crash_point, fsync_dir, write_json_atomic

LOG = "audit.jsonl"
HEAD = "audit.head"
GENESIS = "0" * 64


def _digest(entry: dict[str, Any]) -> str:
    body = {k: v for k, v in entry.items() if k != "hash"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def read_entries(warehouse: Path) -> list[dict[str, Any]]:
    path = warehouse / LOG
    if not path.exists():
        return []
    entries = []
    for n, line in enumerate(path.read_text("utf-8").splitlines(), start=1):
        try:
            entries.append(json.loads(line))
        except ValueError:
            raise IntegrityError(
                "the audit log has a line that is not JSON",
                code="audit-log",
                where=Location(file=LOG, row=n),
            ) from None
    return entries


def accountable(operator: str | None) -> str:
    """Who the log records: the account that ran the command, always; a name given with
    ``--operator`` is added to it, never put in its place (anyone can type any name)."""
    account = getpass.getuser()
    if operator and operator != account:
        return f"{account} (as {operator})"
    return account


def append(warehouse: Path, **fields: Any) -> str:
    """Append one entry (the caller holds the warehouse lock); return the new head hash.
    Nothing is appended to a log that does not end at its head (but for the one entry a crash
    can leave past it): a new head would hide the cut or the addition."""
    entries = read_entries(warehouse)
    prev = entries[-1]["hash"] if entries else GENESIS
    head = read_head(warehouse)
    if head != prev and not (entries and head == entries[-1].get("prev")):
        raise IntegrityError(
            "the audit log does not end at its recorded head: it was truncated or extended "
            "outside federate. Nothing more is logged, so nothing is published or unblinded, "
            "until it is restored (federate pool verify names what differs)",
            code="audit-log",
            where=Location(file=HEAD),
        )
    entry = {
        "seq": len(entries) + 1,
        "time_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        **fields,
        "prev": prev,
    }
    entry["hash"] = _digest(entry)
    path = warehouse / LOG
    with path.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    crash_point(f"logged-{fields.get('action')}-{fields.get('outcome')}")
    write_json_atomic(warehouse / HEAD, {"head": entry["hash"], "seq": entry["seq"]})
    fsync_dir(warehouse)
    return str(entry["hash"])


def read_head(warehouse: Path) -> str:
    """The head kept outside the log (the genesis hash before the first entry)."""
    path = warehouse / HEAD
    if not path.exists():
        return GENESIS
    try:
        return str(json.loads(path.read_text("utf-8"))["head"])
    except (ValueError, KeyError, TypeError):
        raise IntegrityError(
            "audit.head cannot be read", code="audit-log", where=Location(file=HEAD)
        ) from None


def chain_breaks(entries: list[dict[str, Any]]) -> tuple[int, str] | None:
    """The first entry (1-based) whose link or hash does not hold, and why; None if all do."""
    prev = GENESIS
    for n, entry in enumerate(entries, start=1):
        if entry.get("seq") != n or entry.get("prev") != prev:
            return n, "the audit log's chain is broken: an entry was removed or reordered"
        if _digest(entry) != entry.get("hash"):
            return n, "an audit log entry was rewritten"
        prev = entry["hash"]
    return None


def mend_torn_tail(warehouse: Path) -> bool:
    """A power cut during an append can leave the log's last line unterminated: part of an
    entry (cut off), or a whole one without its newline (ended). Done only where the lines
    before end at ``audit.head``, as such a crash leaves them (the caller holds the lock)."""
    path = warehouse / LOG
    data = path.read_bytes() if path.exists() else b""
    if not data or data.endswith(b"\n"):
        return False
    cut = data.rfind(b"\n") + 1
    try:
        lines = data[:cut].decode("utf-8").splitlines()
        last = json.loads(lines[-1]).get("hash") if lines else GENESIS
    except (ValueError, AttributeError):
        return False  # not what a crash leaves: for verify to report
    if read_head(warehouse) != last:
        return False
    try:
        json.loads(data[cut:])
        whole = True
    except ValueError:
        whole = False
    with path.open("r+b") as fh:
        if whole:
            fh.seek(0, os.SEEK_END)
            fh.write(b"\n")
        else:
            fh.truncate(cut)
        fh.flush()
        os.fsync(fh.fileno())
    return True


def catch_up_head(warehouse: Path) -> int | None:
    """After a crash between appending an entry and moving ``audit.head``: the log holds one
    sound entry past the head. Move the head to it (the caller holds the lock); return its
    number, or None when there was nothing to catch up. Anything else is left for verify."""
    entries = read_entries(warehouse)
    if not entries or chain_breaks(entries) is not None:
        return None
    head = read_head(warehouse)
    if head == entries[-1]["hash"] or head != entries[-1]["prev"]:
        return None
    write_json_atomic(warehouse / HEAD, {"head": entries[-1]["hash"], "seq": entries[-1]["seq"]})
    fsync_dir(warehouse)
    return int(entries[-1]["seq"])


def verify_chain(
    warehouse: Path, published_heads: list[str], kept_head: str | None = None
) -> tuple[str, int | None]:
    """Check every link, the head kept outside the log and the heads the catalog stored; with
    ``kept_head`` (a head the operator kept elsewhere) check it is one of the log's entries.
    Returns the head and how many entries came after ``kept_head``."""
    entries = read_entries(warehouse)
    broken = chain_breaks(entries)
    if broken is not None:
        n, why = broken
        raise IntegrityError(why, code="audit-log", where=Location(file=LOG, row=n))
    prev = entries[-1]["hash"] if entries else GENESIS
    if read_head(warehouse) != prev:
        raise IntegrityError(
            "the audit log does not end at the recorded head: it was truncated or extended",
            code="audit-log",
            where=Location(file=HEAD),
        )
    hashes = {e["hash"]: n for n, e in enumerate(entries, start=1)}
    for stored in published_heads:
        if stored and stored not in hashes:
            raise IntegrityError(
                "a head hash the catalog stored with a publish is not in the audit log",
                code="audit-log",
                where=Location(file=LOG),
            )
    if kept_head is None:
        return prev, None
    if kept_head not in hashes:
        raise IntegrityError(
            f"the head you kept ({kept_head[:16]}…) is not in the audit log: entries up to it "
            "were removed or rewritten, and audit.head rewritten to match",
            code="audit-log",
            where=Location(file=LOG),
        )
    return prev, len(entries) - hashes[kept_head]
