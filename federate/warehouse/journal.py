"""Publishing as a write-ahead sequence in the audit log, and recovery after a crash.

An add or a rollback writes, in this order:

1. an **intent** entry (``outcome: intent``): what is about to be published, with the hashes of
   its manifest and of its blinded copy;
2. the submission's folders moved into place (an add), a first bundle's key pinned;
3. ``catalog.json`` replaced: its new history event names the intent entry (``log_head``);
4. a **commit** entry (``outcome: ok``) naming the intent and holding the warehouse's state: the
   catalog's SHA-256, each site's current submission and every kept submission's manifest and
   blinded-copy hashes. ``federate pool verify`` checks what is on disk against that state.

A crash leaves an intent without its commit. The next pool command (``recover``, under the lock)
settles it from the catalog: if the catalog names the intent, the publish happened and a commit
entry says so; otherwise an ``aborted`` entry says it did not, and the folders it left are
removed. A crash between appending an entry and moving ``audit.head`` is caught up first, and
a line a power cut left unterminated is mended before that.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from federate.bundle.manifest import sha256_file
from federate.warehouse import audit
from federate.warehouse.catalog import (
    BLINDED,
    CATALOG,
    CATALOG_TMP,
    STAGING,
    SUBMISSIONS,
    Action,
    Catalog,
    Submission,
    read_catalog,
)
from federate.warehouse.fs import remove_tree

INTENT, COMMITTED, ABORTED = "intent", "ok", "aborted"
Entry = dict[str, Any]  # one audit log entry


def state_of(catalog: Catalog, catalog_sha256: str) -> dict[str, Any]:
    """What readers can see, as a commit entry records it."""
    return {
        "catalog_sha256": catalog_sha256,
        "current": dict(sorted(catalog.current.items())),
        "submissions": {
            sid: {
                "site": sub.site,
                "manifest_sha256": sub.manifest_sha256,
                "blinded_sha256": sub.blinded_sha256,
            }
            for sid, sub in sorted(catalog.submissions.items())
        },
    }


def begin(warehouse: Path, action: Action, sub: Submission, who: str, reason: str) -> Entry:
    """Step 1: the intent entry; returns it with its hash (the catalog's event names it)."""
    entry: Entry = {
        "operator": who,
        "action": action,
        "site": sub.site,
        "submission_id": sub.submission_id,
        "manifest_sha256": sub.manifest_sha256,
        "blinded_sha256": sub.blinded_sha256,
        "outcome": INTENT,
        "reason": reason,
    }
    return {**entry, "hash": audit.append(warehouse, **entry)}


def commit(warehouse: Path, intent: Entry, who: str, catalog: Catalog, note: str) -> str:
    """Step 4: the commit entry, once ``catalog`` is the one on disk."""
    state = state_of(catalog, sha256_file(warehouse / CATALOG))
    return _settle(warehouse, intent, who, COMMITTED, note, state=state)


def abort(warehouse: Path, intent: Entry, who: str, reason: str) -> str:
    """The entry that settles an intent that was not published."""
    return _settle(warehouse, intent, who, ABORTED, reason)


def _settle(
    warehouse: Path, intent: Entry, who: str, outcome: str, reason: str, **extra: Any
) -> str:
    """The entry that settles ``intent`` one way or the other (it names the intent's hash)."""
    return audit.append(
        warehouse,
        operator=who,
        action=intent["action"],
        site=intent["site"],
        submission_id=intent["submission_id"],
        manifest_sha256=intent["manifest_sha256"],
        outcome=outcome,
        reason=reason,
        intent=intent["hash"],
        **extra,
    )


def pending(entries: list[Entry]) -> Entry | None:
    """The last intent that no commit or abort settled, if any."""
    settled = {e.get("intent") for e in entries if e.get("outcome") in (COMMITTED, ABORTED)}
    for entry in reversed(entries):
        if entry.get("outcome") == INTENT:
            return None if entry["hash"] in settled else entry
    return None


def last_state(entries: list[Entry]) -> tuple[int, dict[str, Any]] | None:
    """The state the last commit recorded, with its entry number."""
    for n in range(len(entries), 0, -1):
        state = entries[n - 1].get("state")
        if entries[n - 1].get("outcome") == COMMITTED and isinstance(state, dict):
            return n, state
    return None


def recover(warehouse: Path, who: str) -> None:
    """Settle what a crashed add or rollback left (the caller holds the lock). A log whose
    chain does not hold, or does not end at its head, is refused as it is (IntegrityError)."""
    if audit.mend_torn_tail(warehouse):
        _say("the audit log's last line, cut short by a crash, was mended")
    caught = audit.catch_up_head(warehouse)
    if caught is not None:
        _say(f"audit.head caught up with entry {caught}, written just before a crash")
    # Anything else is not a crash: nothing is written on top of it (exit 3, naming it).
    audit.verify_chain(warehouse, [])
    entries = audit.read_entries(warehouse)
    catalog = read_catalog(warehouse)
    intent = pending(entries)
    if intent is not None:
        what = f"{intent['action']} of {intent['submission_id']}"
        if catalog.history and catalog.history[-1].log_head == intent["hash"]:
            note = "completed after a crash: the catalog had been replaced, so it is published"
            commit(warehouse, intent, who, catalog, note)
            _say(f"the interrupted {what} was published before the crash: committed")
        else:
            note = "interrupted before the catalog was replaced: not published, the warehouse is "
            abort(warehouse, intent, who, note + "as it was before it")
            _say(f"the interrupted {what} was not published: the warehouse is as before it")
    clean_leftovers(warehouse, catalog)


def clean_leftovers(warehouse: Path, catalog: Catalog) -> None:
    """Remove what an interrupted add left: staging copies, unpublished submission folders."""
    staging = warehouse / STAGING
    if staging.is_dir():
        for path in staging.iterdir():
            remove_tree(path)
    for path in warehouse.glob(f"{CATALOG_TMP}*"):
        path.unlink(missing_ok=True)
    published = {p for sub in catalog.submissions.values() for p in (sub.path, sub.blinded_path)}
    for path in [*(warehouse / SUBMISSIONS).glob("*/*"), *(warehouse / BLINDED).glob("*/*")]:
        if path.relative_to(warehouse).as_posix() not in published:
            remove_tree(path)
    staging.mkdir(exist_ok=True)


def _say(message: str) -> None:
    print(f"federate: recovered: {message}", file=sys.stderr)
