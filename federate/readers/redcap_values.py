"""Vectorised work on a batch of REDCap records: label values back to raw codes, and the rows
that belong to a form.

Which rows are a form's (checked against REDCap's own ODM export of every corpus project):

* a repeating instrument's rows are those whose ``redcap_repeat_instrument`` names it;
* a non-repeating form's rows are the others (blank ``redcap_repeat_instrument``: one per record,
  or per record and event) where the form was saved: any of its columns other than the record id
  and its status is filled (not counting an unticked checkbox, exported as 0 whether or not the
  form was saved), or its status ``<form>_complete`` is Unverified (1) or Complete (2).

A form **never saved** is written all the same where it is designated: its fields blank, its
status Incomplete (0) - or, on a repeating instrument's own row, blank. Such a row is the form's
but holds nothing: it is not yielded but reported (``never_saved``), to be skipped with that
reason. A row where the form's status is blank and nothing is filled is not the form's at all
(the form is not designated for that event, or the row is another form's repeat).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import pyarrow as pa
import pyarrow.compute as pc

from federate.readers.redcap_dictionary import Column
from federate.readers.redcap_profile import REPEAT, filled_mask

Decoder = Callable[[pa.Array], pa.Array]  # values -> raw codes or unique names

NEVER_SAVED = "form-never-saved"


def _keys(values: pa.Array) -> pa.Array:
    """``norm`` for exported values (plain text): spaces collapsed, trimmed, lower case."""
    spaced = pc.replace_substring_regex(pc.utf8_lower(values), pattern=r"\s+", replacement=" ")
    return pc.utf8_trim_whitespace(spaced)


def _lookup(values: pa.Array, codes: Mapping[str, str], normalise: bool) -> pa.Array:
    """The code of each value (null where it is no key of ``codes``), worked out once per
    distinct value: a coded column holds a few values over many rows."""
    encoded = pc.dictionary_encode(values)
    words = _keys(encoded.dictionary) if normalise else encoded.dictionary
    index = pc.index_in(words, value_set=pa.array(list(codes), pa.string()))
    decoded = pc.take(pa.array(list(codes.values()), pa.string()), index)
    return pc.take(decoded, encoded.indices)


def lenient(codes: Mapping[str, str]) -> Decoder:
    """Labels (matched as ``norm`` matches them) to codes; a value that is no label of the list
    is kept as exported, so the adapter's code list reports it with its row and column."""

    def decode(values: pa.Array) -> pa.Array:
        return pc.coalesce(_lookup(values, codes, normalise=True), values)

    return decode


def exact(names: Mapping[str, str]) -> Decoder:
    """Values of a system column to the unique names worked out for each distinct value of the
    whole export (``redcap_names``); blanks stay blank."""

    def decode(values: pa.Array) -> pa.Array:
        return pc.coalesce(_lookup(values, names, normalise=False), values) if names else values

    return decode


def form_rows(
    batch: dict[str, pa.Array], form: str, members: list[Column]
) -> tuple[pa.Array, pa.Array]:
    """(the rows that are ``form``'s, the rows where ``form`` was never saved): see the
    module's docstring. ``batch`` holds raw codes (label values decoded)."""
    n = len(next(iter(batch.values())))
    status = next((c.name for c in members if c.kind == "status"), None)
    data = filled_mask(batch, [c for c in members if c.kind != "status"])
    state = (
        pc.utf8_trim_whitespace(batch[status])
        if status in batch
        else pa.repeat(pa.scalar(""), n).cast(pa.string())
    )
    saved = pc.or_(data, pc.invert(pc.is_in(state, pa.array(["", "0"]))))
    if REPEAT in batch:
        repeat = pc.utf8_trim_whitespace(batch[REPEAT])
        own, plain = pc.equal(repeat, form), pc.equal(repeat, "")
    else:
        own, plain = pa.repeat(pa.scalar(False), n), pa.repeat(pa.scalar(True), n)
    unsaved = pc.and_(
        pc.invert(saved),
        pc.or_(own, pc.and_(plain, pc.equal(state, "0"))),
    )
    keep = pc.and_(pc.or_(own, pc.and_(plain, saved)), pc.invert(unsaved))
    return keep, unsaved
