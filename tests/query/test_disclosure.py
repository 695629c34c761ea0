"""Disclosure control: small counts suppressed, and no suppressed cell recoverable from the
totals. The attacks here are written apart from federate.query.disclosure's own audit: a brute-force
enumeration of every table consistent with what was published, and subtraction from totals."""

from __future__ import annotations

import json
import random
from typing import Any

import numpy as np
import pyarrow as pa
import pytest
from scipy.optimize import Bounds, LinearConstraint, milp

from federate.analyses import ANALYSES, run_analysis
from federate.output import MARK, marked
from federate.query.disclosure import Margin, Rule, apply, complete, protect
from federate.query.roles import Role
from tests.bundles import cli
from tests.simulated import Simulated, simulated

__all__ = ["simulated"]

RULE = Rule(
    keys=("scope", "arm"),
    n="patients",
    counts=("patients",),
    margins=(Margin("scope", "pooled"), Margin("arm", "ALL")),
)


def site_by_arm(cells: dict[tuple[str, str], int]) -> pa.Table:
    """A (site x arm) count table with its margins: pooled rows and 'ALL' columns."""
    sites = sorted({s for s, _ in cells})
    arms = sorted({a for _, a in cells})
    rows = []
    for scope in ["pooled", *sites]:
        for arm in ["ALL", *arms]:
            rows.append(
                {
                    "scope": scope,
                    "arm": arm,
                    "patients": sum(
                        v
                        for (s, a), v in cells.items()
                        if scope in ("pooled", s) and arm in ("ALL", a)
                    ),
                }
            )
    return pa.Table.from_pylist(rows)


def feasible_range(table: pa.Table, hidden: list[bool], cell: int) -> tuple[int, int]:
    """The attacker's integer programme: the least and greatest value ``cell`` can take in a
    table of non-negative whole numbers that adds up (pooled = sum of the sites, ALL = sum of
    the arms) and agrees with every shown cell."""
    rows = table.to_pylist()
    n = len(rows)
    index = {(r["scope"], r["arm"]): i for i, r in enumerate(rows)}
    sites = sorted({r["scope"] for r in rows} - {"pooled"})
    arms = sorted({r["arm"] for r in rows} - {"ALL"})
    equations = [(index["pooled", a], [index[s, a] for s in sites]) for a in ["ALL", *arms]] + [
        (index[s, "ALL"], [index[s, a] for a in arms]) for s in ["pooled", *sites]
    ]
    a_eq = np.zeros((len(equations) + n, n))
    b_eq = np.zeros(len(equations) + n)
    for e, (total, parts) in enumerate(equations):
        a_eq[e, total] = 1
        a_eq[e, parts] = -1
    for i, row in enumerate(rows):  # a shown cell is known exactly
        if not hidden[i]:
            a_eq[len(equations) + i, i] = 1
            b_eq[len(equations) + i] = row["patients"]
    bounds = []
    for sign in (1, -1):
        c = np.zeros(n)
        c[cell] = sign
        res = milp(
            c,
            constraints=LinearConstraint(a_eq, b_eq, b_eq),
            integrality=np.ones(n),
            bounds=Bounds(0, np.inf),
        )
        assert res.success, res.message
        bounds.append(round(sign * res.fun))
    return bounds[0], bounds[1]


def test_a_small_cell_cannot_be_recovered_from_the_totals() -> None:
    # Site b gave MSC to 3 patients: shown, pooled MSC - a MSC - c MSC would give the 3 back.
    table = site_by_arm(
        {("a", "MSC"): 12, ("a", "PLA"): 11, ("b", "MSC"): 3, ("b", "PLA"): 9,
         ("c", "MSC"): 8, ("c", "PLA"): 10}
    )  # fmt: skip
    hidden = protect(table, RULE, 5)
    rows = table.to_pylist()
    small = next(i for i, r in enumerate(rows) if (r["scope"], r["arm"]) == ("b", "MSC"))
    assert hidden[small]
    assert sum(hidden) >= 4  # its row and its column each need a second hidden cell
    released = apply(table, RULE, hidden).to_pylist()
    # The attack by subtraction: every total minus the cells shown beside the small one.
    shown = {(r["scope"], r["arm"]): r["patients"] for r in released if not r["suppressed"]}
    by_column = [shown.get(("pooled", "MSC")), shown.get(("a", "MSC")), shown.get(("c", "MSC"))]
    by_row = [shown.get(("b", "ALL")), shown.get(("b", "PLA"))]
    assert None in by_column and None in by_row
    # The attack by integer programming: the hidden cell can take several values.
    low, high = feasible_range(table, list(hidden), small)
    assert low <= 2 and high >= 5
    for i in np.flatnonzero(hidden):
        low, high = feasible_range(table, list(hidden), int(i))
        assert high > low, table.to_pylist()[i]


@pytest.mark.parametrize("seed", range(12))
def test_random_tables_no_small_count_shown_and_nothing_recoverable(seed: int) -> None:
    rng = random.Random(seed)
    cells = {
        (site, arm): rng.choice([0, 1, 2, 3, 4, 6, 9, 14])
        for site in ("a", "b", "c")
        for arm in ("MSC", "PLA")
    }
    table = site_by_arm(cells)
    hidden = protect(table, RULE, 5)
    for row, h in zip(table.to_pylist(), hidden, strict=True):
        assert h or row["patients"] == 0 or row["patients"] >= 5, row
    primary = [i for i, r in enumerate(table.to_pylist()) if 1 <= r["patients"] < 5]
    for i in primary:
        low, high = feasible_range(table, list(hidden), i)
        assert high > low, (cells, table.to_pylist()[i])


