"""Vectorised work on a batch of REDCap records: label values back to raw codes, and the rows that
belong to a form.

Which rows are a form's (checked against REDCap's own ODM export of every corpus project):

* a repeating instrument's rows are those whose ``redcap_repeat_instrument`` names it;
* a non-repeating form's rows are the others (blank ``redcap_repeat_instrument``: one per record,
  or per record and event) where the form has data: any of its columns other than the record id
  is filled, counting its status ``<form>_complete`` even at 0 (classic projects export 0 for
  every record) but not an unticked checkbox (exported as 0 whether or not the form was saved).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from federate.errors import InputError, Location
from federate.readers.redcap_dictionary import Column, norm

Decoder = Callable[[pa.Array, pa.Array], pa.Array]  # (values, record numbers) -> raw codes

REPEAT = "redcap_repeat_instrument"


def _keys(values: pa.Array) -> pa.Array:
    """``norm`` for exported values (plain text): spaces collapsed, trimmed, lower case."""
    spaced = pc.replace_substring_regex(pc.utf8_lower(values), pattern=r"\s+", replacement=" ")
    return pc.utf8_trim_whitespace(spaced)


def _lookup(values: pa.Array, codes: Mapping[str, str]) -> pa.Array:
    """The code of each value's label (null where the value is no label of the list), worked
    out once per distinct value: a coded column holds a few labels over many rows."""
    encoded = pc.dictionary_encode(values)
    index = pc.index_in(_keys(encoded.dictionary), value_set=pa.array(list(codes), pa.string()))
    decoded = pc.take(pa.array(list(codes.values()), pa.string()), index)
    return pc.take(decoded, encoded.indices)


def lenient(codes: Mapping[str, str]) -> Decoder:
    """Labels to codes; a value that is no label of the list is kept as exported, so the
    adapter's code list reports it with its row, column and value."""

    def decode(values: pa.Array, rows: pa.Array) -> pa.Array:
        return pc.coalesce(_lookup(values, codes), values)

    return decode


def strict(resolve: Callable[[str], str | None], column: str, relpath: str, hint: str) -> Decoder:
    """Labels of a system column (few distinct values) to codes; one that cannot be decoded
    stops the run: rows could not be told apart without it."""

    def decode(values: pa.Array, rows: pa.Array) -> pa.Array:
        distinct = [v for v in pc.unique(values).to_pylist() if v and v.strip()]
        codes = {norm(v): code for v in distinct if (code := resolve(v)) is not None}
        decoded = _lookup(values, codes) if codes else pa.nulls(len(values), pa.string())
        bad = pc.and_(pc.is_null(decoded), pc.not_equal(pc.utf8_trim_whitespace(values), ""))
        if pc.any(bad).as_py():
            at = pc.indices_nonzero(bad)[0].as_py()
            raise InputError(
                f"a label this export's settings do not decode: {hint}",
                code="unknown-label",
                where=Location(
                    file=relpath, row=rows[at].as_py(), column=column, value=values[at].as_py()
                ),
            )
        return pc.coalesce(decoded, values)

    return decode


def form_slug(label: str) -> str:
    """The form name REDCap makes from an instrument label ("Blood Pressure" -> blood_pressure)."""
    kept = re.sub(r"[^a-z0-9_ ]", "", label.lower())
    return re.sub(r"[ _]+", "_", kept).strip("_")[:50]


_ARM = re.compile(r"^(?P<event>.*) \(arm (?P<arm>\d+): .*\)$")


def event_resolver(
    declared: Mapping[str, str], events: list[tuple[str, str, str]]
) -> Callable[[str], str | None]:
    """Event labels ("Enrollment (Arm 1: Drug A)") to unique event names: declared first, then
    REDCap's events export as (event name, arm number, unique event name)."""
    by_label = {norm(k): v for k, v in declared.items()}
    by_event = {(norm(name), arm): unique for name, arm, unique in events}

    def resolve(label: str) -> str | None:
        key = norm(label)
        if key in by_label:
            return by_label[key]
        if m := _ARM.match(key):
            return by_event.get((m["event"], m["arm"]))
        only = [u for (name, _), u in by_event.items() if name == key]
        return only[0] if len(only) == 1 else None

    return resolve


def instrument_resolver(
    declared: Mapping[str, str], forms: list[str]
) -> Callable[[str], str | None]:
    by_label = {norm(k): v for k, v in declared.items()}

    def resolve(label: str) -> str | None:
        if norm(label) in by_label:
            return by_label[norm(label)]
        slug = form_slug(label)
        return label if label in forms else slug if slug in forms else None

    return resolve


def rows_of_form(batch: dict[str, pa.Array], form: str, members: list[Column]) -> pa.Array:
    """The mask of the rows that belong to ``form`` (see the module's docstring)."""
    n = len(next(iter(batch.values())))
    filled = pa.repeat(pa.scalar(False), n)
    for col in members:
        if col.name not in batch:
            continue
        value = pc.utf8_trim_whitespace(batch[col.name])
        has = pc.not_equal(value, "")
        if col.kind == "checkbox":
            has = pc.and_(has, pc.not_equal(value, "0"))
        filled = pc.or_(filled, has)
    if REPEAT not in batch:
        return filled
    repeat = pc.utf8_trim_whitespace(batch[REPEAT])
    return pc.or_(pc.equal(repeat, form), pc.and_(pc.equal(repeat, ""), filled))
