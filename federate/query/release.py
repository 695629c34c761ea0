"""An ad-hoc query's result released as a table (``federate query --min-cell K``).

Its shape (federate.query.shape) says which columns are keys; every other column is a measure,
hidden on a suppressed row whatever its type (dates, text, lists ...). A measure is a count when
its values are: an integer column, or a decimal, floating or text column whose every value is a
whole number. ``sum()`` of integers comes back as a decimal and ``count(*)::DOUBLE`` as a
float: both are counts. A statistic wrongly taken for a count is only suppressed more; a count
taken for a statistic would be released.

The grid the keys make gives the relations secondary suppression must respect:
- a total over a dimension, marked by the query itself (a ROLLUP / CUBE row, a UNION ALL
  branch's constant where other branches group by the column) is the sum of the detail rows
  that agree on every other dimension, plus what is missing from the table (a virtual cell);
- any row whose count is the sum of the other detail rows that agree on every other dimension
  is a total too, whatever its label (an arm 'ALL' read from the data);
- rows with the same keys and the same count are one cell shown twice.
Rows are never added, removed or moved: the result keeps the query's order.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.query.disclosure import hide
from federate.query.secondary import Cells, Relation, check_time, suppress
from federate.query.shape import ALL, DETAIL, ROLLED_UP, Shape, refuse

_WHOLE_TEXT = r"^\s*[+-]?[0-9]+\s*$"
_EXACT = 2.0**53  # beyond, a float64 no longer holds every whole number


def release(
    table: pa.Table, shape: Shape, names: Sequence[str], k: int, deadline: float | None
) -> pa.Table:
    """The query's own columns, renamed ``names``, with small counts suppressed."""
    own = table.select(list(range(shape.width))).rename_columns(list(names))
    labels = set(shape.labels)
    label_names = {names[j].lower() for j in labels}
    read = sorted(set(shape.filters) - label_names)
    if read:
        raise refuse(
            f"a WHERE or QUALIFY over the aggregates reads {', '.join(read)}: the reader would "
            "know bounds of what is suppressed; leave small counts to --min-cell"
        )
    measures = [j for j in range(shape.width) if j not in labels]
    counts: dict[str, np.ndarray] = {}
    for j in measures:
        values = count_values(own.column(j))
        if values is not None:
            counts[f"#{j}"] = values
    mask = np.zeros(table.num_rows, dtype=bool)
    if counts and k > 1 and table.num_rows:
        cells = grid_cells(table, shape, counts)
        cells.order = _order_pairs(own, _order_keys(shape, names), counts)
        if shape.limited and cells.order and cells.size > cells.rows:
            raise refuse("a LIMIT on a table sorted by a count, with totals of rows it leaves out")
        check_time(deadline)
        mask = suppress(cells, k, deadline=deadline)
    return hide(own, measures, mask)


def _order_keys(shape: Shape, names: Sequence[str]) -> list[tuple[int | None, bool]]:
    """The ORDER BY keys as positions of the query's columns (None: not shown)."""
    lookup: dict[str, int] = {}
    for j, name in enumerate(names):
        lookup.setdefault(name.lower(), j)
    keys: list[tuple[int | None, bool]] = []
    for key, descending in shape.order:
        if key == ALL:
            keys += [(j, descending) for j in range(shape.width)]
        elif isinstance(key, str):
            keys.append((lookup.get(key), descending))
        elif isinstance(key, int) and 0 <= key < shape.width:
            keys.append((key, descending))
        else:
            keys.append((None, descending))
    return keys


