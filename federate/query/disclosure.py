"""Disclosure control for released tables: small cells suppressed, and secondary suppression so
that no suppressed cell can be recovered from the margins or totals.

A released table has key columns (scope, arm, visit …) and measures: counts (patients, events,
scans …) and statistics over the row's patients (means, rates …). Suppression is by row: a row
with any count of 1..K−1 is suppressed whole (primary), so no statistic over fewer than K
patients is shown either. Margins say which rows add up to which (scope 'pooled' is the sum of
the sites; arm 'ALL' the sum of the arms); a relation is kept only where it holds in the data.

Secondary suppression, in two steps repeated until nothing changes:
1. a relation with exactly one suppressed row gets a second one (the unsuppressed part with
   the fewest patients, a total only when no part is left);
2. an audit plays the attacker: for each primary-suppressed count, a linear programme finds
   its least and greatest value over every solution of the published relations. Where they
   differ by less than 1 the cell is pinned, and a row of one of its relations is suppressed.
Tables are first completed (``complete``: a zero row for every combination along each margin),
and zero rows can be chosen as secondary cells, so a hidden row does not even tell that its
count is at least 1: the audit's only bound is that counts are not negative.

Suppressed measures are null and the row's ``suppressed`` column is true; text outputs show
them as ``[c]`` (the UK statistical convention for "confidential"), never as a blank.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.output import MEASURE_META, SUPPRESSED

DEFAULT_MIN_CELL = 5


@dataclass(frozen=True)
class Margin:
    """Rows whose ``dim`` is ``total`` are the sum of the rows with another value of ``dim`` and
    the same other keys; with ``within``, one relation per value of that key among the parts
    (e.g. every breakdown of adverse events adds up to the 'any' row)."""

    dim: str
    total: Any
    within: str | None = None


@dataclass(frozen=True)
class Rule:
    keys: tuple[str, ...]
    n: str  # the row's patient count: drives the choice of secondary cells
    counts: tuple[str, ...]  # every count in the row (n included)
    values: tuple[str, ...] = ()  # statistics over the row's patients
    margins: tuple[Margin, ...] = ()

    def without(self, dim: str) -> Rule:
        return replace(
            self,
            keys=tuple(k for k in self.keys if k != dim),
            margins=tuple(m for m in self.margins if m.dim != dim),
        )


@dataclass
class _Relation:
    total: int
    parts: list[int]
    column: str
    members: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.members = [self.total, *self.parts]


def relations(table: pa.Table, rule: Rule) -> list[_Relation]:
    """Every margin relation that holds, per count column (null counts take no part)."""
    cols = table.to_pydict()
    n_rows = table.num_rows
    found: list[_Relation] = []
    for margin in rule.margins:
        if margin.dim not in cols:
            continue
        others = [k for k in rule.keys if k not in (margin.dim, margin.within) and k in cols]
        groups: dict[tuple[Any, ...], list[int]] = defaultdict(list)
        totals: list[int] = []
        for i in range(n_rows):
            if cols[margin.dim][i] == margin.total:
                totals.append(i)
            else:
                groups[tuple(cols[k][i] for k in others)].append(i)
        for t in totals:
            candidates = groups.get(tuple(cols[k][t] for k in others), [])
            by_part: dict[Any, list[int]] = defaultdict(list)
            for i in candidates:
                within = cols[margin.within][i] if margin.within else None
                if margin.within is None or within != cols[margin.within][t]:
                    by_part[within].append(i)
            for parts in by_part.values():
                for column in rule.counts:
                    values = [cols[column][i] for i in [t, *parts]]
                    if None not in values and values[0] == sum(values[1:]):
                        found.append(_Relation(t, parts, column))
    return found


def complete(table: pa.Table, rule: Rule) -> pa.Table:
    """Add a zero row for every value a margin's dimension takes (within its ``within``
    group) that a row lacks (never a total row), then order rows with each margin's total
    first."""
    rows = table.to_pylist()
    keys = [k for k in rule.keys if k in table.column_names]
    seen = {tuple(r[k] for k in keys) for r in rows}
    margins = [m for m in rule.margins if m.dim in table.column_names]
    changed = True
    while changed:
        changed = False
        for m in margins:
            values: dict[Any, set[Any]] = defaultdict(set)
            for r in rows:
                values[r[m.within] if m.within else None].add(r[m.dim])
            for r in list(rows):
                for v in values[r[m.within] if m.within else None] - {m.total}:
                    new = {**r, m.dim: v}
                    key = tuple(new[k] for k in keys)
                    if key not in seen:
                        seen.add(key)
                        rows.append(_zero(new, rule))
                        changed = True
    if len(rows) == table.num_rows:
        return table  # complete already: keep the order it came in
    totals = {m.dim: m.total for m in margins}

    def order(row: dict[str, Any]) -> tuple[Any, ...]:
        parts: list[Any] = []
        for k in keys:
            v = row[k]
            parts += [k in totals and v != totals[k], v is None, "" if v is None else v]
        return tuple(parts)

    return pa.Table.from_pylist(sorted(rows, key=order), schema=table.schema)


def _zero(row: dict[str, Any], rule: Rule) -> dict[str, Any]:
    return {k: 0 if k in rule.counts else None if k in rule.values else v for k, v in row.items()}


def protect(
    table: pa.Table,
    rule: Rule,
    k: int,
    *,
    forced: np.ndarray | Sequence[bool] | None = None,
    published: np.ndarray | Sequence[bool] | None = None,
) -> np.ndarray:
    """The rows to suppress. ``forced`` rows are suppressed whatever their counts; ``published``
    rows are known to the reader from another release: never chosen, always known."""
    n_rows = table.num_rows
    mask = np.zeros(n_rows, dtype=bool)
    if k <= 1 or n_rows == 0 or not rule.counts:
        return mask
    counts = {c: np.array(table.column(c).to_pylist(), dtype=object) for c in rule.counts}
    primary = np.zeros(n_rows, dtype=bool)
    for values in counts.values():
        primary |= np.array([v is not None and 1 <= v < k for v in values])
    mask |= primary
    if forced is not None:
        mask |= np.asarray(forced, dtype=bool)
    known = np.zeros(n_rows, dtype=bool) if published is None else np.asarray(published, bool)
    mask &= ~known
    rels = relations(table, rule)
    n = np.array([v or 0 for v in counts[rule.n]], dtype=np.int64)
    by_row: dict[int, list[_Relation]] = defaultdict(list)
    for rel in rels:
        for i in rel.members:
            by_row[i].append(rel)
    # Suppressing more only widens what the reader cannot pin: a cell once found safe stays so.
    safe: set[tuple[str, int]] = set()

    def pick(options: list[_Relation]) -> int | None:
        """The unsuppressed row with the fewest patients (zero rows first); totals last."""
        best: tuple[int, int, int] | None = None
        for rel in options:
            for i in rel.members:
                if mask[i] or known[i]:
                    continue
                rank = (int(i == rel.total), int(n[i]), i)
                best = rank if best is None or rank < best else best
        return None if best is None else best[2]

    while True:
        changed = True
        while changed:  # step 1: no relation with a single suppressed row
            changed = False
            for rel in rels:
                if sum(bool(mask[i]) for i in rel.members) == 1:
                    chosen = pick([rel])
                    if chosen is not None:
                        mask[chosen] = changed = True
        added = False
        for i in _pinned(rels, counts, mask, primary & mask, safe):
            chosen = pick(by_row[i])  # step 2: the audit found a recoverable cell
            if chosen is not None:
                mask[chosen] = added = True
        if not added:
            return mask


def _pinned(
    rels: list[_Relation],
    counts: dict[str, np.ndarray],
    mask: np.ndarray,
    sensitive: np.ndarray,
    safe: set[tuple[str, int]],
) -> list[int]:
    """Sensitive suppressed rows whose count some published relation pins (see module doc)."""
    pinned: list[int] = []
    for column in counts:
        col_rels = [r for r in rels if r.column == column and any(mask[i] for i in r.members)]
        for component in _components(col_rels, mask):
            unknowns = sorted({i for r in component for i in r.members if mask[i]})
            targets = [i for i in unknowns if sensitive[i] and (column, i) not in safe]
            found = _audit(component, unknowns, targets, counts[column], mask)
            safe.update((column, i) for i in targets if i not in found)
            pinned += found
    return sorted(set(pinned))


def _audit(
    component: list[_Relation],
    unknowns: list[int],
    targets: list[int],
    values: np.ndarray,
    mask: np.ndarray,
) -> list[int]:
    """The targets (unknowns of one component) whose least and greatest feasible values differ
    by less than 1 (a linear programme each way, stopping once it is wide enough)."""
    from scipy.optimize import linprog  # imported only where suppression needs an audit

    pinned: list[int] = []
    if targets:
        index = {row: j for j, row in enumerate(unknowns)}
        a_eq = np.zeros((len(component), len(unknowns)))
        b_eq = np.zeros(len(component))
        for r_i, rel in enumerate(component):
            for row, sign in [(rel.total, 1.0), *((p, -1.0) for p in rel.parts)]:
                if mask[row]:
                    a_eq[r_i, index[row]] += sign
                else:
                    b_eq[r_i] -= sign * float(values[row])
        for row in targets:
            value = float(values[row])
            c = np.zeros(len(unknowns))
            widths = []
            for sign in (-1.0, 1.0):  # maximise, then minimise
                c[index[row]] = sign
                res = linprog(c, A_eq=a_eq, b_eq=b_eq, bounds=(0, None), method="highs")
                if res.status == 3:  # unbounded: free upwards
                    widths.append(np.inf)
                    break
                widths.append(abs(float(res.fun) - sign * value) if res.success else 0.0)
                if widths[-1] >= 1 - 1e-6:
                    break
            if max(widths) < 1 - 1e-6:
                pinned.append(row)
    return pinned


def _components(rels: list[_Relation], mask: np.ndarray) -> list[list[_Relation]]:
    """Relations grouped by the suppressed rows they share (each group is audited alone)."""
    parent: dict[int, int] = {}

    def find(x: int) -> int:
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for rel in rels:
        hidden = [i for i in rel.members if mask[i]]
        for i in hidden[1:]:
            parent[find(i)] = find(hidden[0])
    groups: dict[int, list[_Relation]] = defaultdict(list)
    for rel in rels:
        groups[find(next(i for i in rel.members if mask[i]))].append(rel)
    return list(groups.values())


def linked_protect(table: pa.Table, rule: Rule, k: int, dim: str, total: Any) -> np.ndarray:
    """Suppression for a table whose ``dim == total`` rows are released on their own too (the
    blinded, pooled-over-arms view): those rows are suppressed exactly as that release does,
    its shown rows are treated as known, and only the other rows are added for protection."""
    slice_rows = np.array([v == total for v in table.column(dim).to_pylist()], dtype=bool)
    alone = protect(table.filter(pa.array(slice_rows)), rule.without(dim), k)
    forced = np.zeros(table.num_rows, dtype=bool)
    forced[np.flatnonzero(slice_rows)[alone]] = True
    return protect(table, rule, k, forced=forced, published=slice_rows & ~forced)


def apply(table: pa.Table, rule: Rule, mask: np.ndarray) -> pa.Table:
    """Null the measures of suppressed rows, mark them, and add the ``suppressed`` column."""
    hide = pa.array(mask, pa.bool_())
    fields, arrays = [], []
    for f, column in zip(table.schema, table.columns, strict=True):
        if f.name in rule.counts or f.name in rule.values:
            column = pc.if_else(hide, pa.scalar(None, f.type), column)
            f = f.with_metadata(MEASURE_META)
        fields.append(f)
        arrays.append(column)
    fields.append(pa.field(SUPPRESSED, pa.bool_(), nullable=False))
    arrays.append(hide)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=table.schema.metadata))


def inferred_rule(table: pa.Table) -> Rule:
    """For an ad-hoc query: integer columns are counts, floating ones statistics, the rest keys;
    a null key is a total over that key (GROUP BY ROLLUP / CUBE), kept where it adds up."""
    keys, counts, values = [], [], []
    for f in table.schema:
        if f.name == SUPPRESSED:
            continue
        if pa.types.is_integer(f.type):
            counts.append(f.name)
        elif pa.types.is_floating(f.type) or pa.types.is_decimal(f.type):
            values.append(f.name)
        else:
            keys.append(f.name)
    n = counts[0] if counts else ""
    margins = tuple(Margin(k, None) for k in keys)
    return Rule(tuple(keys), n, tuple(counts), tuple(values), margins)
