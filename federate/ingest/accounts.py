"""Row accounting, one account per source file: every row read ends up mapped, quarantined or
skipped (with its reason), and an account that does not add up stops the run - the manifest's
accounting is the proof that no row went missing."""

from __future__ import annotations

from dataclasses import dataclass, field

from federate.adapters.declaration import Keep, SkipFiles
from federate.bundle.manifest import sha256_file
from federate.ingest.settle import ROW_COUNTS_AS, Settlement
from federate.ingest.streaming import Outcome
from federate.readers.base import Reader, Reject, Source


@dataclass
class SourceAccount:
    """Row accounting for one source file feeding one table (its fields are the manifest's)."""

    path: str
    table: str
    sha256: str
    bytes: int
    rows_read: int = 0
    rows_mapped: int = 0
    rows_quarantined: int = 0
    rows_skipped: int = 0
    rows_parent_quarantined: int = 0  # part of rows_quarantined: held for their patient's row
    part: str | None = None
    skipped_reasons: dict[str, int] = field(default_factory=dict)
    facts: dict[str, str] = field(default_factory=dict)
    skipped_whole: str | None = None  # a file never read, and why (e.g. not-in-spec)

    def balanced(self) -> bool:
        return self.rows_read == self.rows_mapped + self.rows_quarantined + self.rows_skipped

    def check(self) -> None:
        if not self.balanced():
            raise RuntimeError(f"row accounting does not add up for {self}")

    def skip(self, reason: str, n: int) -> None:
        self.rows_skipped += n
        self.skipped_reasons[reason] = self.skipped_reasons.get(reason, 0) + n


def close_account(
    account: SourceAccount, read: int, rejects: list[Reject], outcome: Outcome, keep: Keep | None
) -> None:
    """Fill ``account`` from a finished pass: ``read`` rows the reader gave, ``rejects`` it
    could not read or the source deleted; rows neither written nor quarantined were merged or
    not kept."""
    deleted = [r for r in rejects if r.deleted]
    account.rows_read = read + len(rejects)
    account.rows_mapped = outcome.written
    account.rows_quarantined = (
        outcome.failed + len(rejects) - len(deleted) + sum(outcome.removed.values())
    )
    for reject in deleted:
        account.skip(reject.reason, 1)
    for reason, n in outcome.skipped.items():  # rows of patients the subjects table skipped
        account.skip(reason, n)
    account.rows_parent_quarantined = outcome.removed.get("parent-quarantined", 0)
    if outcome.merged:
        account.skip("merged-into-record", outcome.merged)
    unkept = (
        account.rows_read
        - account.rows_mapped
        - account.rows_quarantined
        - outcome.merged
        - len(deleted)
        - sum(outcome.skipped.values())
    )
    if unkept and keep is not None:
        account.skip(keep.reason, unkept)
    account.check()


def apply_settlement(settlement: Settlement, accounts: list[SourceAccount]) -> None:
    """Move the rows the key rules removed from mapped to skipped or quarantined."""
    for (table, source, verdict), n in settlement.removed.items():
        account = next(a for a in accounts if a.table == table and a.path == source)
        account.rows_mapped -= n
        if ROW_COUNTS_AS[verdict] == "skipped":
            account.skip(verdict, n)
        else:
            account.rows_quarantined += n
        account.check()
    settlement.removed.clear()


def skipped_file(reader: Reader, source: Source, rule: SkipFiles) -> SourceAccount:
    """Count a file the schema has no place for: every row read and skipped, with the reason;
    a file the rule says is no data is never opened (skipped whole, with the reason)."""
    if not rule.read:
        return unread_file(source, source.relpath, rule.reason)
    account = SourceAccount(source.relpath, "", reader.sha256(source), source.path.stat().st_size)
    rejects: list[Reject] = []
    rows = sum(b.num_rows for b in reader.batches(source, rejects)) + len(rejects)
    account.facts = reader.source_facts(source)
    account.rows_read = rows
    account.skip(rule.reason, rows)
    return account


def unread_file(source: Source, shown: str, reason: str) -> SourceAccount:
    """A file never read (nothing claims it, and its format is nobody's to guess; or a skip
    rule declares it no data), so no row is counted; its name (as ``shown``), size and SHA-256
    say which file it was, ``reason`` why it was not read."""
    return SourceAccount(
        shown, "", sha256_file(source.path), source.path.stat().st_size, skipped_whole=reason
    )
