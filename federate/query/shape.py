"""What a query's result is as a table to release (``federate query --min-cell``): which of its
columns are keys and which are measures, and the grid the keys make. It is read from DuckDB's
own syntax tree (federate.query.sqltree), never guessed from a column's type.

Understood: an aggregating SELECT (GROUP BY, with or without ROLLUP / CUBE / GROUPING SETS, or
no GROUP BY at all); a UNION ALL of them; and ``SELECT * FROM`` one of those (a subquery or a
CTE), filtered, ordered or limited. Anything else is refused rather than released: where the
grid is unknown, no audit can say which totals give a cell back.

In an aggregating SELECT a column is a key (a label, shown on a suppressed row) when it is a
GROUP BY expression, a constant, or a function of GROUP BY expressions only; every other column
is a measure. The grid's dimensions are the GROUP BY expressions (one no column shows as itself
is fetched as an extra column) and, in a UNION ALL, every key column. The result alone cannot
tell a ROLLUP's NULL from a NULL key, nor a branch's constant ('ALL') from a value: the query is
then rewritten to append a marker per dimension - GROUPING(expr), 1 where the row is a total over
it; 2 where a branch puts a constant in a column that other branches group by (a stand-in for
all values) - and the extra columns are dropped before release.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace
from typing import Any

from federate.errors import PrivacyError
from federate.query.sqltree import functions, sql_of, syntax_tree

GROUP, CONSTANT, DERIVED, MEASURE = "group", "constant", "derived", "measure"
DETAIL, ROLLED_UP, STAND_IN = 0, 1, 2  # marker values
_EXTRA = "__federate_"
_NEUTRAL = frozenset({"CASE", "CAST", "COMPARISON", "CONJUNCTION", "CONSTANT", "OPERATOR"})
_NEUTRAL |= frozenset({"COLLATE", "BETWEEN", "FUNCTION"})
_POSITION = frozenset({"query_location", "query_location_length", "alias"})


@dataclass(frozen=True)
class Shape:
    sql: str  # what to run: the query, or the query with extra columns appended
    width: int  # the query's own columns: the first ``width`` of the result
    labels: tuple[int, ...]  # its key columns, shown on a suppressed row
    dims: tuple[int, ...]  # the grid's dimensions (positions; from ``width`` on, extra columns)
    markers: tuple[int | None, ...]  # per dimension, its marker column (None: every row detail)
    # ORDER BY: per key, a column (position, or output name to look up; ALL for every column;
    # None where the result does not show what it sorts by) and whether descending.
    order: tuple[tuple[int | str | None, bool], ...] = ()
    limited: bool = False  # LIMIT / OFFSET: rows past it are missing
    filters: tuple[str, ...] = ()  # output names a WHERE / QUALIFY over the aggregates reads


ALL = "*"  # ORDER BY ALL


@dataclass
class _Walk:
    """What the levels above the aggregates do to their rows: sort, limit, filter."""

    order: tuple[tuple[int | str | None, bool], ...] | None = None
    limited: bool = False
    filters: set[str] = field(default_factory=set)

    def level(self, node: dict[str, Any], items: list[dict[str, Any]] | None) -> None:
        for modifier in node.get("modifiers") or []:
            if modifier.get("type") == "ORDER_MODIFIER" and self.order is None:
                self.order = tuple(_order_key(o, items) for o in modifier.get("orders") or [])
            elif modifier.get("type") in ("LIMIT_MODIFIER", "LIMIT_PERCENT_MODIFIER"):
                self.limited = True


@dataclass
class _Branch:
    node: dict[str, Any]  # an aggregating SELECT_NODE of the tree (rewritten in place)
    kinds: list[str]  # per column: GROUP, CONSTANT, DERIVED or MEASURE
    dims: list[int | None]  # per column: the GROUP BY expression it shows as itself
    groups: list[Any]  # the GROUP BY expressions (a position replaced by its column)
    rollup: bool  # grouping sets: a NULL key may stand for every value


def refuse(why: str) -> PrivacyError:
    return PrivacyError(
        f"refused: --min-cell cannot audit this result ({why}); nothing was released",
        code="min-cell-refused",
    )


def shape_of(sql: str) -> Shape:
    """The shape of one SELECT's result as a table, and the SQL that shows its grid."""
    tree = syntax_tree(sql)
    top = tree["statements"][0]["node"]
    walk = _Walk()
    branches = _branches(top, {}, walk)
    width = len(branches[0].kinds)
    if any(len(b.kinds) != width for b in branches):
        raise refuse("its branches have different columns")
    found = _single(sql, tree, branches[0]) if len(branches) == 1 else _union(sql, tree, branches)
    return replace(
        found, order=walk.order or (), limited=walk.limited, filters=tuple(sorted(walk.filters))
    )


