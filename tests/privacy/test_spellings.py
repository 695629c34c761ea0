"""Identifiers as people type them (issue 22): separators between the groups, labels glued on,
a codice fiscale in groups, full-width and no-break characters, national phone formats. Each is
found with its kind and reported as written, masked; the same spellings with a failed check or
an impossible date are not; nor is ordinary clinical text in any of the six countries' ways."""

from __future__ import annotations

import datetime as dt
import itertools
import subprocess
import sys
import unicodedata
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from federate.privacy.identifiers import (
    chi,
    codice_fiscale,
    cpr,
    dni,
    mask,
    nhs,
    nir,
    personnummer,
    scan_values,
)
from tests.italy_export import FILES, write_italy_export

# Every fixture is a published test value (DOMAIN.md §4) or checked below to be valid.
SPELLINGS = [
    # separators between the groups, no-break spaces and dashes of every kind included
    ("dk-cpr", "211062 5629"),
    ("dk-cpr", "150368 1234"),
    ("dk-cpr", "211062 - 5629"),
    ("dk-cpr", "211062.5629"),
    ("dk-cpr", "211062/5629"),
    ("dk-cpr", "211062\u20135629"),  # en dash
    ("dk-cpr", "211062\u20115629"),  # non-breaking hyphen
    ("se-personnummer", "880320 0016"),
    ("se-personnummer", "19880320 0016"),
    ("se-personnummer", "880320\u00a00016"),
    ("se-personnummer", "701063.2391"),
    ("uk-nhs", "943-476-5870"),
    ("uk-nhs", "943.476.5870"),
    ("uk-nhs", "943/476/5870"),
    ("uk-nhs", "943\u00a0476\u00a05870"),
    ("uk-nhs", "943\u202f476\u202f5870"),
    ("uk-chi", "010101 1237"),
    ("uk-chi", "010 101 1237"),
    ("uk-chi", "010 101 0007"),  # a newer CHI: Luhn, not mod 11
    ("fr-nir", "2 95 10 99 126 111 93"),
    ("fr-nir", "2-95-10-99-126-111-93"),
    ("fr-nir", "2.95.10.99.126.111.93"),
    ("fr-nir", "2 53 07 2B 073 004 70"),
    ("es-dni-nie", "12.345.678-Z"),
    ("es-dni-nie", "54.362.315-K"),
    ("es-dni-nie", "54362315-K"),
    ("es-dni-nie", "54 362 315 K"),
    ("es-dni-nie", "X-2482300-W"),
    ("es-dni-nie", "X 2482300 W"),
    # labels and prefixes glued on
    ("uk-nhs", "NHS9434765919"),
    ("uk-nhs", "NHS9434765870"),
    ("it-codice-fiscale", "cfLMBLRA68C55D969C"),
    ("it-codice-fiscale", "cfRCCMNL83S18D969H"),
    ("dk-cpr", "CPR150368-1234"),
    ("dk-cpr", "CPR 211062-5629"),
    ("se-personnummer", "pnr880320-0016"),
    ("es-dni-nie", "DNI:54362315K"),
    ("es-dni-nie", "NIEX2482300W"),
    ("es-dni-nie", "ES54362315K"),
    ("fr-nir", "NIR295109912611193"),
    # a codice fiscale in groups, in lower case
    ("it-codice-fiscale", "LMBLRA 68C55 D969C"),
    ("it-codice-fiscale", "RCC MNL 83S18 D969H"),
    ("it-codice-fiscale", "RCCMNL-83S18-D969H"),
    ("it-codice-fiscale", "rccmnl83s18d969h"),
    # full-width forms (an Asian keyboard layout, or a copy from a PDF)
    ("it-codice-fiscale", "ＲＣＣＭＮＬ８３Ｓ１８Ｄ９６９Ｈ"),
    ("dk-cpr", "２１１０６２－５６２９"),
    ("uk-nhs", "９４３ ４７６ ５８７０"),
    # invisible characters inside the number
    ("dk-cpr", "2110\u00ad62\u200b5629"),
]

