"""The parsers of a site adapter's declaration, and the locale they read with.

A site adapter says where each shared column comes from in its export and how to read it:
``fields={"sex": Code("sesso", {"maschio": "M", "femmina": "F"})}``. Every parser renders one
DuckDB SQL expression (so a whole batch is parsed in one vectorised pass) and knows its inverse,
which the simulator uses to write the site's export from the truth.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# Typed cells are read by the parsers below; re-exported for the engine and the tests.
from federate.adapters.typed import Typed as Typed
from federate.adapters.typed import date_precision as date_precision
from federate.adapters.typed import strftime_sql as strftime_sql
from federate.adapters.typed import typed_as_text as typed_as_text
from federate.schema import Scalar
from federate.sqltext import sql_literal, sql_str


def _blank_to_null(ref: str) -> str:
    return f"nullif(trim(CAST({ref} AS VARCHAR)), '')"


# Spaces that group digits: a program writes one or another (Excel and LibreOffice a no-break
# space, French and Swedish locales a narrow one, a hand a plain space), and on screen they look
# the same, so a coordinator can neither see nor choose which: a space grouping takes any.
_SPACES = (" ", "\u00a0", "\u202f")


@dataclass(frozen=True)
class Locale:
    """How a site writes numbers and dates."""

    decimal: str = "."
    # The digit-grouping mark ("" for none), read only in groups of three ("1.234,5"); a space
    # stands for any space (``group_marks``).
    group: str = ""
    date_formats: tuple[str, ...] = ("%Y-%m-%d",)
    # Two-digit years fall in [century_start, century_start + 99].
    century_start: int = 1950
    # Dates known only to the month or the year ("03/2014", "2014").
    month_formats: tuple[str, ...] = ("%m/%Y",)
    year_formats: tuple[str, ...] = ("%Y",)

    @property
    def group_marks(self) -> tuple[str, ...]:
        """The grouping marks read: the declared one, or every space when it is a space."""
        if not self.group:
            return ()
        return _SPACES if self.group in _SPACES else (self.group,)

    def group_words(self, narrow: bool = True) -> str:
        """The grouping mark as a coordinator can read it (a space is invisible in a quote)."""
        if self.group in _SPACES:
            return "a space or no-break space" + (" (or a narrow one)" if narrow else "")
        return repr(self.group)

    def grouping_rule(self, whole: bool = False) -> str:
        """The grouping, for a parser's rule: empty when the site groups no digits."""
        if not self.group:
            return ""
        mark = " " if self.group in _SPACES else self.group
        example = f"1{mark}234" + ("" if whole else f"{self.decimal}5")
        return f" (digits may be grouped by {self.group_words(narrow=False)} in threes: {example})"


class Parser:
    """Turns one exported column into one shared column. Subclasses are plain declarations."""

    source: str | None  # the site's column; None when the value does not come from the export
    reason = "unparseable"

    def sql(self, ref: str, locale: Locale) -> str:
        raise NotImplementedError

    def rule(self, locale: Locale) -> str:
        raise NotImplementedError

    def outputs(self, name: str, ref: str, locale: Locale) -> dict[str, str]:
        """Shared column(s) this parser fills; the first is the one whose failure is reported."""
        return {name: self.read(ref, locale)}

    def read(self, ref: str, locale: Locale) -> str:
        """SQL for the value of ``ref``: a typed cell as what it holds, text by ``sql``."""
        return self.typed_sql(ref, locale) if isinstance(ref, Typed) else self.sql(ref, locale)

    def typed_sql(self, ref: Typed, locale: Locale) -> str:
        """A typed cell: by default its value as the site sees it, read by the text rule (a
        code, a text); parsers of numbers and dates read what the cell holds."""
        return self.sql(ref, locale)

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        """The inverse: shared values -> strings as the site writes them (for the simulator)."""
        raise NotImplementedError

    def render_columns(
        self, columns: Mapping[str, pa.Array], name: str, locale: Locale, rng: np.random.Generator
    ) -> pa.Array:
        """The inverse for parsers that fill several shared columns (default: one)."""
        return self.render(columns[name], locale, rng)


@dataclass(frozen=True)
class Text(Parser):
    source: str | None
    upper: bool = False
    reason = "bad-text"

    def sql(self, ref: str, locale: Locale) -> str:
        expr = _blank_to_null(ref)
        return f"upper({expr})" if self.upper else expr

    def rule(self, locale: Locale) -> str:
        return "text"

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        return pc.cast(values, pa.string())