def _order_pairs(
    own: pa.Table, keys: list[tuple[int | None, bool]], counts: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """What the row order tells of counts: for consecutive rows tied on the keys before it, a
    count key is sorted (count(a) <= count(b) for each pair). Rows tied in truth are taken as
    tied for the reader too, who is then told more than the order says: a safe mistake."""
    if own.num_rows < 2:
        return {}
    first = np.arange(own.num_rows - 1)
    tied = np.ones(len(first), dtype=bool)
    pairs: dict[str, np.ndarray] = {}
    for position, descending in keys:
        if position is None or not tied.any():
            break
        values = counts.get(f"#{position}")
        if values is not None:
            low, high = (first + 1, first) if descending else (first, first + 1)
            # Null counts sort apart, and text ones as text: only pairs that hold are kept.
            with np.errstate(invalid="ignore"):
                ok = tied & (values[low] <= values[high])
            found = np.stack([low[ok], high[ok]], axis=1)
            before = pairs.get(f"#{position}", np.zeros((0, 2), np.int64))
            pairs[f"#{position}"] = np.concatenate([before, found])
        codes = _value_codes(own.column(position))
        tied &= codes[:-1] == codes[1:]
    return {c: p for c, p in pairs.items() if len(p)}


def count_values(column: pa.ChunkedArray) -> np.ndarray | None:
    """A measure's values as floats (NaN for null) when it is a count, else None."""
    kind = column.type
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        if pc.all(pc.match_substring_regex(column, _WHOLE_TEXT)).as_py() is False:
            return None
        column = pc.utf8_trim_whitespace(column)
    elif not (pa.types.is_integer(kind) or pa.types.is_decimal(kind) or pa.types.is_floating(kind)):
        return None
    values = np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), float)
    present = values[~np.isnan(values)]
    if not (np.isfinite(present).all() and (present == np.floor(present)).all()):
        return None
    if (np.abs(present) > _EXACT).any():
        raise refuse("a count too large to add up exactly")
    return values


def grid_cells(table: pa.Table, shape: Shape, counts: dict[str, np.ndarray]) -> Cells:
    """The result's rows as cells, with every relation its grid gives (see module doc)."""
    codes, markers = _codes(table, shape)
    grid = _Grid(table.num_rows, {c: np.nan_to_num(v) for c, v in counts.items()})
    for d in range(codes.shape[1]):
        grid.along(codes, markers, d)
    grid.across(codes, markers)
    grid.copies(codes)
    return grid.cells()


def _codes(table: pa.Table, shape: Shape) -> tuple[np.ndarray, np.ndarray]:
    """Per row and dimension, an integer for (value, marker) and the marker itself; a table
    without dimensions has one that is the same on every row."""
    rows = table.num_rows
    if not shape.dims:
        return np.zeros((rows, 1), np.int64), np.zeros((rows, 1), np.int64)
    codes = np.empty((rows, len(shape.dims)), np.int64)
    markers = np.zeros((rows, len(shape.dims)), np.int64)
    for d, (position, marker) in enumerate(zip(shape.dims, shape.markers, strict=True)):
        if marker is not None:
            column = table.column(marker).fill_null(0)
            markers[:, d] = np.asarray(column.to_numpy(zero_copy_only=False), np.int64)
        codes[:, d] = (_value_codes(table.column(position)) + 1) * 3 + markers[:, d]
    return codes, markers


def _value_codes(column: pa.ChunkedArray) -> np.ndarray:
    """One integer per distinct value (-1 for null)."""
    array = column.combine_chunks()
    if pa.types.is_dictionary(array.type):
        array = array.cast(array.type.value_type)
    try:
        encoded = pc.dictionary_encode(array)
    except pa.ArrowNotImplementedError:  # lists, structs: by their text (rare, small)
        texts = [None if v is None else json.dumps(v, default=str) for v in array.to_pylist()]
        encoded = pc.dictionary_encode(pa.array(texts, pa.string()))
    indices = encoded.indices.fill_null(-1)
    return np.asarray(indices.to_numpy(zero_copy_only=False), np.int64)


def _groups(keys: np.ndarray) -> np.ndarray:
    """A group number per row: rows with equal keys share one."""
    if keys.shape[1] == 0:
        return np.zeros(keys.shape[0], np.int64)
    _, inverse = np.unique(keys, axis=0, return_inverse=True)
    return np.asarray(inverse, np.int64).reshape(-1)


