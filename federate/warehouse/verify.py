"""``federate pool verify``: everything readers can see, against what the audit chain explains.

1. The chain: every link, ``audit.head``, the heads the catalog stored with each publish, and,
   with ``--head``, a head the operator kept elsewhere (only that catches a log whose tail was
   cut or rewritten together with ``audit.head``).
2. The state the last commit entry recorded (federate.warehouse.journal) against the catalog:
   each site's current submission, every kept submission's manifest and blinded-copy hashes, and
   the catalog file's own SHA-256. A rollback, a removed site or an edited hash nobody logged
   shows here.
3. Every kept submission: its files, its signature under the key trusted for its site, and its
   blinded copy, recomputed from the signed tables and compared value by value.

Every difference found is reported, each naming the file, in one refusal (exit 3).
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from federate.bundle.manifest import MANIFEST, sha256_file
from federate.errors import IntegrityError, Location
from federate.warehouse import audit, journal
from federate.warehouse.blind import blinded_differences, verify_blinded
from federate.warehouse.catalog import CATALOG, LOCK, Catalog, Submission, read_catalog
from federate.warehouse.fs import locked

# The checks a kept submission passes again are those `pool add` runs first, kept beside it.
from federate.warehouse.publish import _check_rows, _verified
from federate.warehouse.trust import check_signed


def verify_warehouse(
    warehouse: Path, *, head: str | None = None, operator: str | None = None
) -> dict[str, Any]:
    """Settle a crashed publish (as every pool command does), then check the chain, the state
    it explains and every kept submission. Raises IntegrityError naming every difference."""
    read_catalog(warehouse)  # a warehouse at all, before anything is locked or written
    try:
        with locked(warehouse / LOCK):
            journal.recover(warehouse, audit.accountable(operator))
            catalog, entries, tip, since, problems = _chain(warehouse, head)
    except OSError as exc:  # an auditor's read-only view: checked as it is, nothing settled
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
        print(
            "federate: the warehouse is read-only to you: checked as it is (a publish "
            "interrupted by a crash is settled by the next pool command of its owner)",
            file=sys.stderr,
        )
        catalog, entries, tip, since, problems = _chain(warehouse, head)
    # A kept submission never changes once published: checked without holding up a publish.
    for sub in catalog.submissions.values():
        problems += _submission_problems(warehouse, sub)
    if problems:
        listed = "".join(f"\n  - {p}" for p in problems)
        raise IntegrityError(
            f"the warehouse holds state its audit log does not explain ({len(problems)} "
            f"difference(s)); it was changed outside federate:{listed}",
            code="warehouse-tampered",
        )
    return {
        "head": tip,
        "submissions": len(catalog.submissions),
        "log_entries": len(entries),
        "entries_since_kept_head": since,
    }


def _chain(
    warehouse: Path, head: str | None
) -> tuple[Catalog, list[journal.Entry], str, int | None, list[str]]:
    """The chain, and the catalog against its state (under the lock: no publish in between)."""
    catalog = read_catalog(warehouse)
    tip, since = audit.verify_chain(warehouse, [e.log_head for e in catalog.history], head)
    entries = audit.read_entries(warehouse)
    return catalog, entries, tip, since, state_differences(warehouse, catalog, entries)


def state_differences(warehouse: Path, catalog: Catalog, entries: list[journal.Entry]) -> list[str]:
    """Where the catalog differs from the state the last commit entry recorded."""
    last = journal.last_state(entries)
    if last is None:
        if catalog.current or catalog.submissions or catalog.history:
            return [
                f"{CATALOG} lists publishes, but no commit entry of the audit log records a "
                "state (if a federate older than the write-ahead log published them, the next "
                "pool add or rollback records it)"
            ]
        return []
    n, state = last
    said = f"the audit log (entry {n}) says"
    problems = []
    chain_current: dict[str, str] = state.get("current", {})
    for site in sorted(set(chain_current) | set(catalog.current)):
        have, want = catalog.current.get(site), chain_current.get(site)
        if have != want:
            problems.append(
                f"{CATALOG}: {site}'s current submission is {have or 'none'}, "
                f"{said} {want or 'none'}"
            )
    chain_subs: dict[str, dict[str, str]] = state.get("submissions", {})
    for sid in sorted(set(chain_subs) | set(catalog.submissions)):
        problems += _kept_differences(sid, catalog.submissions.get(sid), chain_subs.get(sid), said)
    path = warehouse / CATALOG
    if not problems and (not path.is_file() or sha256_file(path) != state.get("catalog_sha256")):
        problems.append(f"{CATALOG} changed since the last publish {said} (its history or rows)")
    return problems


def _kept_differences(
    sid: str, sub: Submission | None, logged: dict[str, str] | None, said: str
) -> list[str]:
    if sub is None:
        return [f"{CATALOG}: submission {sid} is missing; {said} it is kept"]
    if logged is None:
        return [f"{CATALOG}: submission {sid} is listed; {said} no such submission was published"]
    return [
        f"{CATALOG}: submission {sid}'s {label} hash is {have[:16]}…, {said} {want[:16]}…"
        for label, have, want in (
            ("manifest", sub.manifest_sha256, logged.get("manifest_sha256", "")),
            ("blinded copy", sub.blinded_sha256, logged.get("blinded_sha256", "")),
        )
        if have != want
    ]


def _submission_problems(warehouse: Path, sub: Submission) -> list[str]:
    """One kept submission: files, signature, blinded copy (each failure as one line)."""
    folder, problems = warehouse / sub.path, []

    def check(step: Callable[[], object]) -> bool:
        try:
            step()
        except IntegrityError as exc:
            problems.append(str(exc))
            return False
        return True

    def manifest_unchanged() -> None:
        if sha256_file(folder / MANIFEST) != sub.manifest_sha256:
            raise IntegrityError(
                f"submission {sub.submission_id} changed since it was published",
                code="warehouse-tampered",
                where=Location(file=f"{sub.path}/{MANIFEST}"),
            )

    signed = (
        check(lambda: _verified(folder))
        and check(manifest_unchanged)
        and check(lambda: check_signed(folder, sub.site, warehouse))
        and check(lambda: _check_rows(folder, _verified(folder)))
    )
    blind = warehouse / sub.blinded_path
    if check(lambda: verify_blinded(blind, sub.blinded_sha256, sub.blinded_path)) and signed:
        problems += blinded_differences(folder, blind, list(sub.rows), sub.blinded_path)
    return problems