@dataclass(frozen=True)
class Verbatim(Parser):
    """The value exactly as exported (only an empty cell becomes missing)."""

    source: str | None
    reason = "bad-text"

    def sql(self, ref: str, locale: Locale) -> str:
        return f"nullif(CAST({ref} AS VARCHAR), '')"

    def rule(self, locale: Locale) -> str:
        return "text, kept as exported"

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        return pc.cast(values, pa.string())


@dataclass(frozen=True)
class Integer(Parser):
    source: str | None
    reason = "invalid-number"

    def sql(self, ref: str, locale: Locale) -> str:
        v = _ungrouped(_blank_to_null(ref), locale)
        return f"CASE WHEN regexp_full_match({v}, '[+-]?[0-9]+') THEN TRY_CAST({v} AS BIGINT) END"

    def rule(self, locale: Locale) -> str:
        return "a whole number" + locale.grouping_rule(whole=True)

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        return pc.cast(values, pa.string())

    def typed_sql(self, ref: Typed, locale: Locale) -> str:
        # A number cell is read as the number it holds, never again as text: 1.5 shown "1.500"
        # (an ODM float) is no whole number, not 1500 by a locale's '.' grouping.
        n = ref.number
        whole = f"CASE WHEN {n} = trunc({n}) AND abs({n}) < 1e15 THEN CAST({n} AS BIGINT) END"
        return f"CASE WHEN {n} IS NULL THEN {self.sql(ref.text, locale)} ELSE {whole} END"


_NUMBER = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"


def _ungrouped(v: str, locale: Locale) -> str:
    """``v`` without its grouping marks, or NULL when a mark is there but not in well-formed
    groups of three before the decimal mark: "1.23,4", "12.34" or "1.2345" (Italy) could be
    another number mistyped, or a decimal point where a comma is due, and are never read as
    1234, 12.34 or 12345."""
    marks = locale.group_marks
    if not marks:
        return v
    group = "[" + "".join(re.escape(m) for m in marks) + "]"
    decimal = re.escape(locale.decimal)
    grouped = rf"[+-]?[0-9]{{1,3}}({group}[0-9]{{3}})+({decimal}[0-9]*)?([eE][+-]?[0-9]+)?"
    stripped = v
    for mark in marks:
        stripped = f"replace({stripped}, {sql_str(mark)}, '')"
    return (
        f"CASE WHEN NOT regexp_matches({v}, {sql_str(group)}) THEN {v} "
        f"WHEN regexp_full_match({v}, {sql_str(grouped)}) THEN {stripped} END"
    )


@dataclass(frozen=True)
class Decimal(Parser):
    source: str | None
    places: int = 2  # how many decimals the site's export carries (the simulator writes these)
    reason = "invalid-number"

    def sql(self, ref: str, locale: Locale) -> str:
        v = _ungrouped(_blank_to_null(ref), locale)
        if locale.decimal != ".":
            v = f"replace({v}, {sql_str(locale.decimal)}, '.')"
        return (
            f"CASE WHEN regexp_full_match({v}, {sql_str(_NUMBER)}) THEN TRY_CAST({v} AS DOUBLE) END"
        )

    def rule(self, locale: Locale) -> str:
        return f"a number with {locale.decimal!r} as decimal mark" + locale.grouping_rule()

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        floats = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
        mask = np.isnan(floats)
        text = np.char.mod(f"%.{self.places}f", np.where(mask, 0.0, floats))
        if locale.decimal != ".":
            text = np.char.replace(text, ".", locale.decimal)
        return pa.array(text.tolist(), pa.string(), mask=mask)

    def typed_sql(self, ref: Typed, locale: Locale) -> str:
        return f"coalesce({ref.number}, {self.sql(ref.text, locale)})"


_FORMAT_GROUPS = {"%d": r"(?P<d>\d{1,2})", "%m": r"(?P<m>\d{1,2})", "%y": r"(?P<y>\d{2})"}
_FORMAT_SHAPES = {
    "%d": r"\d{1,2}",
    "%m": r"\d{1,2}",
    "%Y": r"\d{4}",
    "%y": r"\d{2}",
    "%H": r"\d{1,2}",
    "%M": r"\d{2}",
    "%S": r"\d{2}",
}


