"""Phone numbers in free text: the international form and each country's own.

A phone number has no checksum, so its shape has to do the work: the groups each country
writes ("06 12 34 56 78", "07700 900123", "070-123 45 67"), the right number of digits, one
kind of separator where a country uses one, and bounds that refuse a number that is only part
of a longer run of digit groups ("2019-03-05 12 30"). A run that reads as a date is not a phone.
Bare eight- or nine-digit runs (DK, ES) count only after a label ("tlf. 12345678"): unlabelled,
they are as often a date (20190312) or a lot number.
"""

from __future__ import annotations

import re

from federate.privacy.checksums import date_ok
from federate.privacy.detectors import NOT_AFTER_ALNUM, NOT_BEFORE_ALNUM, Check, Detector

# Not glued to a digit group before or after ("12.03.2019 14.30" is not two numbers), nor the
# decimals of a number.
_LEFT = rf"{NOT_AFTER_ALNUM}(?<![0-9][-./ ,])"
_RIGHT = rf"{NOT_BEFORE_ALNUM}(?![-./ ][0-9])"
_P = "[ .-]"  # a separator inside a national number


def _groups(text: str) -> list[str]:
    return re.findall(r"[0-9]+", text)


def _separators(text: str) -> set[str]:
    return set(re.findall(r"[^0-9]+", text.strip("+()")))


def _reads_as_date(text: str) -> bool:
    """Whether the first three digit groups are a date: d/m/yyyy, yyyy/m/d, or dd.mm.yy with
    one date separator that the next group does not share (05.03.19 12 30, not 05.03.19.12.30)."""
    groups = _groups(text)
    if len(groups) < 3:
        return False
    a, b, c = groups[:3]
    if len(c) == 4 and len(a) <= 2 and len(b) <= 2:
        return date_ok(int(a), int(b), (int(c),))
    if len(a) == 4 and len(b) <= 2 and len(c) <= 2:
        return date_ok(int(c), int(b), (int(a),))
    seps = re.findall(r"[^0-9]+", text.strip("+()"))
    dated = seps[0] == seps[1] and seps[0] in (".", "/", "-") and seps[2:3] != seps[:1]
    return dated and len(a) == len(b) == len(c) == 2 and date_ok(int(a), int(b), (2000 + int(c),))


def _national(low: int, high: int, *, one_separator: bool = False) -> Check:
    """``low``..``high`` digits, not a date, not a round count in thousands ("350.000.000"),
    and (``one_separator``) one kind of separator throughout, as in "06 12 34 56 78"."""

    def check(text: str) -> bool:
        groups = _groups(text)
        if not low <= len("".join(groups)) <= high or _reads_as_date(text):
            return False
        if len(groups) > 1 and groups[-1] == "000":
            return False
        return not one_separator or len(_separators(text)) <= 1

    return check


def _dk_halves(text: str) -> bool:
    """DK "2345 6789", but not two years ("2019 2020") nor two round amounts ("2500 3000")."""
    a, b = (int(g) for g in _groups(text))
    years = 1900 <= a <= 2099 and 1900 <= b <= 2099
    return not years and not (a % 100 == 0 and b % 100 == 0)


_LABELS = (
    r"(?i:tel|tlf|telf|phone|telephone|t[eé]l[eé]phone|telefon|telefono|tel[eé]fono|mob|mobil"
    r"|mobile|mobilnr|cellulare|portable|m[oó]vil)"
)


def _phone(core: str, check: Check, *, label: str | None = None, right: str = _RIGHT) -> Detector:
    """A phone detector (free text only), a label glued on or not; with ``label``, only after
    that label."""
    lead = label or rf"{_LABELS}?"
    return Detector("phone", core, check, lead, _LEFT, right, True, needs_lead=bool(label))


PHONE_DETECTORS: tuple[Detector, ...] = (
    # +39 06 4991 1234, 0045 21 43 65 87: 8 to 15 digits after the prefix (E.164). Its groups
    # run on, so the longest run is the number: only a letter or digit may not follow.
    _phone(r"(?:\+|00) ?[1-9][0-9 ().-]{6,18}[0-9]", _national(9, 17), right=NOT_BEFORE_ALNUM),
    # FR 06 12 34 56 78 (and IT, UK, SE numbers written bare: 0612345678).
    _phone(rf"0[1-9](?:{_P}?[0-9]{{2}}){{4}}", _national(10, 10, one_separator=True)),
    # UK 07700 900123, 020 7946 0018, (0161) 496 0000.
    _phone(
        rf"\(?0[1-9][0-9]{{1,3}}\)?{_P}?[0-9]{{3,4}}{_P}?[0-9]{{3,4}}",
        _national(10, 11),
    ),
    # SE 070-123 45 67, 08-123 456 78, 031-12 34 56: area code, dash, groups by spaces.
    _phone(r"0[1-9][0-9]{0,3}[- ][0-9]{2,3}(?: ?[0-9]{2,3}){1,3}", _national(8, 10)),
    # IT landline 06 4991 1234, 02/12345678, 0422 123456: the area code, then the number in
    # groups by spaces (dashes throughout, "01-701-1015", are a subject id).
    _phone(r"0[1-9][0-9]{0,2}[ ./-]?[0-9]{3,4} ?[0-9]{3,4}", _national(9, 11)),
    # IT mobile 347 123 4567, 347/1234567, 3471234567.
    _phone(rf"3[1-9][0-9](?:[ ./-]?[0-9]{{7}}|{_P}[0-9]{{3}}{_P}[0-9]{{4}})", _national(10, 10)),
    # DK 21 43 65 87, 2143 6587.
    _phone(rf"[2-9][0-9](?:{_P}[0-9]{{2}}){{3}}", _national(8, 8, one_separator=True)),
    _phone(r"[2-9][0-9]{3} [0-9]{4}", _dk_halves),  # by a space: "2019-0042" is a lot
    # ES 612 345 678, 612 34 56 78, 91 234 56 78.
    _phone(
        rf"[6-9][0-9]{{2}}{_P}[0-9]{{3}}{_P}[0-9]{{3}}|[6-9][0-9]{{2}}(?:{_P}[0-9]{{2}}){{3}}"
        rf"|[89][0-9]{_P}[0-9]{{3}}(?:{_P}[0-9]{{2}}){{2}}",
        _national(9, 9, one_separator=True),
    ),
    # Any of them after a label, bare digits included: "tlf. 12345678", "Tel: 612345678".
    _phone(
        r"\+?[0-9](?:[ ./-]?[0-9]){5,14}",
        _national(6, 15),
        label=rf"{_LABELS}[.:#]{{0,2}} ?(?i:(?:nr|no|n°|num)[.:]? ?)?",
    ),
)
