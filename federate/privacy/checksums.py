"""The checks behind each national identifier (DOMAIN.md §4): its embedded date, then its
checksum. Each takes the identifier as matched, separators and all ("54.362.315-K"), and reads
only its digits and letters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable


def _digits(text: str) -> str:
    return re.sub(r"[^0-9]", "", text)


def _alnum(text: str) -> str:
    return re.sub(r"[^0-9A-Z]", "", text.upper())


def date_ok(day: int, month: int, years: Iterable[int]) -> bool:
    for year in years:
        try:
            dt.date(year, month, day)
            return True
        except ValueError:
            continue
    return False


def _ddmmyy_ok(d: str) -> bool:
    return date_ok(int(d[:2]), int(d[2:4]), (1900 + int(d[4:6]), 2000 + int(d[4:6])))


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
    return len(d) == 10 and _ddmmyy_ok(d)


def personnummer(text: str) -> bool:
    """SE personnummer or samordningsnummer (day + 60), 10 or 12 digits: date, then Luhn."""
    d = _digits(text)
    if len(d) == 12:
        century, d = int(d[:2]), d[2:]
        years: tuple[int, ...] = (century * 100 + int(d[:2]),)
    elif len(d) == 10:
        years = (1900 + int(d[:2]), 2000 + int(d[:2]))
    else:
        return False
    day = int(d[4:6])
    day = day - 60 if day > 60 else day
    return date_ok(day, int(d[2:4]), years) and _luhn(d)


def nhs(text: str) -> bool:
    """UK NHS number: weights 10..2, check = 11 - (sum mod 11); 11 -> 0; 10 is invalid."""
    d = _digits(text)
    if len(d) != 10:
        return False
    check = 11 - _mod11(d[:9], tuple(range(10, 1, -1)))
    check = 0 if check == 11 else check
    return check != 10 and check == int(d[9])


def chi(text: str) -> bool:
    """Scottish CHI: DDMMYY + 4 digits, mod 11 as NHS or (newer) Luhn."""
    d = _digits(text)
    return len(d) == 10 and _ddmmyy_ok(d) and (nhs(d) or _luhn(d))


# Odd positions (1-based) of a codice fiscale map 0-9 / A-Z through this table.
_CF_ODD = (
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
)
_OMOCODIA = str.maketrans("LMNPQRSTUV", "0123456789")


def codice_fiscale(text: str) -> bool:
    """IT codice fiscale (omocodia allowed): month letter, day (+40 for women), then the check
    letter from odd/even position values."""
    cf = _alnum(text)
    if len(cf) != 16:
        return False
    total = 0
    for i, ch in enumerate(cf[:15]):
        index = int(ch) if ch.isdigit() else ord(ch) - 65
        total += _CF_ODD[index] if i % 2 == 0 else index
    if chr(65 + total % 26) != cf[15]:
        return False
    day_text = cf[9:11].translate(_OMOCODIA)
    if not day_text.isdigit():
        return False
    day = int(day_text)
    month = "ABCDEHLMPRST".find(cf[8]) + 1
    return month > 0 and 1 <= (day - 40 if day > 40 else day) <= 31


def nir(text: str) -> bool:
    """FR NIR: key = 97 - (first 13 digits mod 97), Corsica 2A -> 19, 2B -> 18."""
    s = _alnum(text)
    if len(s) != 15:
        return False
    corsica = {"2A": "19", "2B": "18"}.get(s[5:7])
    body = s[:5] + corsica + s[7:13] if corsica else s[:13]
    if not (body.isdigit() and s[13:].isdigit()):
        return False
    return 97 - int(body) % 97 == int(s[13:15])


_DNI_LETTERS = "TRWAGMYFPDXBNJZSQVHLCKE"


def dni(text: str) -> bool:
    """ES DNI (8 digits + letter) or NIE (X/Y/Z + 7 digits + letter)."""
    s = _alnum(text)
    if len(s) != 9:
        return False
    number = s[:-1]
    if number[0] in "XYZ":
        number = str("XYZ".index(number[0])) + number[1:]
    return number.isdigit() and _DNI_LETTERS[int(number) % 23] == s[-1]