def test_min_cell_1_suppresses_nothing_and_k_is_configurable() -> None:
    table = site_by_arm({("a", "MSC"): 3, ("a", "PLA"): 7, ("b", "MSC"): 9, ("b", "PLA"): 9})
    assert not protect(table, RULE, 1).any()
    at_3 = protect(table, RULE, 3)
    at_10 = protect(table, RULE, 10)
    assert at_3.sum() < at_10.sum()


def test_complete_adds_zero_rows_so_a_hidden_row_says_nothing() -> None:
    sparse = pa.Table.from_pylist(
        [
            {"scope": "pooled", "arm": "ALL", "patients": 9},
            {"scope": "pooled", "arm": "MSC", "patients": 9},
            {"scope": "a", "arm": "ALL", "patients": 9},
            {"scope": "a", "arm": "MSC", "patients": 9},
            {"scope": "b", "arm": "ALL", "patients": 0},
            {"scope": "pooled", "arm": "PLA", "patients": 0},
        ]
    )
    full = complete(sparse, RULE).to_pylist()
    assert len(full) == 9
    assert {"scope": "b", "arm": "PLA", "patients": 0} in full
    assert [r["scope"] for r in full][:3] == ["pooled"] * 3  # totals first


def test_suppressed_cells_are_marked_not_blank(capsys: pytest.CaptureFixture[str]) -> None:
    table = site_by_arm({("a", "MSC"): 3, ("a", "PLA"): 7, ("b", "MSC"): 9, ("b", "PLA"): 9})
    released = apply(table, RULE, protect(table, RULE, 5))
    text = marked(released).to_pylist()
    hidden = [r for r in text if r["suppressed"]]
    assert hidden and all(r["patients"] == MARK for r in hidden)
    assert all(r["patients"] != MARK for r in text if not r["suppressed"])


# --- on the trial's analyses -------------------------------------------------------------


def _released_counts(rows: list[dict[str, Any]], counts: tuple[str, ...]) -> list[int]:
    return [r[c] for r in rows if not r["suppressed"] for c in counts if r.get(c) is not None]


@pytest.mark.parametrize("role", list(Role))
@pytest.mark.parametrize("k", [3, 5, 10])
def test_no_released_count_below_k(simulated: Simulated, role: Role, k: int) -> None:
    for analysis in ANALYSES:
        result = run_analysis(analysis.name, simulated.warehouse, role=role, min_cell=k)
        for part, table in result.parts:
            counts = _released_counts(table.to_pylist(), part.rule.counts)
            assert all(c == 0 or c >= k for c in counts), (analysis.name, part.name)
            statistics = [c for c in part.rule.values if c in table.column_names]
            for row in table.to_pylist():
                if row["suppressed"]:  # a hidden row hides its statistics too
                    assert all(row[c] is None for c in statistics), (analysis.name, row)


def test_the_blinded_release_cannot_unlock_the_unblinded_one(simulated: Simulated) -> None:
    """The unblinded table holds the blinded one as its 'ALL' rows, suppressed the same way:
    a reader of both learns nothing from the pair."""
    blinded = run_analysis("safety", simulated.warehouse, role=Role.BLINDED)
    unblinded = run_analysis("safety", simulated.warehouse, role=Role.UNBLINDED)
    keys = ("scope", "breakdown", "category")
    seen = {tuple(r[k] for k in keys): r for r in blinded.part("events").to_pylist()}
    for row in unblinded.part("events").to_pylist():
        if row["arm"] == "ALL":
            twin = seen[tuple(row[k] for k in keys)]
            assert (twin["suppressed"], twin["patients"]) == (row["suppressed"], row["patients"])


def test_cli_marks_suppressed_cells(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["analyses", "run", "safety", "--warehouse", str(simulated.warehouse)]
    code, out, _ = cli(capsys, *args, "--format", "csv")
    assert code == 0 and f",{MARK}," in out
    code, out, _ = cli(capsys, *args)
    assert code == 0 and MARK in out and "suppressed (disclosure control)" in out
    code, out, _ = cli(capsys, *args, "--format", "json")
    rows = [r for p in json.loads(out)["parts"] for r in p["rows"]]
    assert any(r["suppressed"] and r["patients"] is None for r in rows)


def test_query_min_cell_suppresses_with_rollup_totals(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = (
        "SELECT site, sex, count(*) AS patients FROM subjects "
        "GROUP BY ROLLUP (site, sex) ORDER BY ALL"
    )
    wh = str(simulated.warehouse)
    code, out, _ = cli(capsys, "query", sql, "--warehouse", wh, "--format", "json")
    raw = json.loads(out)
    code, out, _ = cli(
        capsys, "query", sql, "--warehouse", wh, "--min-cell", "8", "--format", "json"
    )
    assert code == 0
    released = json.loads(out)
    shown = [r["patients"] for r in released if not r["suppressed"]]
    assert all(n == 0 or n >= 8 for n in shown)
    small = [r for r in raw if 1 <= r["patients"] < 8]
    if small:  # each small cell is hidden, and so is a second cell beside it
        assert sum(r["suppressed"] for r in released) >= 2 * len({r["site"] for r in small})
