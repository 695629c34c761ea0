"""National identifiers, e-mail addresses and phone numbers: found before a bundle is written.

A detector is a pattern bounded by non-alphanumerics (a label may be glued on before it), then
any embedded date, then the checksum (DOMAIN.md §4); ``detectors`` and ``phones`` hold them,
``checksums`` the checks. Values are matched in one canonical spelling (``spelling``: NFKC,
one dash, no invisible characters), so "２１１０６２–５６２９" is found as "211062-5629" is.
The patterns run vectorised (RE2) over each column's distinct values, identifiers in one pass
and, in free text, phone numbers in another; only the candidates go through the Python
patterns and checks, each distinct value once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from federate.privacy.checksums import chi, codice_fiscale, cpr, dni, nhs, nir, personnummer
from federate.privacy.detectors import ID_DETECTORS, Check, Detector
from federate.privacy.phones import PHONE_DETECTORS
from federate.privacy.spelling import Canonical, canonical, canonical_array

__all__ = [
    "DETECTORS",
    "IDENTIFIER_NAMES",
    "Check",
    "Detector",
    "Hit",
    "chi",
    "codice_fiscale",
    "cpr",
    "dni",
    "mask",
    "names_an_identifier",
    "nhs",
    "nir",
    "personnummer",
    "scan_values",
]

DETECTORS: tuple[Detector, ...] = ID_DETECTORS + PHONE_DETECTORS
_CODED = tuple(d for d in DETECTORS if not d.free_text_only)
# The vectorised prefilter (RE2): every detector's core, unbounded, so a superset. Two passes,
# identifiers and phones: one union of both makes RE2's automaton outgrow its cache on long
# runs of digits (300,000 decimals: 2.7 s against 1.0 s for the two).
_IDS = "|".join(d.prefilter for d in _CODED)
_PHONES = "|".join(d.prefilter for d in DETECTORS if d.free_text_only)

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
    """Shows the shape, not the identifier: first and last character kept, every other letter
    or digit (full-width ones too) starred."""
    if len(identifier) <= 4:
        return "*" * len(identifier)
    middle = "".join("*" if ch.isalnum() else ch for ch in identifier[1:-1])
    return identifier[0] + middle + identifier[-1]


def scan_values(values: pa.Array, *, free_text: bool) -> list[Hit]:
    """Every identifier in the distinct values of one text column (phone numbers only if it is
    free text)."""
    detectors, prefilters = (DETECTORS, (_IDS, _PHONES)) if free_text else (_CODED, (_IDS,))
    distinct = pc.unique(values.drop_null())
    ascii_ = pc.string_is_ascii(distinct)
    plain, other = pc.filter(distinct, ascii_), pc.filter(distinct, pc.invert(ascii_))
    candidates = _candidates(plain, plain, prefilters)
    candidates += _candidates(other, canonical_array(other), prefilters)  # few: accents, µ, °
    return [hit for value in candidates for hit in _hits(value, detectors)]


def _candidates(values: pa.Array, text: pa.Array, prefilters: tuple[str, ...]) -> list[str]:
    """The values whose canonical ``text`` matches any prefilter."""
    if len(values) == 0:
        return []
    matched = pc.match_substring_regex(text, prefilters[0])
    for pattern in prefilters[1:]:
        matched = pc.or_(matched, pc.match_substring_regex(text, pattern))
    found: list[str] = pc.filter(values, matched).to_pylist()
    return found


def _hits(value: str, detectors: tuple[Detector, ...]) -> list[Hit]:
    """The identifiers in one value, as written in it; one hit per kind and spelling."""
    text = canonical(value)
    found: dict[tuple[str, str], Hit] = {}
    for detector in detectors:
        for start, end in _confirmed(detector, text):
            match = text.original(start, end)
            found.setdefault((detector.kind, match), Hit(detector.kind, value, match))
    return list(found.values())


def _confirmed(detector: Detector, text: Canonical) -> Iterator[tuple[int, int]]:
    """The spans of the identifiers that pass their check. After a look-alike the search resumes
    one character on, so it cannot hide an identifier that overlaps it."""
    pos = 0
    while (found := detector.regex.search(text.text, pos)) is not None:
        if detector.check(found.group("id")):
            yield found.span("id")
            pos = found.end()
        else:
            pos = found.start() + 1


def names_an_identifier(column: str) -> bool:
    return bool(IDENTIFIER_NAMES.search(column))
