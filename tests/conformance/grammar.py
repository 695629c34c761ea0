"""A site's published rules read as a grammar: every way the spec lets a value be written.

The spec (``federate sites show SITE``) is rendered from the adapter's declaration; this module
reads the same declaration (a ``Code``'s keys, a ``Date``'s formats and two-digit-year window, the
``Locale``'s decimal mark, grouping and month and year formats, a ``LocalId``'s padding) and
writes values with its own code: ``str.format``, ``datetime.strftime`` and string joins. It never
calls a parser's ``render`` nor anything in ``federate/synth``, so the adapter and this writer
agree only if both follow the spec.

It also writes what the rules forbid: a code outside the list, an impossible date, a malformed
number, each with the reason the spec says it is quarantined with.
"""

from __future__ import annotations

import datetime as dt
import random
import re
from dataclasses import dataclass
from typing import Any

from federate.adapters.declaration import LocalId, SiteAdapter
from federate.adapters.parsers import (
    Code,
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


@dataclass(frozen=True)
class Knobs:
    """How freely one export uses what the spec allows (drawn per export)."""

    code_case: bool = False  # codes in another case ("SÌ", "Moderata")
    spaces: bool = False  # spaces around codes, numbers and dates
    grouping: bool = False  # digit grouping where the locale declares one
    trim_zeros: bool = False  # "1,5" for a value the site keeps to 2 places
    two_digit_years: bool = True  # a declared %y format, where the year is in its window
    strip_id_zeros: bool = False  # "124" for patient 000124 (Excel strips them)
    id_case: bool = False  # "sto-001" for STO-001 where ids are upper-cased
    group_mark: str | None = None  # another spelling of the grouping mark (None: the locale's)
    selector_case: bool = False  # codes in another case in the columns that select rows too


@dataclass(frozen=True)
class Forbidden:
    """A value the rules forbid, and how the spec says it is reported."""

    text: str
    reason: str


class Grammar:
    def __init__(self, adapter: SiteAdapter, knobs: Knobs, rng: random.Random):
        self.adapter = adapter
        self.locale: Locale = adapter.locale
        self.knobs = knobs
        self.rng = rng

    # -- the values the spec allows ---------------------------------------------------------

    def text(self, parser: Parser, value: Any, selector: bool = False) -> str:
        """``value`` (a shared value; for ``PartialDate`` a (date, precision) pair) as the site
        may write it under ``parser``; '' for a missing value. A ``selector`` column also
        selects the table's rows (a ``Keep``): its case varies only with ``selector_case``."""
        if value is None:
            return ""
        if isinstance(parser, Code):
            code = self.code(parser, value)
            if selector and not self.knobs.selector_case:
                code = next(k for k in parser.mapping if k.lower() == code.lower())
            return self.pad(code)
        if isinstance(parser, PartialDate):
            return self.partial(parser, *value)
        if isinstance(parser, YearOf):
            day = dt.date(value, 1, 1) + dt.timedelta(days=self.rng.randint(0, 364))
            return self.date(parser.date, day)
        if isinstance(parser, Date):
            return self.pad(self.date(parser, value))
        if isinstance(parser, Decimal):
            return self.pad(self.decimal(parser, value))
        if isinstance(parser, Integer):
            return self.pad(str(value))
        if isinstance(parser, Text):
            return self.pad(self.case(value) if parser.upper else value)
        if isinstance(parser, Verbatim):
            return str(value)
        raise AssertionError(f"no grammar for {type(parser).__name__}")

    def pad(self, text: str) -> str:
        if self.knobs.spaces and self.rng.random() < 0.3:
            return self.rng.choice((" ", "  ")) + text + self.rng.choice(("", " "))
        return text

    def case(self, text: str) -> str:
        """Another case of ``text`` that still means it (Unicode case mapping may leave the
        code page or change the letter: "µ".upper() is the Greek capital mu)."""
        if not self.knobs.code_case:
            return text
        variant = self.rng.choice((text.upper(), text.lower(), text.title(), text))
        ok = variant.lower() == text.lower() and _latin1_safe(variant)
        return variant if ok else text

    def code(self, parser: Code, value: Any) -> str:
        keys = [k for k, v in parser.mapping.items() if _same(v, value)]
        assert keys, f"{parser.source}: no code for {value!r}"
        return self.case(self.rng.choice(keys))

    def date_formats(self, parser: Date | PartialDate, level: str = "day") -> tuple[str, ...]:
        loc = self.locale
        if level == "month":
            return loc.month_formats
        if level == "year":
            return loc.year_formats
        if isinstance(parser, Date) and parser.formats:
            return parser.formats
        return loc.date_formats

    def century(self, parser: Date | PartialDate) -> int:
        own = parser.century_start
        return self.locale.century_start if own is None else own

    def date(self, parser: Date | PartialDate, day: dt.date, level: str = "day") -> str:
        start = self.century(parser)
        usable = [
            f
            for f in self.date_formats(parser, level)
            if "%y" not in f or (self.knobs.two_digit_years and start <= day.year <= start + 99)
        ]
        assert usable, f"{parser.source}: no declared format can write {day} ({level})"
        return strftime(day, self.rng.choice(usable))

    def partial(self, parser: PartialDate, day: dt.date, precision: str) -> str:
        return self.date(parser, day, precision)

    def decimal(self, parser: Decimal, value: float) -> str:
        places = parser.places
        text = f"{value:.{places}f}"
        if self.knobs.trim_zeros and "." in text and self.rng.random() < 0.5:
            text = text.rstrip("0").rstrip(".")
        whole, _, frac = text.partition(".")
        group = self.knobs.group_mark or self.locale.group
        if self.knobs.grouping and group and len(whole.lstrip("-")) > 3:
            whole = _group(whole, group)
        return whole + (self.locale.decimal + frac if frac else "")

    def local_id(self, subject: LocalId, local: str) -> str:
        text = local
        if subject.zero_pad and self.knobs.strip_id_zeros and self.rng.random() < 0.5:
            text = local.lstrip("0") or "0"
        if subject.upper and self.knobs.id_case and self.rng.random() < 0.5:
            text = text.lower()
        return self.pad(text)

    # -- what the spec forbids --------------------------------------------------------------

    def forbidden(self, parser: Parser) -> Forbidden | None:
        """A value ``parser``'s rule forbids, or None when it forbids nothing (free text)."""
        if isinstance(parser, Code):
            keys = {k.strip().lower() for k in parser.mapping}
            word = self.rng.choice(("zzz", "unknown", "n/d", "9", "-1", "maybe"))
            while word in keys:
                word += "x"
            return Forbidden(word, parser.reason)
        if isinstance(parser, Date | PartialDate):
            fmt = self.rng.choice(
                [f for f in self.date_formats(parser) if "%d" in f and "%m" in f] or ["%d/%m/%Y"]
            )
            year = {"%Y": "2014", "%y": "14"}
            impossible = self.rng.choice((("31", "02"), ("30", "02"), ("12", "13"), ("00", "05")))
            text = fmt.replace("%d", impossible[0]).replace("%m", impossible[1])
            for token, shown in year.items():
                text = text.replace(token, shown)
            text = re.sub(r"%[HMS]", "00", text)
            return Forbidden(text, parser.reason)
        if isinstance(parser, YearOf):
            return self.forbidden(parser.date)
        if isinstance(parser, Decimal):
            d = self.locale.decimal
            return Forbidden(
                self.rng.choice((f"1{d}2{d}3", "12a", "--3", f"{d}{d}")), parser.reason
            )
        if isinstance(parser, Integer):
            d = self.locale.decimal
            return Forbidden(self.rng.choice((f"2{d}5", "x7", "3-", "1e")), parser.reason)
        return None

    def misgrouped(self, parser: Parser) -> Forbidden | None:
        """A number whose grouping marks are not in threes: no reading of it is sure."""
        group, d = self.locale.group, self.locale.decimal
        if not isinstance(parser, Decimal) or not group:
            return None
        text = self.rng.choice((f"1{group}50{d}5", f"12{group}5", f"1{group}2{group}3"))
        return Forbidden(text, parser.reason)


def strftime(day: dt.date, fmt: str) -> str:
    """``day`` in a strptime-style format (only the tokens the spec's formats use)."""
    out = fmt
    for token, text in (
        ("%Y", f"{day.year:04d}"),
        ("%y", f"{day.year % 100:02d}"),
        ("%m", f"{day.month:02d}"),
        ("%d", f"{day.day:02d}"),
        ("%H", "00"),
        ("%M", "00"),
        ("%S", "00"),
    ):
        out = out.replace(token, text)
    assert "%" not in out, fmt
    return out


def _group(whole: str, mark: str) -> str:
    sign = "-" if whole.startswith("-") else ""
    digits = whole.lstrip("-")
    head = len(digits) % 3 or 3
    parts = [digits[:head]] + [digits[i : i + 3] for i in range(head, len(digits), 3)]
    return sign + mark.join(parts)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return float(a) == float(b)
    return bool(a == b)


def _latin1_safe(text: str) -> bool:
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True
