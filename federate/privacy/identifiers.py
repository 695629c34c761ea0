"""National identifiers, e-mail addresses and phone numbers: found before a bundle is written.

A detector is a pattern bounded by non-alphanumerics, then any embedded date, then the checksum
(DOMAIN.md §4). Patterns run as one vectorised regex pass over each column's distinct values;
only the candidates go through the Python checks, each distinct value once.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

Check = Callable[[str], bool]


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _date_ok(day: int, month: int, years: Iterable[int]) -> bool:
    for year in years:
        try:
            dt.date(year, month, day)
            return True
        except ValueError:
            continue
    return False


def _mod11(digits: str, weights: tuple[int, ...]) -> int:
    return sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def cpr(text: str) -> bool:
    """DK CPR: a real DDMMYY date; the mod-11 check is not guaranteed since 2007, so a valid
    date alone is a probable hit."""
    d = _digits(text)
    return _date_ok(int(d[:2]), int(d[2:4]), (1900 + int(d[4:6]), 2000 + int(d[4:6])))


def personnummer(text: str) -> bool:
    """SE personnummer or samordningsnummer (day + 60), 10 or 12 digits: date, then Luhn."""
    d = _digits(text)
    if len(d) == 12:
        century, d = int(d[:2]), d[2:]
        years: tuple[int, ...] = (century * 100 + int(d[:2]),)
    else:
        years = (1900 + int(d[:2]), 2000 + int(d[:2]))
    day = int(d[4:6])
    day = day - 60 if day > 60 else day
    return _date_ok(day, int(d[2:4]), years) and _luhn(d)


def nhs(text: str) -> bool:
    """UK NHS number: weights 10..2, check = 11 - (sum mod 11); 11 -> 0; 10 is invalid."""
    d = _digits(text)
    check = 11 - _mod11(d[:9], tuple(range(10, 1, -1)))
    check = 0 if check == 11 else check
    return check != 10 and check == int(d[9])


def chi(text: str) -> bool:
    """Scottish CHI: DDMMYY + 4 digits, mod 11 as NHS or (newer) Luhn."""
    d = _digits(text)
    return _date_ok(int(d[:2]), int(d[2:4]), (1900 + int(d[4:6]), 2000 + int(d[4:6]))) and (
        nhs(d) or _luhn(d)
    )


_CF_ODD = [
    1,
    0,
    5,
    7,
    9,
    13,
    15,
    17,
    19,
    21,
    2,
    4,
    18,
    20,
    11,
    3,
    6,
    8,
    12,
    14,
    16,
    10,
    22,
    25,
    24,
    23,
]
_OMOCODIA = str.maketrans("LMNPQRSTUV", "0123456789")


def codice_fiscale(text: str) -> bool:
    """IT codice fiscale (omocodia allowed): check letter from odd/even position values."""
    cf = text.upper()
    total = 0
    for i, ch in enumerate(cf[:15]):
        index = int(ch) if ch.isdigit() else ord(ch) - 65
        total += _CF_ODD[index] if i % 2 == 0 else index
    if chr(65 + total % 26) != cf[15]:
        return False
    digits = cf[6:8] + cf[9:11]
    day = int(digits[2:4].translate(_OMOCODIA))
    month = "ABCDEHLMPRST".find(cf[8]) + 1
    return month > 0 and 1 <= (day - 40 if day > 40 else day) <= 31


def nir(text: str) -> bool:
    """FR NIR: key = 97 - (first 13 digits mod 97), Corsica 2A -> 19, 2B -> 18."""
    s = re.sub(r"\s", "", text).upper()
    body = s[:13].replace("2A", "19", 1) if s[5:7] == "2A" else s[:13]
    body = body.replace("2B", "18", 1) if s[5:7] == "2B" else body
    if not body.isdigit():
        return False
    return 97 - int(body) % 97 == int(s[13:15])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni(text: str) -> bool:
    """ES DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter)."""
    s = text.upper().replace("-", "").replace(" ", "")
    number = s[:-1]
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    return _DNI_LETTERS[int(number) % 23] == s[-1]


def always(_: str) -> bool:
    return True


@dataclass(frozen=True)
class Detector:
    kind: str
    pattern: str  # bounded by non-alphanumerics; no capture groups
    check: Check
    free_text_only: bool = False


_B = r"(?<![0-9A-Za-z])"
_E = r"(?![0-9A-Za-z])"
DETECTORS: tuple[Detector, ...] = (
    Detector("dk-cpr", rf"{_B}[0-3][0-9][01][0-9][0-9]{{2}}-?[0-9]{{4}}{_E}", cpr),
    Detector(
        "se-personnummer",
        rf"{_B}(?:19|20)?[0-9]{{2}}[01][0-9][0-9]{{2}}[-+]?[0-9]{{4}}{_E}",
        personnummer,
    ),
    Detector("uk-nhs", rf"{_B}[0-9]{{3}}[ -]?[0-9]{{3}}[ -]?[0-9]{{4}}{_E}", nhs),
    Detector("uk-chi", rf"{_B}[0-3][0-9][01][0-9][0-9]{{6}}{_E}", chi),
    Detector(
        "it-codice-fiscale",
        rf"{_B}[A-Za-z]{{6}}[0-9LMNPQRSTUVlmnpqrstuv]{{2}}[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{{2}}"
        rf"[A-Za-z][0-9LMNPQRSTUVlmnpqrstuv]{{3}}[A-Za-z]{_E}",
        codice_fiscale,
    ),
    Detector(
        "fr-nir",
        rf"{_B}[12] ?[0-9]{{2}} ?[0-9]{{2}} ?(?:[0-9]{{2}}|2[ABab]) ?[0-9]{{3}} ?[0-9]{{3}} ?"
        rf"[0-9]{{2}}{_E}",
        nir,
    ),
    Detector("es-dni-nie", rf"{_B}(?:[0-9]{{8}}|[XYZxyz][0-9]{{7}})-?[A-Za-z]{_E}", dni),
    Detector("email", rf"{_B}[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{{2,}}{_E}", always),
    Detector(
        "phone", rf"{_B}(?:\+|00)[1-9][0-9 ()-]{{7,16}}[0-9]{_E}", always, free_text_only=True
    ),
)
# The vectorised prefilter (RE2, no look-around): the patterns without their bounds, a superset.
_ANY = "|".join(f"(?:{d.pattern.replace(_B, '').replace(_E, '')})" for d in DETECTORS)

# Column names that announce an identifier, in the six countries' words.
IDENTIFIER_NAMES = re.compile(
    r"(^|[^a-z])(cpr|cpr_?nr|personnumm?er|pnr|samordningsnummer|nhs(_?(no|number|num))?|chi"
    r"|codice_?fiscale|cod_?fisc|cf|nir|insee|secu(rite)?_?sociale|dni|nie|nif|ssn"
    r"|fodselsnummer|national_?id)([^a-z]|$)",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Hit:
    kind: str
    value: str  # the whole cell
    match: str  # the identifier found in it

    @property
    def masked(self) -> str:
        return mask(self.match)


def mask(identifier: str) -> str:
    """Shows the shape, not the identifier: first and last character kept."""
    if len(identifier) <= 4:
        return "*" * len(identifier)
    return identifier[0] + re.sub(r"[0-9A-Za-z]", "*", identifier[1:-1]) + identifier[-1]


def scan_values(values: pa.Array, *, free_text: bool) -> list[Hit]:
    """Every identifier in the distinct values of one text column."""
    distinct = pc.unique(values.drop_null())
    candidates = pc.filter(distinct, pc.match_substring_regex(distinct, _ANY))
    hits = []
    for value in candidates.to_pylist():
        for detector in DETECTORS:
            if detector.free_text_only and not free_text:
                continue
            for found in re.finditer(detector.pattern, value):
                if detector.check(found.group(0)):
                    hits.append(Hit(detector.kind, value, found.group(0)))
    return hits


def names_an_identifier(column: str) -> bool:
    return bool(IDENTIFIER_NAMES.search(column))
