"""The warehouse's append-only audit log, hash-chained (JSON lines).

Each entry: UTC time, operator, action, site, submission, bundle manifest hash, outcome and
reason, the hash of the previous entry and its own hash. The latest head hash is also kept
outside the log (``audit.head``, printed to the operator, and stored in the catalog with each
publish), so a rewritten, deleted or truncated entry is detected by ``federate pool verify``.
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
from federate.warehouse.fs import fsync_dir, write_json_atomic

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
    """Append one entry (the caller holds the warehouse lock); return the new head hash."""
    entries = read_entries(warehouse)
    prev = entries[-1]["hash"] if entries else GENESIS
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
    write_json_atomic(warehouse / HEAD, {"head": entry["hash"], "seq": entry["seq"]})
    fsync_dir(warehouse)
    return str(entry["hash"])


def verify_chain(warehouse: Path, published_heads: list[str]) -> str:
    """Check every link, the head kept outside the log and the heads the catalog stored."""
    entries = read_entries(warehouse)
    prev = GENESIS
    for n, entry in enumerate(entries, start=1):
        where = Location(file=LOG, row=n)
        if entry.get("seq") != n or entry.get("prev") != prev:
            raise IntegrityError(
                "the audit log's chain is broken: an entry was removed or reordered",
                code="audit-log",
                where=where,
            )
        if _digest(entry) != entry.get("hash"):
            raise IntegrityError("an audit log entry was rewritten", code="audit-log", where=where)
        prev = entry["hash"]
    head_path = warehouse / HEAD
    head = json.loads(head_path.read_text("utf-8"))["head"] if head_path.exists() else GENESIS
    if head != prev:
        raise IntegrityError(
            "the audit log does not end at the recorded head: it was truncated or extended",
            code="audit-log",
            where=Location(file=HEAD),
        )
    hashes = {e["hash"] for e in entries}
    for stored in published_heads:
        if stored and stored not in hashes:
            raise IntegrityError(
                "a head hash the catalog stored with a publish is not in the audit log",
                code="audit-log",
                where=Location(file=LOG),
            )
    return prev
