"""The database lock a double-blind trial needs before unblinding: ``federate pool lock``
freezes the warehouse's current state (no add, no rollback) until ``federate pool unlock``.

The lock lives in the audit log and nowhere else: a ``lock`` entry (who, when, why, and the
state it froze, as a commit entry records it) and an ``unlock`` entry. The warehouse is locked
when the last of them is a lock. The chain makes the lock as hard to remove unseen as any
publish (``federate pool verify``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from federate.bundle.manifest import sha256_file
from federate.errors import IntegrityError, UsageError
from federate.warehouse import audit, journal
from federate.warehouse.catalog import CATALOG, LOCK, read_catalog
from federate.warehouse.fs import locked

LOCKED, UNLOCKED = "lock", "unlock"


@dataclass(frozen=True)
class Freeze:
    """A lock in force: since when (UTC), by whom, why, and its entry's hash."""

    since_utc: str
    by: str
    reason: str
    entry_hash: str


def in_force(entries: list[journal.Entry]) -> Freeze | None:
    """The lock in force after ``entries``, if any."""
    for entry in reversed(entries):
        if entry.get("action") in (LOCKED, UNLOCKED) and entry.get("outcome") == journal.COMMITTED:
            if entry["action"] == UNLOCKED:
                return None
            return Freeze(
                str(entry["time_utc"]), str(entry["operator"]), str(entry["reason"]), entry["hash"]
            )
    return None


def refuse_if_locked(warehouse: Path, what: str) -> None:
    """IntegrityError (exit 3) when a lock is in force (the caller holds the warehouse lock)."""
    freeze = in_force(audit.read_entries(warehouse))
    if freeze is not None:
        raise IntegrityError(
            f"the warehouse is locked since {freeze.since_utc} by {freeze.by} "
            f"(reason: {freeze.reason}): no {what} until `federate pool unlock --reason TEXT`",
            code="warehouse-locked",
        )


def lock(warehouse: Path, reason: str, *, operator: str | None = None) -> Freeze:
    """Freeze the current state (a ``lock`` entry holding it); refused if already locked."""
    return _set(warehouse, LOCKED, reason, operator)


def unlock(warehouse: Path, reason: str, *, operator: str | None = None) -> Freeze:
    """Lift the lock in force (an ``unlock`` entry); returns the lock it lifted."""
    return _set(warehouse, UNLOCKED, reason, operator)


def _set(warehouse: Path, action: str, reason: str, operator: str | None) -> Freeze:
    if not reason.strip():
        raise UsageError(f"pool {action} needs --reason TEXT: why, in words", code="no-reason")
    read_catalog(warehouse)  # a warehouse at all, before the lock file is made in it
    who = audit.accountable(operator)
    with locked(warehouse / LOCK):
        journal.recover(warehouse, who)
        entries = audit.read_entries(warehouse)
        freeze = in_force(entries)
        if action == LOCKED and freeze is not None:
            raise UsageError(
                f"the warehouse is already locked, since {freeze.since_utc} by {freeze.by}",
                code="already-locked",
            )
        if action == UNLOCKED and freeze is None:
            raise UsageError("the warehouse is not locked", code="not-locked")
        fields: journal.Entry = {
            "operator": who,
            "action": action,
            "site": "",
            "submission_id": "",
            "manifest_sha256": "",
            "outcome": journal.COMMITTED,
            "reason": reason.strip(),
        }
        if action == LOCKED:
            catalog = read_catalog(warehouse)
            fields["state"] = journal.state_of(catalog, sha256_file(warehouse / CATALOG))
        head = audit.append(warehouse, **fields)
        entry = audit.read_entries(warehouse)[-1]
    if action == LOCKED:
        return Freeze(str(entry["time_utc"]), who, reason.strip(), head)
    assert freeze is not None
    return freeze


PUBLISHING = ("add", "rollback", LOCKED, UNLOCKED)


@dataclass(frozen=True)
class PoolState:
    """The state results are made from: each site's current submission, and the hash of the
    last entry that changed what readers see or may see (a publish, rollback, lock or unlock
    committed; entries of access do not count), and the lock in force, if any."""

    submissions: dict[str, str]
    entry_hash: str
    locked: Freeze | None


def pool_state(warehouse: Path) -> PoolState:
    entries = audit.read_entries(warehouse)
    last = next(
        (
            e
            for e in reversed(entries)
            if e.get("action") in PUBLISHING and e.get("outcome") == journal.COMMITTED
        ),
        None,
    )
    current = dict(sorted(read_catalog(warehouse).current.items()))
    return PoolState(current, str(last["hash"]) if last else audit.GENESIS, in_force(entries))