def _branches(node: dict[str, Any], ctes: dict[str, Any], walk: _Walk | None) -> list[_Branch]:
    """The aggregating SELECTs whose rows the result is, in the order of its columns; ``walk``
    gathers what the levels above them do (None inside a UNION ALL, where none may)."""
    for entry in (node.get("cte_map") or {}).get("map", []):
        ctes = {**ctes, str(entry["key"]).lower(): entry["value"]["query_node"]}
    kind = node.get("type")
    if walk is None and node.get("modifiers"):
        raise refuse("a branch of a UNION ALL is sorted, limited or distinct")
    if kind == "SET_OPERATION_NODE":
        if node.get("setop_type") != "UNION" or not node.get("setop_all"):
            raise refuse("only UNION ALL combines tables")
        if walk is not None:
            walk.level(node, None)
        children = node.get("children") or [node.get("left"), node.get("right")]
        found = [b for child in children for b in _branches(child, ctes, None)]
        unique = {id(b.node): b for b in found}  # a CTE read twice is one branch
        return list(unique.values()) if len(unique) < len(found) else found
    if kind != "SELECT_NODE":
        raise refuse(f"a {kind} is not a table of aggregates")
    if _aggregating(node):
        branch = _branch(node)
        if walk is not None:
            walk.level(node, node["select_list"])
        return [branch]
    inner = _passed_through(node, ctes)
    if inner is None and (node.get("from_table") or {}).get("type") == "SUBQUERY":
        raise refuse("it selects from a subquery: write SELECT * FROM (...), or GROUP BY outside")
    if inner is None:
        raise refuse("it lists rows; release a GROUP BY of counts")
    if walk is not None:
        walk.level(node, None)
        for clause in (node.get("where_clause"), node.get("qualify")):
            walk.filters.update(_names(clause))
    return _branches(inner, ctes, walk)


def _passed_through(node: dict[str, Any], ctes: dict[str, Any]) -> dict[str, Any] | None:
    """The query node a ``SELECT * FROM (...)`` (or from a CTE) shows as it is."""
    items = node.get("select_list") or []
    star = len(items) == 1 and items[0].get("class") == "STAR"
    if not star or _modified(items[0]) or _distinct(node):
        return None
    source = node.get("from_table") or {}
    if source.get("type") == "SUBQUERY":
        inner: dict[str, Any] = source["subquery"]["node"]
        return inner
    name = str(source.get("table_name") or "").lower()
    if source.get("type") == "BASE_TABLE" and not source.get("schema_name") and name in ctes:
        cte: dict[str, Any] = ctes[name]
        return cte
    return None


def _modified(star: dict[str, Any]) -> bool:
    keys = ("exclude_list", "replace_list", "qualified_exclude_list", "rename_list")
    return bool(star.get("columns") or star.get("relation_name") or any(star.get(k) for k in keys))


def _distinct(node: dict[str, Any]) -> bool:
    return any(m.get("type") == "DISTINCT_MODIFIER" for m in node.get("modifiers") or [])


def _aggregating(node: dict[str, Any]) -> bool:
    if node.get("group_expressions") or node.get("having") is not None:
        return True
    if node.get("aggregate_handling") == "FORCE_AGGREGATES":
        return True
    return any(_aggregates(item) for item in node.get("select_list") or [])


def _aggregates(node: Any) -> bool:
    """Whether an expression calls an aggregating function (not inside a subquery)."""
    _, aggregating = functions()
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict) and item.get("class") != "SUBQUERY":
            name = str(item.get("function_name") or "").lower()
            if item.get("class") == "FUNCTION" and name in aggregating:
                return True
            pending.extend(item.values())
    return False


def _branch(node: dict[str, Any]) -> _Branch:
    items = node["select_list"]
    if any(item.get("class") == "STAR" for item in items):
        raise refuse("a * beside aggregates: name the columns")
    if node.get("aggregate_handling") == "FORCE_AGGREGATES":  # GROUP BY ALL
        groups = [_bare(item) for item in items if not _aggregates(item)]
    else:
        groups = [_positional(g, items) for g in node.get("group_expressions") or []]
        groups = [_aliased(g, items, groups) for g in groups]
    canon = [_canon(g) for g in groups]
    for clause in (node.get("having"), node.get("qualify")):
        if clause is not None and not _only_keys(_canon(clause), canon, set()):
            raise refuse(
                "a HAVING or QUALIFY on aggregates tells bounds of what is suppressed: "
                "leave small counts to --min-cell"
            )
    full = [list(range(len(groups)))] if groups else []
    rollup = bool(groups) and sorted(map(sorted, node.get("group_sets") or full)) != full
    kinds: list[str] = []
    dims: list[int | None] = []
    for item in items:
        kind, dim = _kind(item, canon)
        kinds.append(kind)
        dims.append(dim)
    return _Branch(node, kinds, dims, groups, rollup)


