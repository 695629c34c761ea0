"""Which dictionary column each header cell of a REDCap records export is.

A raw export's header holds field names, matched in any case (REDCap writes them in lower
case; a spreadsheet may not). A label export's header holds field labels, which
repeat ("Weight (kg)" at every visit form; "Complete?" once per form), so cells are matched
through the dictionary's column order: the header must be the dictionary's columns in order,
some possibly left out. Where leaving columns out makes a repeated label fit two fields, the
header is refused rather than guessed: the first (greedy) and the last possible fit must agree.
A header that is no column of the dictionary, but is once split by another delimiter, names the
delimiter the file was written with. Any other cell that is no field (by name) or no field
label is an extra column: the spec ignores extra columns with a warning, so it is kept by its
own name, belongs to no form and is never read as data (``Header.extra``).
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
    names: tuple[str, ...]  # the column each cell is, by name (an extra one: as written)
    labels: bool  # the cells were labels, matched through the dictionary
    extra: tuple[str, ...] = ()  # cells no column of the dictionary: extra columns


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


@dataclass(frozen=True)
class Sniffer:
    """The header record split by another delimiter than the declared one, to name the real
    delimiter of a file written with the wrong one."""

    path: Path
    encoding: str
    quote: str
    delimiter: str  # the declared one

    def split(self, delimiter: str) -> list[str]:
        try:
            with self.path.open(encoding=text_encoding(self.encoding), newline="") as fh:
                rows = csv.reader(fh, delimiter=delimiter, quotechar=self.quote)
                return [c.strip() for c in next(rows)]
        except (csv.Error, UnicodeDecodeError, StopIteration):
            return []


def match_header(
    cells: list[str], dictionary: Dictionary, relpath: str, sniff: Sniffer | None = None
) -> Header:
    """The column each header cell is. Field names match in any case (REDCap's are lower case);
    ``sniff`` splits the header by another delimiter, to tell a file written with the wrong
    one from one with columns the dictionary does not know."""
    columns = dictionary.columns()
    known = {n.lower(): n for n in [*(c.name for c in columns), *SYSTEM_LABELS]}
    rid = dictionary.fields[0]
    # REDCap writes the record id first: its label marks a label header (many labels may equal
    # field names), when more cells are labels than names (extra columns are either).
    labels = {norm(c.label) for c in columns} | {norm(v) for v in SYSTEM_LABELS.values()}
    as_names = sum(c.lower() in known for c in cells)
    as_labels = sum(norm(c) in labels for c in cells)
    if as_names < len(cells) and as_labels > as_names and norm(cells[0]) == norm(rid.label):
        names, extra = _by_label(cells, columns, dictionary, relpath, sniff)
        return Header(tuple(names), True, tuple(extra))
    names, extra = _by_name(cells, known, dictionary, relpath, sniff)
    return Header(tuple(names), False, tuple(extra))


_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def wrong_delimiter(
    cells: list[str], dictionary: Dictionary, relpath: str, sniff: Sniffer | None
) -> None:
    """Refuse, naming both delimiters, a header that another delimiter splits into more
    columns, the first of them the record id (by name or label)."""
    if sniff is None:
        return
    rid = dictionary.fields[0]
    first = {norm(rid.name), norm(rid.label)}
    for delimiter, word in _DELIMITERS.items():
        split = sniff.split(delimiter) if delimiter != sniff.delimiter else []
        if len(split) > len(cells) and norm(split[0]) in first:
            raise InputError(
                f"this file is {word}-separated; the export must use {sniff.delimiter!r} "
                "(the CSV delimiter chosen in REDCap's export options)",
                code="wrong-delimiter",
                where=Location(file=relpath, row=1),
            )


def _by_name(
    cells: list[str],
    known: dict[str, str],
    dictionary: Dictionary,
    relpath: str,
    sniff: Sniffer | None,
) -> tuple[list[str], list[str]]:
    """The column of each cell, and the cells no field of the dictionary (extra columns)."""
    names: list[str] = []
    extra: list[str] = []
    for cell in cells:
        name = known.get(cell.lower())
        if name is None:
            wrong_delimiter(cells, dictionary, relpath, sniff)
            name = cell
            extra.append(cell)
        _once(name, names, relpath)
        names.append(name)
    _require_record_id(names, dictionary, relpath)
    return names, extra


def _once(name: str, names: list[str], relpath: str) -> None:
    if name.lower() in (n.lower() for n in names):
        raise InputError(
            f"the header has column {name!r} twice: export each field once",
            code="duplicate-column",
            where=Location(file=relpath, row=1, column=name),
        )


def _require_record_id(names: list[str], dictionary: Dictionary, relpath: str) -> None:
    if dictionary.record_id not in names:
        raise InputError(
            f"the export has no record id column {dictionary.record_id!r} (the first field of "
            f"{dictionary.relpath}): export it with the record id",
            code="missing-column",
            where=Location(file=relpath, row=1),
        )


def _by_label(
    cells: list[str],
    columns: list[Column],
    dictionary: Dictionary,
    relpath: str,
    sniff: Sniffer | None,
) -> tuple[list[str], list[str]]:
    """The column of each cell, matched in the dictionary's order, and the cells that are no
    field label at all (extra columns, kept by their own name)."""
    rid = dictionary.fields[0]
    keys = [norm(c) for c in cells]
    if keys[0] not in (norm(rid.label), norm(rid.name)):
        raise InputError(
            f"the first column should be the record id {rid.name!r} (labelled {rid.label!r}), "
            "as REDCap writes it: export the records again in REDCap's own column order",
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
    at = [k for k in range(i, len(cells)) if keys[k] in set(labels)]  # the fields' cells
    extra = [cells[k] for k in range(i, len(cells)) if k not in at]
    if extra:
        wrong_delimiter(cells, dictionary, relpath, sniff)
    first = _fit([keys[k] for k in at], labels)
    last = _fit([keys[k] for k in at][::-1], labels[::-1])
    if isinstance(first, int):
        cell = cells[at[first]]
        raise InputError(
            f"column {cell!r} (column {at[first] + 1}) is not a field label of "
            f"{dictionary.relpath} in its place: export the records with the labels REDCap "
            f"writes, and {dictionary.relpath} downloaded from the same project",
            code="unknown-column",
            where=Location(file=relpath, row=1, column=cell),
        )
    assert not isinstance(last, int)  # a fit one way is a fit the other way
    latest = [len(entries) - 1 - j for j in last[::-1]]
    for k, (a, b) in enumerate(zip(first, latest, strict=True)):
        if a != b:
            raise InputError(
                f"column {at[k] + 1} could be field {entries[a].name!r} or {entries[b].name!r}: "
                "the export leaves fields out and their labels repeat; export with field names "
                "as headers, or all fields",
                code="ambiguous-header",
                where=Location(file=relpath, row=1, column=cells[at[k]]),
            )
    fitted = dict(zip(at, (entries[j].name for j in first), strict=True))
    for k in range(i, len(cells)):
        name = fitted.get(k, cells[k])
        _once(name, names, relpath)
        names.append(name)
    return names, extra


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
