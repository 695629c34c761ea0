"""Typed cells (SPSS, SAS, Stata, Excel, ODM numbers): how the parsers see a typed input column -
the value as the site's software shows it, and what the cell holds (a number, a date at its
precision) - so that a typed value is read as what it is, never through the locale's text
rules."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

import pyarrow as pa

from federate.readers.base import CELL
from federate.sqltext import sql_str

if TYPE_CHECKING:
    from federate.adapters.parsers import Locale


class Typed(str):
    """A typed input column (SPSS, SAS, Excel) as the parsers see it. As text it is SQL for the
    value as the site's software shows it: what ``Text`` and ``Verbatim`` read and messages
    quote. ``number`` (DOUBLE), ``date`` (DATE: the lower bound at its precision) and
    ``precision`` (day, month or year) are SQL for what a cell holds, NULL where it holds none;
    ``text`` is SQL for the text of a cell that holds no date, as shown (a year typed into a
    spreadsheet is the number 2011, shown 2011), NULL for a date cell. A number is read as the
    number it is and a date cell as its date, never through the locale's text rules."""

    number: str
    date: str
    precision: str
    text: str

    def __new__(
        cls,
        shown: str,
        *,
        number: str = "NULL",
        date: str = "NULL",
        precision: str = "NULL",
        text: str = "NULL",
    ) -> Typed:
        typed = super().__new__(cls, shown)
        typed.number, typed.date, typed.precision, typed.text = number, date, precision, text
        return typed


def typed_as_text(
    ref: str, arrow_type: pa.DataType, locale: Locale, shown_as: str | None = None
) -> str:
    """``ref`` as the parsers read it: a text column as it is, a typed one as ``Typed`` (how
    the site sees it, and what it holds). ``shown_as``: how the site's software shows a date
    column (a strftime pattern, see ``strftime_sql``; default ``%Y-%m-%d``), which also says
    its precision (``Jun 2014`` is known to the month), or a number column (a printf pattern,
    ``%.1f`` or ``%05d``; default the shortest form, ``26`` for 26.0)."""
    if arrow_type == CELL:
        field = {f.name: f"struct_extract({ref}, {sql_str(f.name)})" for f in CELL}
        number, date = field["number"], field["date"]
        text = f"CASE WHEN {date} IS NULL THEN {field['text']} END"
        return Typed(field["text"], number=number, date=date, precision=field["precision"],
                     text=text)  # fmt: skip
    if (
        pa.types.is_integer(arrow_type)
        or pa.types.is_floating(arrow_type)
        or (pa.types.is_decimal(arrow_type))
    ):
        number = f"CAST({ref} AS DOUBLE)"
        whole = f"CAST(CAST({number} AS BIGINT) AS VARCHAR)"
        text = (
            f"CASE WHEN isfinite({number}) AND {number} = trunc({number}) "
            f"AND abs({number}) < 1e15 THEN {whole} ELSE CAST({number} AS VARCHAR) END"
        )
        finite = f"CASE WHEN isfinite({number}) THEN {number} END"
        return Typed(number_shown(finite, shown_as) or text, number=finite, text=text)
    if pa.types.is_date(arrow_type) or pa.types.is_timestamp(arrow_type):
        day = f"CAST({ref} AS DATE)"
        pattern = shown_as or "%Y-%m-%d"
        precision = date_precision(pattern) or "day"
        low = day if precision == "day" else f"CAST(date_trunc('{precision}', {day}) AS DATE)"
        return Typed(strftime_sql(day, pattern), date=low, precision=f"'{precision}'")
    if pa.types.is_boolean(arrow_type):
        shown = f"CASE WHEN {ref} THEN 'true' WHEN NOT {ref} THEN 'false' END"
        return Typed(shown, text=shown)
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return ref
    return Typed(f"CAST({ref} AS VARCHAR)", text=f"CAST({ref} AS VARCHAR)")


def number_shown(number: str, pattern: str | None) -> str | None:
    """SQL for a number as ``pattern`` (printf: ``%.2f``, or ``%05d`` for a whole number with
    leading zeros) shows it; None without a pattern. Only fixed patterns: nothing else reaches
    SQL."""
    if pattern is None or not re.fullmatch(r"%(\.\d{1,2}f|0\d{1,2}d)", pattern):
        return None
    value = f"CAST({number} AS BIGINT)" if pattern.endswith("d") else number
    return f"printf({sql_str(pattern)}, {value})"


# How SPSS, SAS and Excel show dates, beyond strftime: %^b a month's name in capitals (JUN),
# %_b in small letters (jun, Stata), %q the quarter, %K SPSS's week of the year (from 1 January).
_SHOWN_TOKENS = {
    "%^b": "upper(strftime({d}, '%b'))",
    "%_b": "lower(strftime({d}, '%b'))",
    "%q": "CAST(quarter({d}) AS VARCHAR)",
    "%K": "CAST((dayofyear({d}) - 1) // 7 + 1 AS VARCHAR)",
}
_PRECISION_TOKENS = (
    ("day", ("%d", "%-d", "%e", "%j", "%-j")),
    ("month", ("%m", "%-m", "%b", "%B", "%^b", "%_b")),
    ("year", ("%Y", "%y", "%q", "%K")),
)


def date_precision(pattern: str) -> str | None:
    """What a date shown with ``pattern`` is known to: day, month or year (a quarter or a week
    is known to its year); None when it shows no date (a time of day)."""
    for level, tokens in _PRECISION_TOKENS:
        if any(t in pattern for t in tokens):
            return level
    return None


def strftime_sql(day: str, pattern: str) -> str:
    """SQL for a DATE shown with ``pattern`` (strftime, with ``_SHOWN_TOKENS``)."""
    parts = re.split("(" + "|".join(re.escape(t) for t in _SHOWN_TOKENS) + ")", pattern)
    sql = [
        _SHOWN_TOKENS[part].format(d=day)
        if part in _SHOWN_TOKENS
        else f"strftime({day}, {sql_str(part)})"
        for part in parts
        if part
    ]
    return sql[0] if len(sql) == 1 else f"concat({', '.join(sql)})"