def _positional(group: dict[str, Any], items: list[dict[str, Any]]) -> Any:
    """``GROUP BY 2`` is the second column's expression."""
    literal = group.get("literal") or {}
    if group.get("class") == "CONSTANT" and literal.get("kind") in ("INTEGER", "BIGINT"):
        position = int(literal["text"])
        if 1 <= position <= len(items):
            return _bare(items[position - 1])
    return group


def _aliased(group: dict[str, Any], items: list[dict[str, Any]], groups: list[Any]) -> Any:
    """``GROUP BY soc`` where ``soc`` is a column's alias is that column's expression. Were
    ``soc`` a column of the FROM too, DuckDB would group by it and refuse a column that reads
    anything else: so the alias is taken only for a column that does."""
    names = group.get("column_names") or []
    if group.get("class") != "COLUMN_REF" or len(names) != 1:
        return group
    name = str(names[0]).lower()
    whole = _canon(group)
    if any(_same(_canon(_bare(item)), whole) for item in items):
        return group
    matches = [item for item in items if str(item.get("alias") or "").lower() == name]
    if len(matches) != 1:
        return group
    expression = _bare(matches[0])
    others = [_canon(g) for g in groups if g is not group]
    if name in _names(expression) or _only_keys(_canon(expression), others, set()):
        return group
    return expression


def _bare(item: dict[str, Any]) -> dict[str, Any]:
    return {**item, "alias": ""}


def _canon(node: Any) -> Any:
    """An expression without positions or alias, names in lower case: equal when DuckDB reads
    them as the same expression (a qualified name aside, see ``_same``)."""
    if isinstance(node, list):
        return [_canon(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _canon(v) for k, v in node.items() if k not in _POSITION}
    if node.get("class") == "COLUMN_REF":
        out["column_names"] = [str(n).lower() for n in node.get("column_names") or []]
    return out


def _same(a: Any, b: Any) -> bool:
    """Canonical expressions that DuckDB binds alike: equal, or one column named with and
    without its table (``s.site`` and ``site``)."""
    if a == b:
        return True
    if not (isinstance(a, dict) and isinstance(b, dict)):
        return False
    if a.get("class") != "COLUMN_REF" or b.get("class") != "COLUMN_REF":
        return False
    x, y = a["column_names"], b["column_names"]
    short, long = (x, y) if len(x) <= len(y) else (y, x)
    return bool(short) and long[len(long) - len(short) :] == short


def _kind(item: dict[str, Any], groups: list[Any]) -> tuple[str, int | None]:
    """A column's kind, and the GROUP BY expression it is (for GROUP)."""
    whole = _canon(item)
    for g, group in enumerate(groups):
        if _same(whole, group):
            return GROUP, g
    used: set[int] = set()
    if not _only_keys(whole, groups, used):
        return MEASURE, None
    return (DERIVED if used else CONSTANT), None


def _only_keys(node: Any, groups: list[Any], used: set[int]) -> bool:
    """Whether an expression reads nothing but GROUP BY expressions (recorded in ``used``)
    through scalar functions and operators."""
    if isinstance(node, list):
        return all(_only_keys(v, groups, used) for v in node)
    if not isinstance(node, dict):
        return True
    cls = node.get("class")
    if cls is not None:
        for g, group in enumerate(groups):
            if _same(node, group):
                used.add(g)
                return True
        if cls not in _NEUTRAL:  # a column outside the GROUP BY, a window, a subquery ...
            return False
        scalar, _ = functions()
        if cls == "FUNCTION" and str(node.get("function_name") or "").lower() not in scalar:
            return False
    return all(_only_keys(v, groups, used) for v in node.values())


def _order_key(order: dict[str, Any], items: list[dict[str, Any]] | None) -> tuple[Any, bool]:
    """An ORDER BY key as a column: its position, its output name, ALL, or None."""
    descending = order.get("type") == "DESCENDING"
    expression = order.get("expression") or {}
    kind, literal = expression.get("class"), expression.get("literal") or {}
    if kind == "STAR" and expression.get("columns") and not _modified({**expression, "columns": 0}):
        return ALL, descending
    if kind == "CONSTANT" and literal.get("kind") in ("INTEGER", "BIGINT"):
        return int(literal["text"]) - 1, descending
    if kind == "COLUMN_REF":
        return str(expression["column_names"][-1]).lower(), descending
    whole = _canon(expression)
    for j, item in enumerate(items or []):
        if _same(whole, _canon(_bare(item))):
            return j, descending
    return None, descending


def _names(node: Any) -> set[str]:
    """The column names an expression reads (a subquery's reads as '*': never a label)."""
    found: set[str] = set()
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, list):
            pending.extend(item)
        elif isinstance(item, dict):
            if item.get("class") == "COLUMN_REF":
                found.add(str(item["column_names"][-1]).lower())
            elif item.get("class") == "SUBQUERY":
                found.add(ALL)
            else:
                pending.extend(item.values())
    return found


