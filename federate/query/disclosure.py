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
2. an audit plays the attacker: for each primary-suppressed count, linear programmes look
   for a solution of the published relations that moves it by 1 or more, up or down. Where
   none does, the cell is pinned, and a row of one of its relations is suppressed.
(federate.query.secondary does both, under a deadline, and refuses where the audit cannot
decide or a pinned cell has nothing left to hide it with.) An analysis's tables are first
completed (``complete``: a zero row for every combination along each margin), and zero rows can
be chosen as secondary cells, so a hidden row does not even tell that its count is at least 1:
the audit's only bound is that counts are not negative. An ad-hoc query's result is released
as it came instead (federate.query.release: no row added, none moved).

Suppressed measures are null and the row's ``suppressed`` column is true; text outputs show
them as ``[c]`` (the UK statistical convention for "confidential"), never as a blank.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.output import MEASURE_META, SUPPRESSED
from federate.query.secondary import Cells, Relation, suppress

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


def relations(table: pa.Table, rule: Rule) -> list[Relation]:
    """Every margin relation that holds, per count column (null counts take no part)."""
    cols = table.to_pydict()
    n_rows = table.num_rows
    found: list[Relation] = []
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
                        found.append(Relation(t, parts, column))
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
    if k <= 1 or table.num_rows == 0 or not rule.counts:
        return np.zeros(table.num_rows, dtype=bool)
    counts = {
        c: np.array([np.nan if v is None else v for v in table.column(c).to_pylist()], float)
        for c in rule.counts
    }
    cells = Cells(counts, np.nan_to_num(counts[rule.n]), table.num_rows, relations(table, rule))
    return suppress(cells, k, forced=forced, published=published)


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
    measures = {*rule.counts, *rule.values}
    return hide(table, [i for i, name in enumerate(table.column_names) if name in measures], mask)


def hide(table: pa.Table, measures: Sequence[int], mask: np.ndarray) -> pa.Table:
    """Null the given columns (by position, of any type) on suppressed rows, mark them as
    measures (text outputs show them as [c]) and add the ``suppressed`` column."""
    hidden = pa.array(mask, pa.bool_())
    chosen = set(measures)
    fields, arrays = [], []
    for i, (f, column) in enumerate(zip(table.schema, table.columns, strict=True)):
        if i in chosen:
            try:
                column = pc.if_else(hidden, pa.scalar(None, f.type), column)
            except pa.ArrowNotImplementedError:  # a union: released as its text
                values = column.to_pylist()
                text = [None if v is None else json.dumps(v, default=str) for v in values]
                column = pc.if_else(hidden, pa.scalar(None, pa.string()), pa.array(text))
                f = pa.field(f.name, pa.string())
            f = f.with_metadata(MEASURE_META)
        fields.append(f)
        arrays.append(column)
    fields.append(pa.field(SUPPRESSED, pa.bool_(), nullable=False))
    arrays.append(hidden)
    return pa.Table.from_arrays(arrays, schema=pa.schema(fields, metadata=table.schema.metadata))