class _Grid:
    """Relations found so far, and the virtual cells they need."""

    def __init__(self, rows: int, values: dict[str, np.ndarray]) -> None:
        self.rows = rows
        self.values = values
        self.negative = {c: bool((v < 0).any()) for c, v in values.items()}
        self.relations: list[Relation] = []
        self.virtual: list[dict[str, float]] = []

    def along(self, codes: np.ndarray, markers: np.ndarray, d: int) -> None:
        """Totals over dimension ``d``: rows marked as such, and rows that add up."""
        group = _groups(np.delete(codes, d, axis=1))
        detail = np.flatnonzero(markers[:, d] == DETAIL)
        parts = _members(group, detail)
        for column, values in self.values.items():
            sums = np.bincount(group[detail], weights=values[detail], minlength=group.max() + 1)
            with_others = np.isin(group[detail], [g for g, p in parts.items() if len(p) >= 2])
            found = detail[with_others & (values[detail] != 0)]
            found = found[2 * values[found] == sums[group[found]]]
            for t in found:
                rest = [int(i) for i in parts[int(group[t])] if i != t]
                self.relations.append(Relation(int(t), rest, column))
        for t in np.flatnonzero(markers[:, d] != DETAIL):
            members = parts.get(int(group[t]))
            if members is not None:
                self.total(int(t), members, bool(markers[t, d] == ROLLED_UP))

    def across(self, codes: np.ndarray, markers: np.ndarray) -> None:
        """Totals over several dimensions at once (a grand total in GROUPING SETS ((a, b), ())):
        the sum of the rows detailed on all of them."""
        marked = markers != DETAIL
        for pattern in np.unique(marked[marked.sum(axis=1) >= 2], axis=0):
            group = _groups(codes[:, ~pattern])
            detail = np.flatnonzero(~marked[:, pattern].any(axis=1))
            parts = _members(group, detail)
            for t in np.flatnonzero((marked == pattern).all(axis=1)):
                members = parts.get(int(group[t]))
                if members is not None:
                    rolled = bool((markers[t, pattern] == ROLLED_UP).all())
                    self.total(int(t), members, rolled)

    def copies(self, codes: np.ndarray) -> None:
        """Rows with the same keys and the same count: one cell shown twice."""
        group = _groups(codes)
        for column, values in self.values.items():
            order = np.lexsort((values, group))
            same = (group[order][1:] == group[order][:-1]) & (
                values[order][1:] == values[order][:-1]
            )
            for a, b in zip(order[:-1][same], order[1:][same], strict=True):
                if values[a] != 0:
                    self.relations.append(Relation(int(a), [int(b)], column))

    def total(self, t: int, parts: list[int], rolled: bool) -> None:
        """Row ``t`` is a total of ``parts`` and of whatever the table leaves out: in each
        column where that gap is possible (not negative, for a count that never is)."""
        gaps: dict[str, float] = {}
        for column, values in self.values.items():
            gap = float(values[t] - values[parts].sum())
            signed = self.negative[column]  # a sum of changes, say: any gap if a known total
            if gap == 0 or (gap > 0 and not signed) or (rolled and signed):
                gaps[column] = gap
        if any(gap != 0 for gap in gaps.values()):
            parts = [*parts, self.rows + len(self.virtual)]
            self.virtual.append(gaps)
        for column in gaps:
            self.relations.append(Relation(t, parts, column))

    def cells(self) -> Cells:
        counts: dict[str, np.ndarray] = {}
        lower: dict[str, np.ndarray] = {}
        for column, values in self.values.items():
            gaps = np.array([g.get(column, np.nan) for g in self.virtual], float)
            every = np.concatenate([values, gaps])
            counts[column] = every
            # A row of a GROUP BY has at least one patient: the reader knows a hidden count is
            # at least 1 where it is (no zero rows are added here to blur that).
            floor = np.minimum(np.nan_to_num(every), 1.0)
            lower[column] = np.full(len(every), -np.inf) if self.negative[column] else floor
        first = next(iter(self.values.values()))
        n = np.concatenate([first, np.zeros(len(self.virtual))])
        return Cells(counts, n, self.rows, self.relations, lower)


def _members(group: np.ndarray, rows: np.ndarray) -> dict[int, list[int]]:
    """The given rows of each group, in row order."""
    if len(rows) == 0:
        return {}
    order = rows[np.argsort(group[rows], kind="stable")]
    cuts = np.flatnonzero(np.diff(group[order])) + 1
    return {int(group[chunk[0]]): [int(i) for i in chunk] for chunk in np.split(order, cuts)}
