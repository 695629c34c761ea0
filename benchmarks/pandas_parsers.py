"""The adapter's parsers, written the way a competent pandas user would: whole-column string
methods, ``to_numeric``/``to_datetime`` and dictionary ``map`` - never ``apply`` per row.

Used by the pandas + pandera baseline (pandas_pipeline.py). Each function takes the column as
read (strings, ``""`` for an empty cell) and returns the shared column(s).
"""

from __future__ import annotations

import re

import pandas as pd

from federate.adapters.parsers import (
    Code,
    Const,
    Date,
    Decimal,
    Integer,
    Locale,
    Parser,
    PartialDate,
    Text,
    Verbatim,
    YearOf,
)

_SHAPES = {"%d": r"\d{1,2}", "%m": r"\d{1,2}", "%Y": r"\d{4}", "%y": r"\d{2}"}
_NUMBER = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"


def blank_to_na(s: pd.Series) -> pd.Series:
    s = s.str.strip()
    return s.mask(s == "")


def _shape(fmt: str) -> str:
    pattern = re.escape(fmt)
    for token, digits in _SHAPES.items():
        pattern = pattern.replace(re.escape(token), digits)
    return pattern


def _two_digit_year(s: pd.Series, fmt: str, century_start: int) -> pd.Series:
    """dd/mm/yy with the adapter's century window (pandas' own %y pivot is fixed at 1969)."""
    pattern = re.escape(fmt)
    for token, group in (("%d", r"(\d{1,2})"), ("%m", r"(\d{1,2})"), ("%y", r"(\d{2})")):
        pattern = pattern.replace(re.escape(token), group)
    order = re.findall(r"%[dmy]", fmt)
    parts = s.str.extract("^" + pattern + "$")
    parts.columns = [t[1] for t in order]
    numbers = {c: pd.to_numeric(parts[c], errors="coerce") for c in parts.columns}
    base = century_start % 100
    year = century_start - base + (numbers["y"] - base + 100) % 100 + base
    frame = pd.DataFrame({"year": year, "month": numbers["m"], "day": numbers["d"]})
    return pd.to_datetime(frame, errors="coerce")


def dates(s: pd.Series, formats: tuple[str, ...], century_start: int) -> pd.Series:
    """The first format whose shape matches the value; NaT if none reads."""
    out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    for fmt in formats:
        todo = out.isna() & s.notna()
        if not todo.any():
            break
        part = s[todo]
        if "%y" in fmt:
            parsed = _two_digit_year(part, fmt, century_start)
        else:
            shaped = part.where(part.str.fullmatch(_shape(fmt)))
            parsed = pd.to_datetime(shaped, format=fmt, errors="coerce")
        out.loc[todo] = parsed.astype("datetime64[us]")
    return out


def parse(
    name: str, parser: Parser, raw: pd.Series | None, locale: Locale, index: pd.Index
) -> dict[str, pd.Series]:
    """Shared column(s) from one exported column."""
    if isinstance(parser, Const):
        return {name: pd.Series(parser.value, index=index)}
    assert raw is not None
    if isinstance(parser, Verbatim):
        return {name: raw.mask(raw == "")}
    v = blank_to_na(raw)
    if isinstance(parser, Text):
        return {name: v.str.upper() if parser.upper else v}
    if isinstance(parser, Integer):
        whole = v.where(v.str.fullmatch(r"[+-]?[0-9]+").fillna(False).astype(bool))
        return {name: pd.to_numeric(whole, errors="coerce").astype("Int64")}
    if isinstance(parser, Decimal):
        if locale.group:
            v = v.str.replace(locale.group, "", regex=False)
        if locale.decimal != ".":
            v = v.str.replace(locale.decimal, ".", regex=False)
        number = v.where(v.str.fullmatch(_NUMBER).fillna(False).astype(bool))
        return {name: pd.to_numeric(number, errors="coerce").astype("float64")}
    if isinstance(parser, Date):
        start = parser.century_start if parser.century_start is not None else locale.century_start
        return {name: dates(v, parser.formats or locale.date_formats, start)}
    if isinstance(parser, YearOf):
        given = parser.date.century_start
        start = given if given is not None else locale.century_start
        years = dates(v, parser.date.formats or locale.date_formats, start).dt.year
        return {name: years.astype("Int64")}
    if isinstance(parser, PartialDate):
        return _partial(name, parser, raw, v, locale)
    if isinstance(parser, Code):
        lookup = {k.strip().lower(): val for k, val in parser.mapping.items()}
        return {name: v.str.lower().map(lookup)}
    raise TypeError(f"no pandas parser for {type(parser).__name__}")


def _partial(
    name: str, parser: PartialDate, raw: pd.Series, v: pd.Series, locale: Locale
) -> dict[str, pd.Series]:
    start = parser.century_start if parser.century_start is not None else locale.century_start
    levels = {
        "day": dates(v, locale.date_formats, start),
        "month": dates(v, locale.month_formats, start),
        "year": dates(v, locale.year_formats, start),
    }
    value = levels["day"].fillna(levels["month"]).fillna(levels["year"])
    precision = pd.Series(pd.NA, index=v.index, dtype="string")
    for level in ("year", "month", "day"):  # the finest level that reads wins
        precision[levels[level].notna()] = level
    return {
        name: value,
        f"{name}_precision": precision,
        f"{name}_raw": raw.mask(raw == ""),
    }