def human_format(fmt: str) -> str:
    """``%d/%m/%Y`` -> ``dd/mm/yyyy``: how coordinators read a date format."""
    for token, text in (
        ("%d", "dd"),
        ("%m", "mm"),
        ("%Y", "yyyy"),
        ("%y", "yy"),
        ("%H", "HH"),
        ("%M", "MM"),
        ("%S", "SS"),
    ):
        fmt = fmt.replace(token, text)
    return fmt


def _format_shape(fmt: str) -> str:
    """A full-match regex for a strptime format (DuckDB's %Y would read "83" as year 83)."""
    pattern = re.escape(fmt)
    for token, shape in _FORMAT_SHAPES.items():
        pattern = pattern.replace(re.escape(token), shape)
    return pattern


def _two_digit_year_sql(v: str, fmt: str, century_start: int) -> str:
    """Parse a %y format with an explicit century window (DuckDB's own %y pivot is fixed)."""
    pattern = re.escape(fmt)
    for token, group in _FORMAT_GROUPS.items():
        pattern = pattern.replace(re.escape(token), group)
    unknown = re.findall(r"%[a-zA-Z]", pattern)
    if unknown:
        raise ValueError(f"two-digit-year format {fmt!r} may only use %d, %m and %y")
    pattern = re.sub(r"\?P<\w>", "", pattern)
    order = [t for t in re.findall(r"%[dmy]", fmt)]
    parts = {t[1]: f"regexp_extract({v}, {sql_str(pattern)}, {i + 1})" for i, t in enumerate(order)}
    base = century_start % 100
    yy = f"TRY_CAST({parts['y']} AS INTEGER)"
    year = f"({century_start - base} + ({yy} - {base} + 100) % 100 + {base})"
    iso = f"concat({year}, '-', {parts['m']}, '-', {parts['d']})"
    matches = f"regexp_full_match({v}, {sql_str(pattern)})"
    return f"CASE WHEN {matches} THEN try_strptime({iso}, '%Y-%m-%d') END"


@dataclass(frozen=True)
class Date(Parser):
    source: str | None
    formats: tuple[str, ...] | None = None  # default: the site locale's
    century_start: int | None = None  # default: the site locale's
    reason = "invalid-date"

    def _formats(self, locale: Locale) -> tuple[str, ...]:
        return self.formats or locale.date_formats

    def sql(self, ref: str, locale: Locale) -> str:
        start = self.century_start if self.century_start is not None else locale.century_start
        return _try_formats(_blank_to_null(ref), self._formats(locale), start)

    def rule(self, locale: Locale) -> str:
        return "a real date as " + " or ".join(human_format(f) for f in self._formats(locale))

    def typed_sql(self, ref: Typed, locale: Locale) -> str:
        # A date cell shown to the month or the year is no full date: never a day invented.
        day = f"CASE WHEN {ref.precision} = 'day' THEN {ref.date} END"
        return f"coalesce({day}, {self.sql(ref.text, locale)})"

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        return pc.strftime(pc.cast(values, pa.timestamp("s")), format=self._formats(locale)[0])


def _try_formats(v: str, formats: tuple[str, ...], century_start: int) -> str:
    tries = []
    for fmt in formats:
        if "%y" in fmt:
            tries.append(_two_digit_year_sql(v, fmt, century_start))
        else:
            shape = sql_str(_format_shape(fmt))
            tries.append(
                f"CASE WHEN regexp_full_match({v}, {shape}) "
                f"THEN try_strptime({v}, {sql_str(fmt)}) END"
            )
    return f"CAST(coalesce({', '.join(tries)}) AS DATE)"


