"""Primary and secondary suppression over cells and the relations between them, and the audit
that plays the attacker (federate.query.disclosure explains the method).

Cells are a table's rows, then virtual cells: what a reader can compute from a total and the
parts shown beside it when some parts are missing from the table (a WHERE on the keys over a
ROLLUP, a LIMIT). A virtual cell is never shown and never chosen; when its count is small, the
audit protects it like a suppressed row. Where the rows are sorted by a count, the order
bounds hidden counts too (``Cells.order``), and the audit knows it.

Everything runs under the caller's deadline (``Overtime`` past it), and where the audit cannot
decide, or a pinned cell has nothing left to hide it with, the release is refused.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from federate.errors import PrivacyError

_TOLERANCE = 1e-6


class Overtime(Exception):
    """The deadline passed before the table was protected."""


@dataclass
class Relation:
    """Cell ``total`` is the sum of cells ``parts`` in count column ``column``."""

    total: int
    parts: list[int]
    column: str
    members: list[int] = field(init=False)

    def __post_init__(self) -> None:
        self.members = [self.total, *self.parts]


@dataclass
class Cells:
    counts: dict[str, np.ndarray]  # per count column, float, NaN where a cell has none
    n: np.ndarray  # each cell's patients: the fewest are chosen first as secondary cells
    rows: int  # cells from ``rows`` on are virtual
    relations: list[Relation]
    # The reader's least value of each hidden cell, per column (default 0).
    lower: dict[str, np.ndarray] | None = None
    # Per column, pairs (a, b) of rows whose order says count(a) <= count(b) (ORDER BY).
    order: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.n)


def check_time(deadline: float | None) -> None:
    if deadline is not None and time.monotonic() >= deadline:
        raise Overtime


def suppress(
    cells: Cells,
    k: int,
    *,
    forced: np.ndarray | Sequence[bool] | None = None,
    published: np.ndarray | Sequence[bool] | None = None,
    deadline: float | None = None,
) -> np.ndarray:
    """The rows to suppress: primary (a count of 1..k-1), ``forced``, then secondary until the
    audit finds no small count pinned. ``published`` rows are known to the reader from another
    release: never chosen, always known."""
    rows, size = cells.rows, cells.size
    if k <= 1 or rows == 0 or not cells.counts:
        return np.zeros(rows, dtype=bool)
    primary = np.zeros(size, dtype=bool)
    for values in cells.counts.values():
        with np.errstate(invalid="ignore"):
            primary |= (values >= 1) & (values < k)
    mask = primary.copy()
    mask[rows:] = True
    if forced is not None:
        mask[:rows] |= np.asarray(forced, dtype=bool)
    known = np.zeros(size, dtype=bool)
    if published is not None:
        known[:rows] = np.asarray(published, dtype=bool)
    mask &= ~known
    chooser = _Chooser(cells, mask, known)
    safe: set[tuple[str, int]] = set()  # widening the hidden set never pins a safe cell again
    while True:
        chooser.pair_up(primary, deadline)
        added, stuck = False, False
        for i, value in _pinned(cells, mask, primary & mask, safe, deadline).items():
            # step 2: the audit found a recoverable cell; hide a cell beside it, else one
            # further along the relations that pin it.
            chosen = chooser.pick(chooser.beside[i])
            if chosen is None and value == 0:  # a zero pinned tells no small count
                continue
            if chosen is None:
                chosen = chooser.pick(_reach(i, chooser.beside, mask))
            if chosen is None:
                stuck = True  # unless a cell hidden for another one frees it (audited again)
                continue
            mask[chosen] = added = True
        if stuck and not added:
            raise PrivacyError(
                "refused: a small count could be recovered from the totals, and no cell is "
                "left to suppress beside it; nothing was released",
                code="min-cell-unprotectable",
            )
        if not added:
            return mask[:rows]


_Options = list[tuple[np.ndarray, np.ndarray]]  # candidate cells, and which are totals


class _Chooser:
    """Chooses secondary cells, hiding them in ``mask`` (shared with the caller)."""

    def __init__(self, cells: Cells, mask: np.ndarray, known: np.ndarray) -> None:
        self.cells, self.mask, self.known = cells, mask, known
        self.members = [np.asarray(rel.members, dtype=np.int64) for rel in cells.relations]
        # What may hide a pinned cell: the other members of its relations (totals last), and
        # its neighbours in an ORDER BY.
        self.beside: dict[int, _Options] = defaultdict(list)
        for m in self.members:
            for i in m.tolist():
                self.beside[i].append((m, np.arange(len(m)) == 0))
        for pairs in cells.order.values():
            for a, b in pairs.tolist():
                self.beside[a].append((np.array([b]), np.zeros(1, bool)))
                self.beside[b].append((np.array([a]), np.zeros(1, bool)))

    def pick(self, options: _Options) -> int | None:
        """The unsuppressed cell with the fewest patients (zero rows first); totals last."""
        best: tuple[int, float, int] | None = None
        for cand, totals in options:
            free = ~self.mask[cand] & ~self.known[cand]
            if not free.any():
                continue
            cand, totals = cand[free], totals[free]
            j = np.lexsort((cand, self.cells.n[cand], totals))[0]
            rank = (int(totals[j]), float(self.cells.n[cand[j]]), int(cand[j]))
            best = rank if best is None or rank < best else best
        return None if best is None else best[2]

    def pair_up(self, primary: np.ndarray, deadline: float | None) -> None:
        """Step 1: no relation with a single suppressed cell (but a virtual cell that is not
        small: the reader may compute such a gap)."""
        changed = True
        while changed:
            check_time(deadline)
            changed = False
            for m in self.members:
                hidden = m[self.mask[m]]
                if len(hidden) == 1 and (hidden[0] < self.cells.rows or primary[hidden[0]]):
                    chosen = self.pick([(m, np.arange(len(m)) == 0)])
                    if chosen is not None:
                        self.mask[chosen] = changed = True


def _reach(start: int, beside: dict[int, _Options], mask: np.ndarray) -> _Options:
    """Every relation and order pair reached from ``start`` through hidden cells."""
    seen, pending = {start}, [start]
    options: _Options = []
    while pending:
        for cand, totals in beside[pending.pop()]:
            options.append((cand, totals))
            for i in cand[mask[cand]].tolist():
                if i not in seen:
                    seen.add(i)
                    pending.append(i)
    return options


def _pinned(
    cells: Cells,
    mask: np.ndarray,
    sensitive: np.ndarray,
    safe: set[tuple[str, int]],
    deadline: float | None,
) -> dict[int, float]:
    """Sensitive hidden cells whose count the published relations (and order) pin, each
    with the largest value pinned (a zero tells no small count)."""
    pinned: dict[int, float] = {}
    for column, values in cells.counts.items():
        rels = [r for r in cells.relations if r.column == column and mask[r.members].any()]
        pairs = cells.order.get(column, np.zeros((0, 2), np.int64))
        lower = np.zeros(cells.size) if cells.lower is None else cells.lower[column].copy()
        upper = np.full(cells.size, np.inf)
        # An order pair with one side shown bounds the other; with both hidden, it links them.
        for a, b in pairs[mask[pairs[:, 1]] & ~mask[pairs[:, 0]]]:
            lower[b] = max(lower[b], values[a])
        for a, b in pairs[mask[pairs[:, 0]] & ~mask[pairs[:, 1]]]:
            upper[a] = min(upper[a], values[b])
        linked = pairs[mask[pairs[:, 0]] & mask[pairs[:, 1]]]
        audited: set[int] = set()
        for component, links in _components(rels, linked, mask):
            unknowns = sorted(
                {i for r in component for i in r.members if mask[i]} | set(links.ravel().tolist())
            )
            audited.update(unknowns)
            targets = [i for i in unknowns if sensitive[i] and (column, i) not in safe]
            problem = _Problem(component, links, unknowns, values, lower, upper, mask)
            found = _audit(problem, targets, deadline)
            safe.update((column, i) for i in targets if i not in found)
            for i in found:
                pinned[i] = max(pinned.get(i, 0.0), abs(float(values[i])))
        # A hidden cell in no relation: only its bounds could pin it.
        for i in np.flatnonzero(sensitive & ~np.isnan(values)).tolist():
            if i not in audited and (column, i) not in safe:
                if max(values[i] - lower[i], upper[i] - values[i]) < 1 - _TOLERANCE:
                    pinned[i] = max(pinned.get(i, 0.0), abs(float(values[i])))
                else:
                    safe.add((column, i))
    return dict(sorted(pinned.items()))


@dataclass
class _Problem:
    """The linear programme of one component: relations as equations, order as inequalities."""

    relations: list[Relation]
    links: np.ndarray  # (a, b) pairs of hidden cells: count(a) <= count(b)
    unknowns: list[int]
    values: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    mask: np.ndarray


def _audit(problem: _Problem, targets: list[int], deadline: float | None) -> list[int]:
    """The targets no solution of the published relations moves by 1 or more, either way. A
    programme pushing every open target at once settles most of them; the rest get one each
    way, and any solution found clears every target it moves by 1."""
    if not targets:
        return []
    from scipy.sparse import coo_matrix  # imported only where suppression needs an audit

    unknowns, values, mask = problem.unknowns, problem.values, problem.mask
    index = {row: j for j, row in enumerate(unknowns)}
    entries: list[tuple[int, int, float]] = []
    b_eq = np.zeros(len(problem.relations))
    for r_i, rel in enumerate(problem.relations):
        for row, sign in [(rel.total, 1.0), *((p, -1.0) for p in rel.parts)]:
            if mask[row]:
                entries.append((r_i, index[row], sign))
            else:
                b_eq[r_i] -= sign * float(values[row])
    shape = (len(problem.relations), len(unknowns))
    a_eq = _sparse(coo_matrix, entries, shape)
    links = [(r, index[int(a)], index[int(b)]) for r, (a, b) in enumerate(problem.links)]
    a_ub = _sparse(
        coo_matrix,
        [(r, j, s) for r, ja, jb in links for j, s in ((ja, 1.0), (jb, -1.0))],
        (len(links), len(unknowns)),
    )
    bounds = [
        (
            None if np.isinf(problem.lower[u]) else float(problem.lower[u]),
            None if np.isinf(problem.upper[u]) else float(problem.upper[u]),
        )
        for u in unknowns
    ]
    truth = np.array([float(values[u]) for u in unknowns])
    lp = _LP(a_eq, b_eq, a_ub, np.zeros(len(links)), bounds, deadline, integer=bool(links))
    linked = {j for _, ja, jb in links for j in (ja, jb)}
    open_ = set(targets) - _swappable(entries, truth, bounds, linked, unknowns)

    def settle(weights: dict[int, float]) -> bool:
        """Minimise sum(weight * count); False when it is unbounded."""
        c = np.zeros(len(unknowns))
        for target, weight in weights.items():
            c[index[target]] = weight
        x = lp.solve(c)
        if x is None:
            return False
        moved = np.abs(x - truth) >= 1 - _TOLERANCE
        open_.difference_update(unknowns[j] for j in np.flatnonzero(moved))
        return True

    # Push every open target up, then down, then in random mixes while that settles some.
    signs = np.random.default_rng(0)
    for round_ in range(10):
        before = len(open_)
        if before < 2:
            break
        if round_ < 2:
            settle(dict.fromkeys(sorted(open_), 1.0 - 2 * (round_ == 0)))
        else:
            settle({t: float(signs.choice([-1.0, 1.0])) for t in sorted(open_)})
            if len(open_) == before:
                break
    pinned: list[int] = []
    for target in targets:
        for sign in (-1.0, 1.0):  # maximise, then minimise
            if target not in open_:
                break
            if not settle({target: sign}):  # unbounded: free upwards
                open_.discard(target)
        if target in open_:
            pinned.append(target)
            open_.discard(target)
    return pinned


def _swappable(
    entries: list[tuple[int, int, float]],
    truth: np.ndarray,
    bounds: list[tuple[float | None, float | None]],
    linked: set[int],
    unknowns: list[int],
) -> set[int]:
    """Cells that one more and one fewer in a twin (a hidden cell in exactly the same
    relations, with the same signs, under no order) moves by 1 within bounds: no programme
    needed. Two hidden parts of one total and of nothing else are the common case."""
    terms: dict[int, list[tuple[int, float]]] = defaultdict(list)
    for r, j, sign in entries:
        terms[j].append((r, sign))
    twins: dict[tuple[tuple[int, float], ...], list[int]] = defaultdict(list)
    for j, signature in terms.items():
        if j not in linked:
            twins[tuple(sorted(signature))].append(j)
    found: set[int] = set()
    for group in twins.values():
        if len(group) < 2:
            continue
        low = [truth[j] - (-np.inf if bounds[j][0] is None else bounds[j][0]) >= 1 for j in group]
        high = [(np.inf if bounds[j][1] is None else bounds[j][1]) - truth[j] >= 1 for j in group]
        for n, j in enumerate(group):
            up = high[n] and sum(low) - low[n] >= 1  # j up, a twin down
            down = low[n] and sum(high) - high[n] >= 1
            if up or down:
                found.add(unknowns[j])
    return found


def _sparse(coo: type, entries: list[tuple[int, int, float]], shape: tuple[int, int]) -> object:
    rows, cols, data = zip(*entries, strict=True) if entries else ((), (), ())
    return coo((data, (rows, cols)), shape=shape).tocsr()


@dataclass
class _LP:
    a_eq: object
    b_eq: np.ndarray
    a_ub: object
    b_ub: np.ndarray
    bounds: list[tuple[float | None, float | None]]
    deadline: float | None
    # Counts are whole: under an order's inequalities a continuous optimum can move a cell
    # that no whole table can (a CUBE sorted by its count pinned a 1 the LP called free).
    integer: bool = False

    def solve(self, c: np.ndarray) -> np.ndarray | None:
        """A solution, or None when unbounded. Past the deadline: Overtime; any other
        failure: refused (an audit that cannot decide releases nothing)."""
        from scipy.optimize import linprog

        options: dict[str, float] = {}
        if self.deadline is not None:
            check_time(self.deadline)
            options["time_limit"] = max(self.deadline - time.monotonic(), 0.01)
        ub = {"A_ub": self.a_ub, "b_ub": self.b_ub} if len(self.b_ub) else {}
        eq = {"A_eq": self.a_eq, "b_eq": self.b_eq} if len(self.b_eq) else {}
        whole = {"integrality": np.ones(len(c))} if self.integer else {}
        res = linprog(c, **eq, **ub, bounds=self.bounds, method="highs", options=options, **whole)
        if res.status == 0:
            return np.asarray(res.x)
        if res.status == 3:
            return None
        check_time(self.deadline)
        raise PrivacyError(
            f"refused: the suppression audit could not decide ({res.message}); nothing was "
            "released",
            code="min-cell-unaudited",
        )


def _components(
    rels: list[Relation], links: np.ndarray, mask: np.ndarray
) -> list[tuple[list[Relation], np.ndarray]]:
    """Relations and order links grouped by the hidden cells they share (each group is
    audited alone)."""
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
    for a, b in links:
        parent[find(int(a))] = find(int(b))
    groups: dict[int, list[Relation]] = defaultdict(list)
    for rel in rels:
        groups[find(next(i for i in rel.members if mask[i]))].append(rel)
    by_root: dict[int, list[int]] = defaultdict(list)
    for n, (a, _) in enumerate(links):
        by_root[find(int(a))].append(n)
    roots = list(dict.fromkeys([*groups, *by_root]))
    return [(groups.get(r, []), links[by_root.get(r, [])].reshape(-1, 2)) for r in roots]