PHONES = [
    "06 12 34 56 78",  # FR
    "06.12.34.56.78",
    "0612345678",
    "07700 900123",  # UK
    "07700 900 123",
    "020 7946 0018",
    "(0161) 496 0000",
    "070-123 45 67",  # SE
    "08-123 456 78",
    "031-12 34 56",
    "06 4991 1234",  # IT
    "02/12345678",
    "347 123 4567",
    "347/1234567",
    "21 43 65 87",  # DK
    "2143 6587",
    "tlf. 21436587",
    "612 345 678",  # ES
    "91 234 56 78",
    "Tel: 612345678",
    "+39 06 4991 1234",  # international
    "0045 21 43 65 87",
    "+44 (0)20 7946 0018",
    "tel0612345678",
    "０６ １２ ３４ ５６ ７８",
]

# The same spellings with a failed check or an impossible date.
NEAR_MISSES = [
    "943 476 5871",
    "943-476-5871",
    "NHS9434765871",
    "321362 5629",  # 32nd of the 13th month
    "CPR321362-5629",
    "880320 0017",
    "19880320 0017",
    "2 95 10 99 126 111 94",
    "2-95-10-99-126-111-94",
    "12.345.678-A",
    "54.362.315-Z",
    "X-2482300-A",
    "DNI:54362315A",
    "RCC MNL 83S18 D969A",
    "cfRCCMNL83S18D969A",
    "RCCMNL83Z18D969H",  # Z is no month
    "ＲＣＣＭＮＬ８３Ｓ１８Ｄ９６９Ａ",
]

CLINICAL = [
    # dates, in every country's way, alone or with a time
    "21/10/2019",
    "21/10/19",
    "1/2/19",
    "21.10.2019",
    "21-10-2019",
    "2019-10-21",
    "20191021",
    "21 10 2019",
    "2019-10-21T10:30:00",
    "21/10/2019 14:30",
    "21.10.2019 14.30",
    "2019-10-21 14 30",
    "05 03 2019 12 30",
    "besøg 01.03.19 kl. 12.30",
    "dal 01/03/2019 al 15/03/2019",
    "01.03.2019-15.03.2019",
    "43759",  # Excel serial day
    "21843",  # SAS day
    # numbers: decimals, thousands, counts
    "0,8067520429",
    "0.8067520429",
    "2.0501457956",
    "1 234,56",
    "1\u00a0234,56",
    "12.345,67",
    "350.000.000 cellule",
    "120 000 000 cells",
    "2500 3000",
    "1.5 × 10⁶ cellule/kg",
    "peso 72,5 kg",
    # codes and ids
    "10029205",
    "MedDRA 10019211, 10029205, 10028245",
    "L04AA23",
    "N07XX09 -> L04AX07",
    "H02AB04",
    "IT-0001",
    "DK-AAR001",
    "SS_01001",
    "MSC-2019-0042",
    "GEN-19-0042",
    "01-701-1015",
    "PC201708-2201",
    "CDISCPILOT01-01-701-1015",
    "visite W0 W4 W12 W24 W28 W36 W48",
    "EDSS 3,5 FS 2 1 0 3 1 2 0",
    "T25FW 6,2 s; 9HPT 21,4/23,1 s; PASAT 48/60",
    # lab values with units
    "Hb 8,5 mmol/L",
    "creatinina 0,9 mg/dL",
    "ALT 0,45 µkat/L",
    "linfociti 1,2 10³/µL",
    "2.5 × 10⁹/L",
    "plaquettes 250 000/mm³",
    "Na 140 mmol/l K 4,1 mmol/l Cl 102 mmol/l",
    "TA 130/85 mmHg FC 72 bpm",
    "CD73 98,5 % CD90 99,1 % CD105 97,3 %",
    "infusione 10.30-11.15",
    "ricovero 3 gg (12/04/2019-15/04/2019)",
]


def found(value: str, free_text: bool = True) -> dict[str, set[str]]:
    """kind -> the matches (as written) in ``value``."""
    hits: dict[str, set[str]] = {}
    for hit in scan_values(pa.array([value]), free_text=free_text):
        hits.setdefault(hit.kind, set()).add(hit.match)
    return hits


CHECKS = {
    "dk-cpr": cpr,
    "se-personnummer": personnummer,
    "uk-nhs": nhs,
    "uk-chi": chi,
    "it-codice-fiscale": codice_fiscale,
    "fr-nir": nir,
    "es-dni-nie": dni,
}
LABELS = ("NHS", "cf", "CPR", "pnr", "DNI:", "NIE", "ES", "NIR")