def _single(sql: str, tree: dict[str, Any], branch: _Branch) -> Shape:
    """One aggregating SELECT: its dimensions are its GROUP BY expressions."""
    width = len(branch.kinds)
    labels = tuple(j for j, kind in enumerate(branch.kinds) if kind != MEASURE)
    shown = {g: j for j, g in reversed(list(enumerate(branch.dims))) if g is not None}
    hidden = [g for g in range(len(branch.groups)) if g not in shown]
    position = {g: shown.get(g) for g in range(len(branch.groups))}
    extra: list[dict[str, Any]] = []
    for g in hidden:
        position[g] = width + len(extra)
        extra.append(copy.deepcopy(_bare(branch.groups[g])))
    markers: list[int | None] = [None] * len(branch.groups)
    if branch.rollup:
        for g in range(len(branch.groups)):
            markers[g] = width + len(extra)
            extra.append(_grouping(branch.groups[g]))
    dims = tuple(p for p in position.values() if p is not None)
    if not extra:
        return Shape(sql, width, labels, dims, tuple(markers))
    if _distinct(branch.node):
        raise refuse("SELECT DISTINCT with ROLLUP or an unselected GROUP BY expression")
    _append(branch.node, extra)
    return Shape(sql_of(tree), width, labels, dims, tuple(markers))


def _union(sql: str, tree: dict[str, Any], branches: list[_Branch]) -> Shape:
    """A UNION ALL: its dimensions are the columns every branch keys on, each branch marking
    the rows where a column is rolled up, or a constant where another branch groups by it."""
    width = len(branches[0].kinds)
    labels: list[int] = []
    for j in range(width):
        kinds = {b.kinds[j] for b in branches}
        if kinds == {MEASURE}:
            continue
        if not kinds <= {GROUP, CONSTANT}:
            raise refuse(
                f"column {j + 1} must be a GROUP BY expression or a constant in every branch, "
                "or an aggregate in every one"
            )
        labels.append(j)
    for b in branches:
        if any(g not in b.dims for g in range(len(b.groups))):
            raise refuse("in a UNION ALL, select every GROUP BY expression as written")
    grouped = {j for j in labels if any(b.kinds[j] == GROUP for b in branches)}
    needed = any(b.rollup for b in branches) or any(
        b.kinds[j] == CONSTANT for b in branches for j in grouped
    )
    if not needed:
        return Shape(sql, width, tuple(labels), tuple(labels), (None,) * len(labels))
    for b in branches:
        if _distinct(b.node):
            raise refuse("SELECT DISTINCT in a UNION ALL with totals")
        extra = []
        for j in labels:
            dim = b.dims[j]
            if b.kinds[j] == GROUP and b.rollup and dim is not None:
                extra.append(_grouping(b.groups[dim]))
            else:
                extra.append(_constant(STAND_IN if j in grouped and b.kinds[j] == CONSTANT else 0))
        _append(b.node, extra)
    markers = tuple(width + i for i in range(len(labels)))
    return Shape(sql_of(tree), width, tuple(labels), tuple(labels), markers)


def _template(sql: str) -> dict[str, Any]:
    node: dict[str, Any] = syntax_tree(sql)["statements"][0]["node"]["select_list"][0]
    return node


def _grouping(group: Any) -> dict[str, Any]:
    node = _template("SELECT GROUPING(x)")
    node["children"] = [copy.deepcopy(_bare(group))]
    return node


def _constant(value: int) -> dict[str, Any]:
    return _template(f"SELECT {int(value)}")


def _append(node: dict[str, Any], extra: list[dict[str, Any]]) -> None:
    """Append extra columns to a SELECT, named so that no column of the query is shadowed."""
    for i, expression in enumerate(extra):
        node["select_list"].append({**expression, "alias": f"{_EXTRA}{i}"})
