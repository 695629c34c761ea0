"""Every check an ingest makes, counted: the rows each one looked at and the rows that failed it,
grouped by the categories of Kahn et al.'s harmonised data-quality terminology (conformance,
completeness, plausibility), as OHDSI's DataQualityDashboard groups its checks.

The checks are the schema's own declaration (each column's nullability, code list, bounds and
pattern; each table's key) plus whatever the run found that the declaration does not name (a
date the parser could not read, an unknown visit code): a check that failed is never missing
from the table because it was not declared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from federate.schema import Column, Schema, Table

CONFORMANCE = "conformance"
COMPLETENESS = "completeness"
PLAUSIBILITY = "plausibility"
CATEGORIES = (CONFORMANCE, COMPLETENESS, PLAUSIBILITY)

# Where each reason code belongs (Kahn 2016): values that do not fit the declared form are
# conformance, missing values completeness, values that cannot or should not be true
# (impossible, implausible, duplicated) plausibility.
_CATEGORY = {
    "required-missing": COMPLETENESS,
    "optional-column-absent": COMPLETENESS,
    "missing-column": COMPLETENESS,
    "out-of-range": PLAUSIBILITY,
    "implausible": PLAUSIBILITY,
    "conflicting-key": PLAUSIBILITY,
    "exact-duplicate": PLAUSIBILITY,
    "outside-visit-windows": PLAUSIBILITY,
    "no-baseline-visit": PLAUSIBILITY,
}
# A hard rule quarantines every failing row: any failure fails the check. A soft rule only
# warns: the check fails when more than this share of its rows is implausible.
HARD_THRESHOLD = 0.0
SOFT_THRESHOLD = 5.0
# Rows held back because their patient's own row was quarantined: a consequence, not a check.
FOLLOW_ON = "parent-quarantined"
CHECKED_THEN_SKIPPED = "exact-duplicate"


def category(reason: str) -> str:
    return _CATEGORY.get(reason, CONFORMANCE)


@dataclass(frozen=True)
class Check:
    """One check of one table (and column, when it is a column's), with its counts."""

    category: str
    table: str
    column: str  # the shared column; "" for a check of whole rows
    reason: str  # the stable reason code the quarantine and warnings use
    rule: str  # in words
    severity: str  # error (quarantines) or warning
    rows_checked: int
    rows_failing: int

    @property
    def threshold(self) -> float:
        return SOFT_THRESHOLD if self.severity == "warning" else HARD_THRESHOLD

    @property
    def pct_failing(self) -> float:
        return 100.0 * self.rows_failing / self.rows_checked if self.rows_checked else 0.0

    @property
    def passed(self) -> bool:
        return self.pct_failing <= self.threshold

    def to_json(self) -> dict[str, Any]:
        return {
            "category": self.category,
            "table": self.table,
            "column": self.column,
            "reason": self.reason,
            "rule": self.rule,
            "severity": self.severity,
            "threshold_pct": self.threshold,
            "rows_checked": self.rows_checked,
            "rows_failing": self.rows_failing,
            "pct_failing": round(self.pct_failing, 2),
            "passed": self.passed,
        }


Key = tuple[str, str, str]  # table, shared column ("" for none), reason


def declared(table: Table) -> list[tuple[str, str, str, str]]:
    """(shared column, reason, rule in words, severity) of every check the schema declares."""
    out = []
    for col in table.own_columns:
        out += _column_checks(col)
    if table.key:
        keyed = ", ".join(table.key)
        out.append(("", "exact-duplicate", f"no row repeated ({keyed})", "error"))
        out.append(("", "conflicting-key", f"one row per {keyed}", "error"))
    return out


def _column_checks(col: Column) -> list[tuple[str, str, str, str]]:
    out = []
    if col.required:
        out.append((col.name, "required-missing", f"{col.name} is required", "error"))
    if col.codes is not None:
        listed = ", ".join(str(c) for c in col.codes)
        out.append((col.name, "not-in-code-list", f"one of {listed}", "error"))
    if col.min is not None or col.max is not None:
        out.append((col.name, "out-of-range", _bounds(col.min, col.max), "error"))
    if col.pattern is not None:
        out.append((col.name, "bad-format", f"matches {col.pattern}", "error"))
    if col.warn_min is not None or col.warn_max is not None:
        out.append((col.name, "implausible", _bounds(col.warn_min, col.warn_max), "warning"))
    return out


def _bounds(low: object, high: object) -> str:
    if low is not None and high is not None:
        return f"between {low} and {high}"
    return f">= {low}" if low is not None else f"<= {high}"


def run_checks(
    schema: Schema,
    rows_checked: Mapping[str, int],
    failing: Mapping[Key, int],
    observed_rules: Mapping[Key, tuple[str, str]],
) -> list[Check]:
    """Every declared check of every table the run read, with its failing rows, then every
    check that failed without being declared (``observed_rules``: its rule and severity)."""
    checks: list[Check] = []
    seen: set[Key] = set()
    for table in schema:
        if table.name not in rows_checked:
            continue
        for column, reason, rule, severity in declared(table):
            key = (table.name, column, reason)
            seen.add(key)
            n = rows_checked[table.name]
            checks.append(Check(category(reason), *key, rule, severity, n, failing.get(key, 0)))
    for key in sorted(set(failing) - seen):
        if key[2] == FOLLOW_ON:
            continue
        rule, severity = observed_rules.get(key, (key[2], "error"))
        n = rows_checked.get(key[0], failing[key])
        checks.append(Check(category(key[2]), *key, rule, severity, n, failing[key]))
    return sorted(checks, key=lambda c: (CATEGORIES.index(c.category), c.table, c.column))


def rows_checked_per_table(sources: Iterable[Mapping[str, Any]]) -> dict[str, int]:
    """Rows each table's checks looked at: every row read, less those skipped with a declared
    reason before any check (screen failures, deletions); a duplicate was checked, then kept
    once."""
    rows: dict[str, int] = {}
    for source in sources:
        if source.get("table") and not source.get("skipped_whole"):
            checked_first = source.get("skipped_reasons", {}).get(CHECKED_THEN_SKIPPED, 0)
            seen = source["rows_read"] - source["rows_skipped"] + checked_first
            rows[source["table"]] = rows.get(source["table"], 0) + seen
    return rows
