"""Hypothesis strategies over the space a site's spec allows: how values are written
(``Knobs``), how columns are laid out (``Layout``) and the format's own style, plus the seed of
the truth. A dimension named in ``off`` is held at its plain setting (it is known to fail at
that site, and has its own strict-xfail case); ``force`` turns dimensions on."""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from hypothesis import strategies as st

from federate.adapters import registry
from tests.conformance.exports import Draw
from tests.conformance.formats import FORMATS
from tests.conformance.grammar import Knobs
from tests.conformance.tabular import Layout

# Dimensions that are more than one field turned on.
COMPOUND: dict[str, dict[str, dict[str, Any]]] = {
    "plain_space_grouping": {"knobs": {"grouping": True, "group_mark": " "}},
    "datetime_cells": {"style": {"date_cells": True, "datetime_cells": True}},
}


def _flags(cls: type, off: frozenset[str], skip: tuple[str, ...] = ()) -> st.SearchStrategy[Any]:
    drawn = {
        f.name: st.just(False) if f.name in off else st.booleans()
        for f in fields(cls)
        if f.type in ("bool", bool) and f.name not in skip
    }
    return st.builds(cls, **drawn)


def draws(
    site: str, off: frozenset[str] = frozenset(), *, patients: int = 3
) -> st.SearchStrategy[Draw]:
    adapter = registry.adapter(site)
    fmt = FORMATS[adapter.format]
    return st.builds(
        Draw,
        knobs=_flags(Knobs, off),
        layout=_flags(Layout, off),
        style=fmt.styles(adapter, off),
        seed=st.integers(0, 2**32 - 1),
        patients=st.just(patients),
    )


def force(draw: Draw, dimension: str) -> Draw:
    """``draw`` with ``dimension`` turned on wherever it lives (knobs, layout or style)."""
    parts: dict[str, dict[str, Any]] = COMPOUND.get(dimension, {})
    if not parts:
        for part in ("knobs", "layout", "style"):
            holder = getattr(draw, part)
            if holder is not None and dimension in {f.name for f in fields(holder)}:
                parts = {part: {dimension: True}}
                break
    assert parts, f"no dimension {dimension!r}"
    changed = {part: replace(getattr(draw, part), **values) for part, values in parts.items()}
    return replace(draw, **changed)
