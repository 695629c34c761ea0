"""The shared vocabulary of the site adapters agrees with the shared schema it maps onto."""

from __future__ import annotations

import pytest
from federate.schemas import codelists

from federate.adapters import registry, vocabulary
from federate.adapters.parsers import Code


def test_lab_units_are_the_schemas_canonical_units() -> None:
    assert set(vocabulary.UNIT_SPELLINGS) == set(codelists.LAB_UNITS)


def test_each_unit_spelling_means_one_unit_and_the_canonical_one_is_a_spelling() -> None:
    spellings = [s for group in vocabulary.UNIT_SPELLINGS.values() for s in group]
    assert len(spellings) == len(set(spellings)), "a spelling listed under two units"
    assert all(s == s.strip().lower() for s in spellings), "spellings are listed in lower case"
    for unit, group in vocabulary.UNIT_SPELLINGS.items():
        assert unit.lower() in group, f"{unit} lacks its own spelling"


def test_lab_units_keep_the_sites_spelling_and_order() -> None:
    units = vocabulary.lab_units("µmol/L", "umol/l", "UI/L", "x10^9/L")
    assert list(units.items()) == [
        ("µmol/L", "umol/L"),
        ("umol/l", "umol/L"),
        ("UI/L", "U/L"),
        ("x10^9/L", "10^9/L"),
    ]


def test_an_unknown_unit_spelling_is_an_error_naming_it() -> None:
    with pytest.raises(ValueError, match="'mEq/L' is not in the shared vocabulary"):
        vocabulary.lab_units("mmol/L", "mEq/L")


def test_sex_codes_are_the_schemas() -> None:
    sex = registry.schema().table("subjects").column("sex")
    assert set(vocabulary.SEX_CODES.values()) == set(sex.codes or ())


@pytest.mark.parametrize("site", registry.site_names())
def test_every_sites_reported_units_are_canonical(site: str) -> None:
    for tm in registry.adapter(site).tables:
        if tm.table == "labs":
            parser = tm.fields["unit_reported"]
            assert isinstance(parser, Code)
            assert set(parser.mapping.values()) <= set(codelists.LAB_UNITS)
