"""The reader of a released table, written apart from federate.query.secondary's audit: an
integer programme over every table of whole counts that agrees with what was shown, adds up
as the query's totals say, and is sorted as the rows are.

Rows come with the set of their keys they are a total over (a ROLLUP's NULL, a label 'ALL'),
known to the test from its own SQL rather than guessed from the released table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp


def relations(
    rows: Sequence[dict[str, Any]], dims: Sequence[str], totals: Sequence[frozenset[str]]
) -> list[tuple[int, list[int]]]:
    """(total, parts): a total over one key is the sum of the rows detailed on it that agree
    on every other key; a total over several keys, of the rows detailed on all of them."""
    found = []
    for t, over in enumerate(totals):
        spans = [frozenset({d}) for d in over] + ([over] if len(over) > 1 else [])
        for span in spans:
            parts = [
                i
                for i, row in enumerate(rows)
                if not (totals[i] & span)
                and all(
                    (e in totals[i]) == (e in over) and (e in over or row[e] == rows[t][e])
                    for e in dims
                    if e not in span
                )
            ]
            if parts:
                found.append((t, parts))
    return found


def pinned(
    values: Sequence[float],
    hidden: Sequence[bool],
    rels: list[tuple[int, list[int]]],
    *,
    k: int = 5,
    order: Sequence[tuple[int, int]] = (),
) -> list[int]:
    """The hidden rows with a count of 1..k-1 that the reader pins to one value. A row of a
    GROUP BY exists, so its count is at least 1 where it is; ``order`` pairs (a, b) say
    count(a) <= count(b)."""
    n = len(values)
    equations = np.zeros((len(rels) + n, n))
    rhs = np.zeros(len(rels) + n)
    for e, (total, parts) in enumerate(rels):
        equations[e, total] = 1
        equations[e, parts] = -1
    for i in range(n):
        if not hidden[i]:
            equations[len(rels) + i, i] = 1
            rhs[len(rels) + i] = values[i]
    constraints = [LinearConstraint(equations, rhs, rhs)]
    if order:
        before = np.zeros((len(order), n))
        for r, (a, b) in enumerate(order):
            before[r, a], before[r, b] = 1, -1
        constraints.append(LinearConstraint(before, -np.inf, 0))
    lower = np.minimum(np.asarray(values, float), 1)
    upper = np.full(n, 10 * (sum(abs(v) for v in values) + 10))  # past any table's reach
    found = []
    for cell in range(n):
        if not hidden[cell] or not 1 <= values[cell] < k:
            continue
        ends = []
        for sign in (1, -1):
            c = np.zeros(n)
            c[cell] = sign
            bounds = Bounds(lower, upper)
            res = milp(c, constraints=constraints, integrality=np.ones(n), bounds=bounds)
            assert res.success, res.message
            ends.append(round(sign * res.fun))
        if ends[0] == ends[1]:
            found.append(cell)
    return found
