"""Which dictionary column each header cell of a REDCap records export is.

A raw export's header holds field names. A label export's header holds field labels, which
repeat ("Weight (kg)" at every visit form; "Complete?" once per form), so cells are matched
through the dictionary's column order: the header must be the dictionary's columns in order,
some possibly left out. Where leaving columns out makes a repeated label fit two fields, the
header is refused rather than guessed: the first (greedy) and the last possible fit must agree.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from federate.errors import InputError, Location
from federate.readers.redcap_dictionary import (
    SYSTEM_LABELS,
    Column,
    Dictionary,
    norm,
    text_encoding,
)


@dataclass(frozen=True)
class Header:
    names: tuple[str, ...]  # the column each cell is, by name
    labels: bool  # the cells were labels, matched through the dictionary


def read_header(path: Path, encoding: str, delimiter: str, quote: str, relpath: str) -> list[str]:
    """The first record of the file, however long (label headers can be)."""
    where = Location(file=relpath, row=1)
    try:
        with path.open(encoding=text_encoding(encoding), newline="") as fh:
            rows = csv.reader(fh, delimiter=delimiter, quotechar=quote)
            cells, lines = next(rows, []), rows.line_num
    except (csv.Error, UnicodeDecodeError) as exc:
        raise InputError(
            f"the header row cannot be read: {exc}", code="no-header", where=where
        ) from None
    if not any(c.strip() for c in cells):
        raise InputError("the file has no header row", code="no-header", where=where)
    if lines > 1:
        # The streaming CSV parser skips the header by lines, not records.
        broken = next((c for c in cells if "\n" in c or "\r" in c), "")
        raise InputError(
            f"a header cell holds a line break, so the header spans {lines} lines: export "
            "with field names as headers, or remove the line break from that field's label",
            code="multiline-header",
            where=Location(file=relpath, row=1, column=broken),
        )
    return [c.strip() for c in cells]


def match_header(cells: list[str], dictionary: Dictionary, relpath: str) -> Header:
    columns = dictionary.columns()
    known = {c.name for c in columns} | set(SYSTEM_LABELS)
    rid = dictionary.fields[0]
    # REDCap writes the record id first: its label marks a label header (many labels may equal
    # field names); otherwise a stray cell is reported as not in the dictionary.
    if not all(c in known for c in cells) and norm(cells[0]) == norm(rid.label):
        return Header(tuple(_by_label(cells, columns, dictionary, relpath)), True)
    return Header(tuple(_by_name(cells, known, dictionary, relpath)), False)


def _by_name(cells: list[str], known: set[str], dictionary: Dictionary, relpath: str) -> list[str]:
    seen: set[str] = set()
    for i, cell in enumerate(cells):
        where = Location(file=relpath, row=1, column=cell)
        if cell not in known:
            raise InputError(
                f"column {i + 1} is not a field of {dictionary.relpath}: is the dictionary "
                "from another project, or from before the project changed?",
                code="unknown-column",
                where=where,
            )
        if cell in seen:
            raise InputError(
                f"the header repeats column {cell!r}", code="duplicate-column", where=where
            )
        seen.add(cell)
    _require_record_id(cells, dictionary, relpath)
    return cells


def _require_record_id(names: list[str], dictionary: Dictionary, relpath: str) -> None:
    if dictionary.record_id not in names:
        raise InputError(
            f"the export has no record id column {dictionary.record_id!r} (the first field of "
            f"{dictionary.relpath})",
            code="missing-column",
            where=Location(file=relpath, row=1),
        )


def _by_label(
    cells: list[str], columns: list[Column], dictionary: Dictionary, relpath: str
) -> list[str]:
    rid = dictionary.fields[0]
    keys = [norm(c) for c in cells]
    if keys[0] not in (norm(rid.label), norm(rid.name)):
        raise InputError(
            f"the first column should be the record id {rid.name!r}, labelled {rid.label!r}",
            code="unknown-column",
            where=Location(file=relpath, row=1, column=cells[0]),
        )
    names = [rid.name]
    system = {norm(label): name for name, label in SYSTEM_LABELS.items()}
    i = 1
    while i < len(cells) and keys[i] in system:
        names.append(system.pop(keys[i]))
        i += 1
    entries = [c for c in columns if c.name != rid.name]
    labels = [norm(c.label) for c in entries]
    first = _fit(keys[i:], labels)
    last = _fit(keys[i:][::-1], labels[::-1])
    if isinstance(first, int):
        cell = cells[i + first]
        raise InputError(
            f"column {i + first + 1} is not a field label of {dictionary.relpath} in the "
            "dictionary's order (a label export must be matched through the dictionary)",
            code="unknown-column",
            where=Location(file=relpath, row=1, column=cell),
        )
    assert not isinstance(last, int)  # a fit one way is a fit the other way
    latest = [len(entries) - 1 - j for j in last[::-1]]
    for k, (a, b) in enumerate(zip(first, latest, strict=True)):
        if a != b:
            raise InputError(
                f"column {i + k + 1} could be field {entries[a].name!r} or {entries[b].name!r}: "
                "the export leaves fields out and their labels repeat; export with field names "
                "as headers, or all fields",
                code="ambiguous-header",
                where=Location(file=relpath, row=1, column=cells[i + k]),
            )
    return names + [entries[j].name for j in first]


def _fit(keys: list[str], labels: list[str]) -> list[int] | int:
    """Greedy in-order fit of header keys onto dictionary labels: the positions, or the index of
    the first key that does not fit."""
    out: list[int] = []
    j = 0
    for k, key in enumerate(keys):
        while j < len(labels) and labels[j] != key:
            j += 1
        if j == len(labels):
            return k
        out.append(j)
        j += 1
    return out
