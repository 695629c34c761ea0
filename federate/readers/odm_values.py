"""ODM's typed values: an item the metadata declares ``integer``, ``float`` or ``double`` holds a
number in XML Schema form (``.`` as decimal mark, no grouping: ``10.4``, ``-3``), whatever the
site's locale; OpenClinica checks it on entry and writes it so. Such items become ``CELL``
columns, as a spreadsheet's cells: the text as written, which is what the site sees and what
``Text``, ``Verbatim`` and quarantine messages show (MedDRA version "17.0", not 17), and the
number ODM's own form says it is, which is what number parsers read, so no locale's text rules
ever read it again: Spain's ``.`` grouping would make "10.4" 104. A value that is not in that
form is not guessed at: its record is quarantined. Coded items keep their codes as written (a
code is a label, "01" is not 1).
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from federate.readers.base import CELL
from federate.readers.odm_meta import CodeList, ItemDef

NUMBER_TYPES = {"integer": pa.int64(), "float": pa.float64(), "double": pa.float64()}
_DECIMAL = r"[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)"
_SHAPES = {
    "integer": r"[+-]?[0-9]{1,18}",  # xs:integer, within int64
    "float": _DECIMAL,  # ODM 1.3's float is xs:decimal
    "double": _DECIMAL + r"([eE][+-]?[0-9]+)?",  # xs:double, finite
}
_XML_SPACE = " \t\r\n"  # what XML Schema's whitespace collapse removes around a number
_EXAMPLES = {"integer": "12", "float": "10.4", "double": "10.4 or 1.04E1"}


def number_type(item: ItemDef | None) -> str | None:
    """The ODM DataType an item's values are read as numbers by, None when they stay text."""
    if item is None or item.codelist or item.data_type not in NUMBER_TYPES:
        return None
    return item.data_type


def numbers(text: pa.Array, data_type: str) -> tuple[pa.Array, pa.Array]:
    """The values of an item of ODM ``data_type`` as numbers (a blank value is missing), and the
    mask of the values that are not numbers as ODM writes them."""
    trimmed = pc.utf8_trim(text, _XML_SPACE)
    blank = pc.fill_null(pc.equal(trimmed, ""), True)
    shaped = pc.fill_null(pc.match_substring_regex(trimmed, f"^(?:{_SHAPES[data_type]})$"), False)
    if data_type == "integer":
        trimmed = pc.replace_substring_regex(trimmed, r"^\+", "")  # Arrow refuses "+5"
    good = pc.and_(shaped, pc.invert(blank))
    typed = pc.cast(
        pc.if_else(good, trimmed, pa.scalar(None, pa.string())), NUMBER_TYPES[data_type]
    )
    if data_type != "integer":
        finite = pc.fill_null(pc.is_finite(typed), True)  # past float64's range
        good = pc.and_(good, finite)
        typed = pc.if_else(finite, typed, pa.scalar(None, pa.float64()))
    return typed, pc.and_(pc.invert(good), pc.invert(blank))


def cells(text: pa.Array, data_type: str) -> tuple[pa.Array, pa.Array]:
    """The values of an item of ODM ``data_type`` as ``CELL`` s (the text as written, the number
    it is; no date; null where the item has no value), and the mask of the values that are not
    numbers as ODM writes them."""
    typed, bad = numbers(text, data_type)
    arrays = [text, pc.cast(typed, pa.float64()), pa.nulls(len(text), pa.date32()),
              pa.nulls(len(text), pa.string())]  # fmt: skip
    missing = pc.is_null(text)  # no ItemData (or IsNull): no cell
    return pa.StructArray.from_arrays(arrays, fields=list(CELL), mask=missing), bad


def number_problem(item: str, data_type: str) -> str:
    """Why a record was quarantined, in the coordinator's terms (never the value: it may be
    restricted)."""
    what = "a whole number" if data_type == "integer" else "a number"
    return (
        f"item {item} is declared {data_type} in the export's metadata but holds a value that is "
        f"not {what} as ODM writes one ('.' as decimal mark, no digit grouping, e.g. "
        f"{_EXAMPLES[data_type]}): correct it in the EDC and export again"
    )


def label_not_code(text: pa.Array, codelist: CodeList) -> pa.Array:
    """The mask of the values of a coded item that could be a code the list lacks, yet are one
    of its labels as the adapter's code lists match them (ignoring case and outer spaces): 3
    where an integer list labels its code 2 "3". A value no code of the list's DataType can be
    ("Hombre" in an integer list) is that label, never ambiguous."""
    labels = pa.array(sorted({x.lower() for x in codelist.decodes.values() if x}), pa.string())
    spelled = pc.utf8_trim_whitespace(text)
    codes = pa.array(list(codelist.decodes), pa.string())
    could_be_code = pc.invert(pc.is_in(text, value_set=codes))
    if codelist.data_type in _SHAPES:
        shape = f"^(?:{_SHAPES[codelist.data_type]})$"
        could_be_code = pc.and_(could_be_code, pc.match_substring_regex(spelled, shape))
    label = pc.is_in(pc.utf8_lower(spelled), value_set=labels)
    return pc.fill_null(pc.and_(could_be_code, label), False)


def label_problem(item: str, codelist: str) -> str:
    """Why a record was quarantined (never the value: it may be restricted)."""
    return (
        f"item {item} holds a value that is no code of code list {codelist} but one of its "
        "labels: a label where a code is due, or a code mistyped, cannot be told apart: "
        "correct it in the EDC and export again"
    )
