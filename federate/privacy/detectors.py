"""The national-identifier and e-mail detectors: how each identifier is written, as a pattern
over canonical text (``spelling``), and the check that confirms it (``checksums``).

A detector's ``core`` is the identifier with the separators people put between its groups
("943 476 5870", "54.362.315-K", "RCCMNL 83S18 D969H"); ``lead`` is a label that may be glued on
before it ("NHS9434765870", "cfRCCMNL83S18D969H"). Only known labels: any letters would make
every lot number or study code ("MSC190312-0042", "PC201708-2201") a date and four digits.
``left`` and ``right`` bound the whole token, so a run of digits inside a longer code, a hash
or the decimals of a number ("0.8067520429") is not read as an identifier. Core and lead are
RE2 and Python syntax alike (no look-around, no capturing groups): the prefilter is the union
of the cores, unbounded, run vectorised over every distinct value.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

from federate.privacy.checksums import chi, codice_fiscale, cpr, dni, nhs, nir, personnummer

Check = Callable[[str], bool]

NOT_AFTER_ALNUM = r"(?<![0-9A-Za-z])"
NOT_BEFORE_ALNUM = r"(?![0-9A-Za-z])"
NOT_DECIMALS = rf"{NOT_AFTER_ALNUM}(?<![0-9][.,])"
# Labels glued on before an identifier, in the six countries' words and abbreviations, and the
# country codes ("ES54362315K" is a Spanish VAT number).
LABEL = (
    "(?i:cpr|cprnr|pnr|persnr|personnr|personnummer|samordningsnummer|nhs|nhsno|nhsnr|chi|cf"
    "|codfisc|codicefiscale|nir|insee|nss|secu|dni|nie|nif|ssn|id|nr|no|num|it|dk|uk|gb|fr|se"
    "|es)?"
)


@dataclass(frozen=True)
class Detector:
    kind: str
    core: str
    check: Check
    lead: str = LABEL
    left: str = NOT_DECIMALS
    right: str = NOT_BEFORE_ALNUM
    free_text_only: bool = False
    needs_lead: bool = False  # the lead is no option but part of the shape ("tlf. 12345678")
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        pattern = f"{self.left}(?:{self.lead})(?P<id>{self.core}){self.right}"
        object.__setattr__(self, "regex", re.compile(pattern))

    @property
    def prefilter(self) -> str:
        """The RE2 pattern a value must match to be a candidate: the core, unbounded (and the
        lead if it is needed: an optional one only makes the automaton bigger)."""
        return f"(?:{self.lead})(?:{self.core})" if self.needs_lead else f"(?:{self.core})"


def sep(extra: str = "") -> str:
    """An optional separator between two groups: space(s), or a dash, dot or slash (``extra``
    adds characters) with a space either side or not. No-break spaces are spaces by now."""
    return rf"(?: ?[-./{extra}] ?| {{1,3}})?"


_S = sep()
_S1 = _S[:-1]  # the same, not optional
_DIGIT_OR_OMOCODIA = "[0-9LMNPQRSTUVlmnpqrstuv]"  # a codice fiscale digit may be a letter
_LETTER_SEP = "(?: ?[-.] ?| )?"  # between a DNI's digits and its letter: no slash ("/L")

ID_DETECTORS: tuple[Detector, ...] = (
    # DDMMYY-SSSS, the date unsplit: "21.10.62-5629" would be any date and four digits.
    Detector("dk-cpr", rf"[0-3][0-9][01][0-9]{{3}}{_S}[0-9]{{4}}", cpr),
    # (YY)YYMMDD-NNNC; "+" for a centenarian.
    Detector(
        "se-personnummer",
        rf"(?:19|20)?[0-9]{{2}}[01][0-9]{{3}}{sep('+')}[0-9]{{4}}",
        personnummer,
    ),
    # 943 476 5870, or unsplit: a 6-4 split ("201708-2201") is some other code.
    Detector("uk-nhs", rf"[0-9]{{3}}(?:{_S1}[0-9]{{3}}{_S1}|[0-9]{{3}})[0-9]{{4}}", nhs),
    # DDMMYY NNNN, or grouped as an NHS number (DDM MYY NNNN).
    Detector("uk-chi", rf"[0-3][0-9][01]{_S}[0-9]{{3}}{_S}[0-9]{{4}}", chi),
    # RCC MNL 83 S 18 D969 H: surname, name, year, month, day, birthplace, check letter.
    Detector(
        "it-codice-fiscale",
        rf"[A-Za-z]{{3}}{_S}[A-Za-z]{{3}}{_S}{_DIGIT_OR_OMOCODIA}{{2}}{_S}[A-Za-z]{_S}"
        rf"{_DIGIT_OR_OMOCODIA}{{2}}{_S}[A-Za-z]{_DIGIT_OR_OMOCODIA}{{3}}{_S}[A-Za-z]",
        codice_fiscale,
    ),
    # 2 95 10 99 126 111 93 (Corsica: 2A / 2B for the département).
    Detector(
        "fr-nir",
        rf"[12]{_S}[0-9]{{2}}{_S}[0-9]{{2}}{_S}(?:[0-9]{{2}}|2[ABab]){_S}[0-9]{{3}}{_S}"
        rf"[0-9]{{3}}{_S}[0-9]{{2}}",
        nir,
    ),
    # 54.362.315-K, or X-2482300-W.
    Detector(
        "es-dni-nie",
        rf"(?:[0-9]{{2}}{_S}[0-9]{{3}}{_S}[0-9]{{3}}|[XYZxyz]{_S}[0-9]{_S}[0-9]{{3}}{_S}"
        rf"[0-9]{{3}}){_LETTER_SEP}[A-Za-z]",
        dni,
    ),
    Detector(
        "email",
        r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}",
        lambda _: True,
        lead="",
    ),
)