@dataclass(frozen=True)
class PartialDate(Parser):
    """A date that may be known only to the month or the year. Fills three shared columns:
    NAME (the lower bound), NAME_precision (day, month, year) and NAME_raw (as exported)."""

    source: str | None
    century_start: int | None = None
    reason = "invalid-date"

    def _levels(self, v: str, locale: Locale) -> list[tuple[str, str]]:
        start = self.century_start if self.century_start is not None else locale.century_start
        return [
            ("day", _try_formats(v, locale.date_formats, start)),
            ("month", _try_formats(v, locale.month_formats, start)),
            ("year", _try_formats(v, locale.year_formats, start)),
        ]

    def sql(self, ref: str, locale: Locale) -> str:
        return self.outputs("d", ref, locale)["d"]

    def outputs(self, name: str, ref: str, locale: Locale) -> dict[str, str]:
        # A date cell holds its date and the precision its format shows; text is parsed.
        typed = ref if isinstance(ref, Typed) else None
        text = _blank_to_null(typed.text if typed else ref)
        levels = [(f"'{level}'", expr) for level, expr in self._levels(text, locale)]
        if typed:
            levels.insert(0, (typed.precision, typed.date))
        lower = f"coalesce({', '.join(expr for _, expr in levels)})"
        precision = " ".join(f"WHEN {expr} IS NOT NULL THEN {lv}" for lv, expr in levels)
        return {
            name: lower,
            f"{name}_precision": f"CASE {precision} END",
            f"{name}_raw": f"nullif(CAST({ref} AS VARCHAR), '')",
        }

    def rule(self, locale: Locale) -> str:
        formats = [*locale.date_formats, *locale.month_formats, *locale.year_formats]
        return "a real date, month or year as " + " or ".join(human_format(f) for f in formats)

    def render_columns(
        self, columns: Mapping[str, pa.Array], name: str, locale: Locale, rng: np.random.Generator
    ) -> pa.Array:
        stamps = pc.cast(columns[name], pa.timestamp("s"))
        precision = columns[f"{name}_precision"]
        by_level = {
            "day": pc.strftime(stamps, format=locale.date_formats[0]),
            "month": pc.strftime(stamps, format=locale.month_formats[0]),
            "year": pc.strftime(stamps, format=locale.year_formats[0]),
        }
        return pc.case_when(
            pc.make_struct(*(pc.equal(precision, level) for level in by_level)),
            *by_level.values(),
        )

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        return pc.strftime(pc.cast(values, pa.timestamp("s")), format=locale.date_formats[0])


@dataclass(frozen=True)
class YearOf(Parser):
    """Keeps only the year of an exported full date (e.g. a date of birth)."""

    date: Date
    reason = "invalid-date"

    @property
    def source(self) -> str | None:  # type: ignore[override]
        return self.date.source

    def sql(self, ref: str, locale: Locale) -> str:
        return f"CAST(year({self.date.read(ref, locale)}) AS BIGINT)"

    def rule(self, locale: Locale) -> str:
        return self.date.rule(locale)

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        years = pc.cast(values, pa.int64()).to_numpy(zero_copy_only=False)
        days = rng.integers(0, 365, size=len(years))
        dates = [
            None if np.isnan(y) else dt.date(int(y), 1, 1) + dt.timedelta(days=int(d))
            for y, d in zip(years.astype(float), days, strict=True)
        ]
        return self.date.render(pa.array(dates, pa.date32()), locale, rng)


@dataclass(frozen=True)
class Code(Parser):
    """A site code list mapped onto the shared one; matching ignores case and outer spaces."""

    source: str | None
    mapping: Mapping[str, Scalar]
    reason = "unknown-code"

    def sql(self, ref: str, locale: Locale) -> str:
        v = f"lower({_blank_to_null(ref)})"
        whens = " ".join(
            f"WHEN {sql_str(k.strip().lower())} THEN {sql_literal(val)}"
            for k, val in self.mapping.items()
        )
        return f"CASE {v} {whens} END"

    def rule(self, locale: Locale) -> str:
        return "one of " + ", ".join(self.mapping)

    def typed_sql(self, ref: Typed, locale: Locale) -> str:
        # A number cell's code is its number (1, whether the file shows it "1" or "1.00"); any
        # other cell's, what the site sees.
        return f"coalesce({self.sql(ref.text, locale)}, {self.sql(ref, locale)})"

    def render(self, values: pa.Array, locale: Locale, rng: np.random.Generator) -> pa.Array:
        inverse: dict[Scalar, str] = {}
        for site_code, shared in self.mapping.items():
            inverse.setdefault(shared, site_code)
        return pa.array(
            [None if v is None else inverse[v] for v in values.to_pylist()], pa.string()
        )


@dataclass(frozen=True)
class Const(Parser):
    """A value the export does not carry because it is the same for every row of the site."""

    value: Scalar
    source: str | None = None

    def sql(self, ref: str, locale: Locale) -> str:
        return sql_literal(self.value)

    def rule(self, locale: Locale) -> str:
        return f"always {self.value}"