def test_the_fixtures_are_valid() -> None:
    """Each spelling, its label taken off, passes its kind's check (which reads only the
    digits and letters); so the tests below test the spelling, not the checksum."""
    for kind, value in SPELLINGS:
        text = unicodedata.normalize("NFKC", value)
        for label in LABELS:
            text = text.removeprefix(label)
        assert CHECKS[kind](text), value


@pytest.mark.parametrize(("kind", "value"), SPELLINGS)
def test_each_spelling_is_found_with_its_kind(kind: str, value: str) -> None:
    assert kind in found(value), value
    assert kind in found(f"Pt. ({value}) lamenta cefalea"), value
    assert kind in found(value, free_text=False), value  # identifiers in coded columns too


@pytest.mark.parametrize("value", PHONES)
def test_national_and_international_phone_numbers_in_free_text(value: str) -> None:
    assert "phone" in found(f"richiamare il paziente al {value} domani"), value
    assert "phone" not in found(value, free_text=False), value


@pytest.mark.parametrize("value", NEAR_MISSES)
def test_near_misses_failing_their_checks_are_not_found(value: str) -> None:
    assert found(value, free_text=False) == {}, value
    assert found(f"Pt. ({value}) lamenta cefalea", free_text=False) == {}, value


@pytest.mark.parametrize("value", CLINICAL)
def test_ordinary_clinical_text_is_not_flagged(value: str) -> None:
    assert found(value) == {}, value


def test_a_hit_is_reported_as_written_and_masked() -> None:
    full_width = "ＲＣＣＭＮＬ８３Ｓ１８Ｄ９６９Ｈ"
    assert found(f"cf {full_width}.") == {"it-codice-fiscale": {full_width}}
    assert found("NHS9434765919") == {"uk-nhs": {"9434765919"}}  # the label is not the id
    spaced = "943\u00a0476\u00a05870"
    assert found(f"n. {spaced}") == {"uk-nhs": {spaced}}
    assert mask(full_width) == "Ｒ**************Ｈ"
    assert mask(spaced) == "9**\u00a0***\u00a0***0"
    assert mask("２１１０６２－５６２９") == "２*****－***９"


def test_a_spelling_in_a_verbatim_term_refuses_the_bundle(tmp_path: Path) -> None:
    """The finding, end to end: each of these was written to adverse_events.parquet (exit 0)."""
    export = write_italy_export(tmp_path / "export")
    text = FILES["eventi_avversi.csv"].replace("cefalea", "cefalea (CPR 150368 1234)", 1)
    text = text.replace("urinarie", "urinarie, richiamare al 06 12 34 56 78", 1)
    (export / "eventi_avversi.csv").write_text(text, encoding="utf-8")
    key = tmp_path / "k"
    key.write_text("cd" * 32)
    key.chmod(0o600)
    out = tmp_path / "b"
    command = [sys.executable, "-m", "federate", "ingest", "italy", str(export), "--out", str(out)]
    done = subprocess.run(
        [*command, "--key-file", str(key)], capture_output=True, text=True, check=False
    )
    assert done.returncode == 3, done.stderr
    assert "adverse_events.verbatim_term: dk-cpr 1***** ***4" in done.stderr
    assert "adverse_events.verbatim_term: phone 0* ** ** ** *8 at eventi_avversi.csv row 4" in (
        done.stderr
    )
    assert "150368" not in done.stderr and "12 34 56" not in done.stderr
    assert not out.exists()


# -- any valid identifier, written any way ----------------------------------------------------

SEPARATORS = ["", " ", "-", ".", "/", " - ", "\u00a0", "\u202f", "\u2013"]
GLUED = ["", "NHS", "CPR", "cf", "pnr", "DNI", "NIE", "NIR", "id", "Nr", "CPR ", "id: ", "n. "]
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
DIGITS = "0123456789"

dates = st.dates(dt.date(1920, 1, 1), dt.date(2019, 12, 31))


