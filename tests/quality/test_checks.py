"""Checks: every declared one counted, a failure the declaration does not name still listed,
Kahn's categories, and the thresholds that decide pass or fail."""

from __future__ import annotations

from federate.adapters import registry
from federate.quality.checks import COMPLETENESS, CONFORMANCE, PLAUSIBILITY, run_checks


def test_every_declared_check_of_a_table_read_is_listed_and_others_are_not() -> None:
    checks = run_checks(registry.schema(), {"edss": 10}, {}, {})
    assert {c.table for c in checks} == {"edss"}
    kinds = {(c.column, c.reason) for c in checks}
    assert ("edss", "not-in-code-list") in kinds and ("edss", "implausible") in kinds
    assert ("visit_code", "required-missing") in kinds
    assert all(c.passed and c.rows_checked == 10 for c in checks)


def test_a_failure_nothing_declared_is_still_a_check() -> None:
    failing = {("edss", "assessment_date", "invalid-date"): 2}
    rules = {("edss", "assessment_date", "invalid-date"): ("a real date", "error")}
    checks = run_checks(registry.schema(), {"edss": 10}, failing, rules)
    (date,) = [c for c in checks if c.reason == "invalid-date"]
    assert (date.category, date.rows_failing, date.passed) == (CONFORMANCE, 2, False)
    assert date.pct_failing == 20.0


def test_categories_and_thresholds() -> None:
    failing = {("edss", "edss", "implausible"): 1, ("edss", "visit_code", "required-missing"): 1}
    checks = {(c.column, c.reason): c for c in run_checks(registry.schema(), {"edss": 100},
                                                          failing, {})}  # fmt: skip
    soft = checks[("edss", "implausible")]
    assert (soft.category, soft.severity, soft.passed) == (PLAUSIBILITY, "warning", True)  # 1%
    hard = checks[("visit_code", "required-missing")]
    assert (hard.category, hard.passed) == (COMPLETENESS, False)  # any failing row fails


def test_follow_on_rows_are_not_a_check() -> None:
    failing = {("edss", "", "parent-quarantined"): 3}
    assert not [c for c in run_checks(registry.schema(), {"edss": 5}, failing, {})
                if c.reason == "parent-quarantined"]  # fmt: skip
