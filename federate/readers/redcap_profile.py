"""What a REDCap records export holds, learnt in one vectorised pass before its rows are read:
the distinct values of every coded column (with the record where each first occurs), and the
instruments whose fields each repeating-instrument value fills. From it the export's flavour is
read off its values, never assumed from a setting:

* a value that is one of its column's raw codes and no label of another code is **raw**;
* a value that is a label of its column and no raw code is a **label**;
* a value that is both a code and another code's label (choices "1, 0 | 2, 1") could be either,
  and one that is neither (a typo) says nothing.

An export whose values are all raw or all labels is read as such. One with both is refused, and
so is one where only the two-way values could tell (never guessed). REDCap's API can export
labels with field-name headers, and the reverse: the headers say nothing of the values.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.errors import InputError, Location
from federate.readers.base import ROW_COLUMN
from federate.readers.redcap_dictionary import Column, norm

Flavour = Literal["raw", "label"]
REPEAT = "redcap_repeat_instrument"
# A checkbox choice not ticked: 0 in a raw export, "Unchecked" in a label export.
_UNTICKED = ["0", "unchecked"]


@dataclass
class Profile:
    # column -> value as exported -> the record number where it first occurs
    seen: dict[str, dict[str, int]] = field(default_factory=dict)
    # repeating-instrument value -> the instruments whose fields its rows fill
    filled: dict[str, set[str]] = field(default_factory=dict)

    def first(self, column: str, value: str) -> int | None:
        return self.seen.get(column, {}).get(value)


def filled_mask(batch: dict[str, pa.Array], members: Iterable[Column]) -> pa.Array:
    """Rows where any of ``members`` holds a value: not blank, and not an unticked checkbox."""
    n = len(next(iter(batch.values())))
    mask = pa.repeat(pa.scalar(False), n)
    for col in members:
        if col.name not in batch:
            continue
        value = pc.utf8_trim_whitespace(batch[col.name])
        has = pc.not_equal(value, "")
        if col.kind == "checkbox":
            has = pc.and_(has, pc.invert(pc.is_in(pc.utf8_lower(value), pa.array(_UNTICKED))))
        mask = pc.or_(mask, has)
    return mask


def _first_rows(values: pa.Array, rows: pa.Array) -> dict[str, int]:
    """Each distinct value -> the record number of its first row (numpy, no Python per row)."""
    encoded = pc.dictionary_encode(values)
    index = encoded.indices.to_numpy(zero_copy_only=False)
    distinct, first = np.unique(index, return_index=True)
    numbers = rows.to_numpy(zero_copy_only=False)[first]
    words = encoded.dictionary.to_pylist()
    return {words[d]: int(r) for d, r in zip(distinct.tolist(), numbers.tolist(), strict=True)}


def profile(
    batches: Iterator[pa.RecordBatch], coded: list[str], forms: dict[str, list[Column]]
) -> Profile:
    """One pass over the export: ``coded`` columns' values, and (with a repeating-instrument
    column) which of ``forms`` (form -> its columns in the file) each repeat value fills."""
    out = Profile()
    for batch in batches:
        cols = {name: batch.column(name) for name in batch.schema.names}
        rows = cols[ROW_COLUMN]
        for name in coded:
            if name in cols:
                seen = out.seen.setdefault(name, {})
                for value, row in _first_rows(cols[name], rows).items():
                    seen.setdefault(value, row)
        if REPEAT not in cols:
            continue
        repeat = cols[REPEAT]
        for form, members in forms.items():
            for value in pc.unique(pc.filter(repeat, filled_mask(cols, members))).to_pylist():
                out.filled.setdefault(value, set()).add(form)
    return out


@dataclass(frozen=True)
class Evidence:
    raw: tuple[str, str, int] | None = None  # (column, value, row) of a raw code
    label: tuple[str, str, int] | None = None  # ... of a label
    either: tuple[str, str, int] | None = None  # ... of a value that could be both


def evidence(prof: Profile, columns: list[Column]) -> Evidence:
    """The first raw code, label and two-way value of the export (by record number)."""
    raw: list[tuple[int, str, str]] = []
    label: list[tuple[int, str, str]] = []
    either: list[tuple[int, str, str]] = []
    for col in columns:
        if not col.codes or col.name not in prof.seen:
            continue
        codes = set(col.codes.values())
        for value, row in prof.seen[col.name].items():
            text = value.strip()
            is_code = text in codes
            meant = col.codes.get(norm(value))
            if is_code and meant is not None and meant != text:
                either.append((row, col.name, value))
            elif is_code and meant is None:
                raw.append((row, col.name, value))
            elif meant is not None and not is_code:
                label.append((row, col.name, value))

    return Evidence(_earliest(raw), _earliest(label), _earliest(either))


def _earliest(found: list[tuple[int, str, str]]) -> tuple[str, str, int] | None:
    if not found:
        return None
    row, column, value = min(found)
    return column, value, row


def read_flavour(found: Evidence, relpath: str) -> Flavour | None:
    """The export's flavour from its values (None: nothing tells, and nothing needs to)."""
    if found.raw and found.label:
        (rc, rv, rr), (lc, lv, lr) = found.raw, found.label
        raise InputError(
            f"this export mixes raw codes and labels: row {rr}, column {rc!r} holds the code "
            f"{rv!r}, and row {lr}, column {lc!r} the label {lv!r}; export the records again, "
            "all as raw data or all as labels",
            code="mixed-flavour",
            where=Location(file=relpath, row=rr, column=rc, value=rv),
        )
    if found.raw or found.label:
        return "raw" if found.raw else "label"
    if found.either:
        column, value, row = found.either
        raise InputError(
            f"column {column!r} holds {value!r}, which is a code of one choice and the label "
            "of another, and no other value shows whether this export has raw codes or labels: "
            "export the records as raw data",
            code="ambiguous-flavour",
            where=Location(file=relpath, row=row, column=column, value=value),
        )
    return None
