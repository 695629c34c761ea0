"""A failed query's message, in the user's terms: DuckDB's first line; for a table that does not
exist, the role's nearest relations; for a column, DuckDB's candidates, or, for a column that
only the unblinded role has, which role has it."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence

_CANDIDATES = re.compile(r"^Candidate bindings", re.IGNORECASE)
_MISSING_TABLE = re.compile(r'Table with name "?([^"\s!]+)"? does not exist', re.IGNORECASE)
_MISSING_COLUMN = re.compile(r'Referenced column "([^"]+)" not found', re.IGNORECASE)


def explain(message: str, *, blinded: bool, relations: Sequence[str] = ()) -> str:
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()]
    if not lines:
        return "the query failed"
    first = lines[0]
    table = _MISSING_TABLE.search(first)
    if table:
        near = difflib.get_close_matches(table.group(1).lower(), relations, n=3, cutoff=0.5)
        known = ", ".join(sorted(relations))
        hint = f" Did you mean {' or '.join(near)}?" if near else ""
        return f"{first}{hint} The relations are: {known}." if known else first + hint
    column = _MISSING_COLUMN.search(first)
    if column and blinded and column.group(1).lower() in _restricted():
        return (
            f"{first} {column.group(1)!r} reveals allocation: it exists only in the unblinded "
            "role (--role unblinded, which the audit log records)."
        )
    return " ".join([first, *(line for line in lines[1:] if _CANDIDATES.match(line))])


def _restricted() -> set[str]:
    from federate.adapters import registry

    return {c.lower() for t in registry.schema() for c in t.restricted_columns}