def completed(body: str, kind: str, tails: list[str]) -> str | None:
    """``body`` and the tail (check digit, letter or key) its kind's own check accepts."""
    return next((body + t for t in tails if CHECKS[kind](body + t)), None)


def numbers(draw: st.DrawFn, n: int) -> str:
    return "".join(draw(st.sampled_from(DIGITS)) for _ in range(n))


@st.composite
def identifiers(draw: st.DrawFn) -> tuple[str, list[str] | None]:
    """A valid identifier of a kind, split into the groups people write it in (None: the body
    drawn has no valid check, as an NHS base whose check digit would be 10)."""
    kind = draw(st.sampled_from(sorted(CHECKS.keys() - {"uk-chi"})))
    born = draw(dates)
    if kind == "dk-cpr":
        return kind, [f"{born:%d%m%y}", numbers(draw, 4)]
    if kind == "se-personnummer":
        century = draw(st.sampled_from(["", f"{born.year // 100}"]))
        text = completed(f"{century}{born:%y%m%d}{numbers(draw, 3)}", kind, list(DIGITS))
        return kind, text and [text[:-4], text[-4:]]
    if kind == "uk-nhs":
        text = completed(numbers(draw, 9), kind, list(DIGITS))
        return kind, text and [text[:3], text[3:6], text[6:]]
    if kind == "fr-nir":
        department = draw(st.sampled_from(["75", "13", "2A", "2B", "99", "01"]))
        body = f"{draw(st.sampled_from('12'))}{born:%y%m}{department}{numbers(draw, 6)}"
        text = completed(body, kind, [f"{k:02d}" for k in range(1, 98)])
        cuts = (0, 1, 3, 5, 7, 10, 13, 15)
        return kind, text and [text[a:b] for a, b in itertools.pairwise(cuts)]
    if kind == "es-dni-nie":
        if draw(st.booleans()):
            text = completed(numbers(draw, 8), kind, list(LETTERS))
            return kind, text and [text[:2], text[2:5], text[5:8], text[8]]
        text = completed(draw(st.sampled_from("XYZ")) + numbers(draw, 7), kind, list(LETTERS))
        return kind, text and [text[0], text[1], text[2:5], text[5:8], text[8]]
    day = born.day + draw(st.sampled_from([0, 40]))  # + 40 for a woman
    name = "".join(draw(st.sampled_from(LETTERS)) for _ in range(6))
    place = draw(st.sampled_from(LETTERS)) + numbers(draw, 3)
    body = f"{name}{born:%y}{'ABCDEHLMPRST'[born.month - 1]}{day:02d}{place}"
    text = completed(body, kind, list(LETTERS))
    return kind, text and [text[:3], text[3:6], text[6:11], text[11:]]


def full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


@settings(max_examples=200, deadline=None)
@given(
    identifier=identifiers(),
    separators=st.lists(st.sampled_from(SEPARATORS), min_size=7, max_size=7),
    glued=st.sampled_from(GLUED),
    wide=st.booleans(),
    lower=st.booleans(),
    context=st.sampled_from([("", ""), ("Pt. (", ") lamenta cefalea"), ("note: ", ", W24")]),
)
def test_any_valid_identifier_in_any_spelling_is_found(
    identifier: tuple[str, list[str] | None],
    separators: list[str],
    glued: str,
    wide: bool,
    lower: bool,
    context: tuple[str, str],
) -> None:
    kind, groups = identifier
    if groups is None:
        return
    if kind == "uk-nhs" and (separators[0] == "") != (separators[1] == ""):
        separators[:2] = [separators[0] or " ", separators[1] or " "]  # 3-3-4, or unsplit
    if kind == "es-dni-nie":  # "12345678/Z" is not how a DNI is written ("10⁹/L" might be)
        separators[len(groups) - 2] = separators[len(groups) - 2].replace("/", "")
    if kind == "se-personnummer" and separators[0] == " - ":
        separators[0] = "+"  # a centenarian's
    text = groups[0] + "".join(s + g for s, g in zip(separators, groups[1:], strict=False))
    text = text.lower() if lower else text
    written = context[0] + glued + (full_width(text) if wide else text) + context[1]
    hits = found(written)
    assert kind in hits, written
    assert all(sum(c.isalnum() for c in mask(m)) <= 2 for m in hits[kind]), written
