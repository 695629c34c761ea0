"""Numbers as sites write them: a digit-grouping mark is read only in well-formed groups of
three, so a value that could mean two things is quarantined, never read as another number."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from federate.adapters import registry
from federate.adapters.docs import site_markdown
from federate.adapters.parsers import Code, Decimal, Integer, Locale, Parser, Text, typed_as_text
from federate.readers.base import CELL

ITALY = registry.adapter("italy").locale
SWEDEN = registry.adapter("sweden").locale
UK = registry.adapter("uk").locale


def parse(parser: Parser, locale: Locale, values: list[str]) -> list[object]:
    table = pa.table({"v": pa.array(values, pa.string())})
    con = duckdb.connect()
    con.register("t", table)
    return [r[0] for r in con.sql(f"SELECT {parser.sql('v', locale)} FROM t").fetchall()]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("1.234,5", 1234.5),
        ("1.234", 1234.0),
        ("12.345.678,25", 12345678.25),
        ("-1.234,5", -1234.5),
        ("1234,5", 1234.5),
        ("0,72", 0.72),
        (" 1.500,0 ", 1500.0),
        # Ill-formed grouping: quarantined, never 1234, 12.34, 104...
        ("1.23,4", None),
        ("12.34", None),
        ("1.2345", None),
        ("10.4", None),
        ("0.72", None),
        ("1..234", None),
        (".234", None),
        ("1.234.5", None),
        ("1,234.5", None),
    ],
)
def test_italian_decimals_take_grouping_only_in_groups_of_three(
    text: str, value: float | None
) -> None:
    assert parse(Decimal("x"), ITALY, [text]) == [value]


@pytest.mark.parametrize(
    ("text", "value"),
    [("1.234", 1234), ("12", 12), ("-3", -3), ("1.23", None), ("12.34", None), ("1,0", None)],
)
def test_italian_whole_numbers_take_the_same_grouping(text: str, value: int | None) -> None:
    assert parse(Integer("x"), ITALY, [text]) == [value]


@pytest.mark.parametrize(
    "text",
    ["1 234,5", "1\u00a0234,5", "1\u202f234,5", "1234,5"],
    ids=["space", "no-break space", "narrow no-break space", "none"],
)
def test_swedish_grouping_is_any_space(text: str) -> None:
    assert parse(Decimal("x"), SWEDEN, [text]) == [1234.5]
    assert parse(Integer("x"), SWEDEN, [text.removesuffix(",5")]) == [1234]


@pytest.mark.parametrize("text", ["1 23,4", "12 34", "1 2345", "1  234"])
def test_swedish_ill_formed_grouping_is_refused(text: str) -> None:
    assert parse(Decimal("x"), SWEDEN, [text]) == [None]


@pytest.mark.parametrize(
    ("text", "value"), [("1,234.5", 1234.5), ("1,234", 1234.0), ("1,5", None), ("12,34", None)]
)
def test_uk_commas_group_only_in_threes(text: str, value: float | None) -> None:
    assert parse(Decimal("x"), UK, [text]) == [value]


def test_the_rule_names_the_grouping_with_the_decimal_mark() -> None:
    italy = Decimal("x").rule(ITALY)
    assert "','" in italy and "'.'" in italy and "three" in italy
    sweden = Decimal("x").rule(SWEDEN)
    assert "space or no-break space" in sweden and "','" in sweden
    assert "\u00a0" not in sweden  # shown in words, not as an invisible character
    assert Decimal("x").rule(Locale(decimal=",")) == "a number with ',' as decimal mark"


def test_the_spec_shows_grouping_marks_visibly() -> None:
    schema = registry.schema()
    sweden = site_markdown(registry.adapter("sweden"), schema)
    assert "\u00a0" not in sweden
    assert "a space or no-break space" in sweden
    italy = site_markdown(registry.adapter("italy"), schema)
    assert "groups of three" in italy


def test_a_number_cell_is_read_as_the_number_it_holds_never_as_its_text() -> None:
    """A typed cell (an ODM float item, a spreadsheet's number) holds 1.5, written "1.500" in
    ODM's form: no whole number, so quarantined, never 1500 by Italy's '.' grouping; a whole
    one is its number whatever its text; a text cell keeps the text rules."""
    cells = pa.array(
        [
            {"text": "1.500", "number": 1.5},
            {"text": "12.0", "number": 12.0},
            {"text": "1.234", "number": None},
        ],
        CELL,
    )
    table = pa.table({"v": cells})
    con = duckdb.connect()
    con.register("t", table)
    ref = typed_as_text('"v"', CELL, ITALY)
    got = [r[0] for r in con.sql(f"SELECT {Integer('v').read(ref, ITALY)} FROM t").fetchall()]
    assert got == [None, 12, 1234]


def test_a_typed_number_reads_as_text_as_its_display_format_shows_it() -> None:
    """A numeric variable whose display format shows one decimal (SPSS F4.1): as text it is
    what the site sees, "26.0"; as a code, the number it holds (1 is code "1", whatever it
    shows); as a number, its number."""
    table = pa.table({"v": pa.array([26.0, 1.0], pa.float64())})
    con = duckdb.connect()
    con.register("t", table)
    ref = typed_as_text('"v"', pa.float64(), SWEDEN, "%.1f")
    parsers = [Text("v"), Code("v", {"1": "ONE"}), Decimal("v")]
    sql = ", ".join(p.read(ref, SWEDEN) for p in parsers)
    assert con.sql(f"SELECT {sql} FROM t").fetchall() == [("26.0", None, 26.0), ("1.0", "ONE", 1.0)]
