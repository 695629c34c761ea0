"""Hypothesis strategies over the space a site's spec allows: how values are written
(``Knobs``), how columns are laid out (``Layout``) and the format's own style, plus the seed of
the truth. A dimension named in ``off`` is held at its plain setting (it is known to fail at
that site, and has its own strict-xfail case); ``force`` turns dimensions on."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

from hypothesis import strategies as st

from federate.adapters import registry
from tests.conformance.exports import Draw
from tests.conformance.formats import FORMATS
from tests.conformance.grammar import Knobs
from tests.conformance.tabular import Layout


@dataclass(frozen=True)
class Dimension:
    """A dimension that is more than one field turned on: what it sets (per part of the
    draw), and which flags the free exploration must hold off while it is known to fail."""

    sets: dict[str, dict[str, Any]]
    holds: tuple[str, ...] = ()


COMPOUND: dict[str, Dimension] = {
    # Numbers written as text, so that grouping shows (where a format types numbers).
    "plain_space_grouping": Dimension(
        {"knobs": {"grouping": True, "group_mark": " "}, "style": {"numbers_as_text": True}}
    ),
    "datetime_cells": Dimension(
        {"style": {"date_cells": True, "datetime_cells": True}}, ("datetime_cells",)
    ),
    "redcap_event_labels": Dimension(
        {"style": {"flavour": "label", "redcap_event_labels": True}}, ("redcap_event_labels",)
    ),
    "name_case": Dimension({"style": {"flavour": "raw", "name_case": True}}, ("name_case",)),
    "zsav_file": Dimension({"style": {"kind": "zsav", "extension": True}}, ("extension",)),
    "dta_file": Dimension({"style": {"kind": "dta", "extension": True}}, ("extension",)),
}


def held_off(dimensions: frozenset[str]) -> frozenset[str]:
    """The flags to hold off while ``dimensions`` are known to fail."""
    out = set()
    for name in dimensions:
        out.update(COMPOUND[name].holds if name in COMPOUND else (name,))
    return frozenset(out)


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
    off = held_off(off)
    return st.builds(
        Draw,
        knobs=_flags(Knobs, off),
        layout=_flags(Layout, off | fmt.layout_off, skip=("drop_required",)),
        style=fmt.styles(adapter, off),
        seed=st.integers(0, 2**32 - 1),
        patients=st.just(patients),
    )


def force(draw: Draw, dimension: str) -> Draw:
    """``draw`` with ``dimension`` turned on wherever it lives (knobs, layout or style)."""
    parts = COMPOUND[dimension].sets if dimension in COMPOUND else {}
    if not parts:
        for part in ("knobs", "layout", "style"):
            holder = getattr(draw, part)
            if holder is not None and dimension in {f.name for f in fields(holder)}:
                parts = {part: {dimension: True}}
                break
    assert parts, f"no dimension {dimension!r}"
    changed = {}
    for part, values in parts.items():
        holder = getattr(draw, part)
        known = {f.name for f in fields(holder)} if holder is not None else set()
        usable = {k: v for k, v in values.items() if k in known}  # a format without the field
        changed[part] = replace(holder, **usable) if usable else holder
    return replace(draw, **changed)
