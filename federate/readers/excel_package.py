"""What an .xlsx package says that python-calamine does not: the date system, the error cells
(calamine reads them as empty) and how each date cell is shown (its number format).

A date cell's value is a day count; what the site sees is that count through the cell's number
format (``dd/mm/yyyy hh:mm`` shows 12/06/2014 12:30, ``mmm-yy`` shows Jun-14). The formats are
in ``xl/styles.xml`` (``numFmts``, and ``cellXfs``: a cell's ``s`` attribute indexes it); the
sheet's cells are scanned for theirs as a stream, row by row beside the reader's batches, so
memory does not grow with the sheet.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO

from lxml import etree

_PARSER = {"resolve_entities": False, "no_network": True}
# The system's short date (Excel shows it in the reader's locale): built-in formats 14 and 22
# (with a time), and the East Asian built-ins.
SHORT_DATE = "short date"
_SHORT_DATES = frozenset({14, 22, *range(27, 37), *range(50, 59)})
_BUILT_IN = {15: "d-mmm-yy", 16: "d-mmm", 17: "mmm-yy"}
_TOKEN = re.compile(
    r'"[^"]*"|\\.|\[[^\]]*\]|_.|\*.|am/pm|a/p|e+|y+|m+|d+|h+|s+|0+|.', re.IGNORECASE
)
_CHUNK = 1 << 20


@dataclass(frozen=True)
class Shown:
    """How a date cell is shown: a strftime pattern of its date part (``SHORT_DATE``: the
    system's short date) and what it is known to (day, month or year)."""

    pattern: str
    precision: str


def date_format(code: str) -> Shown | None:
    """An Excel number format as the date it shows (its time of day left out); None when it
    shows no date (a number, a time, elapsed hours)."""
    section = _first_section(code)
    tokens = _TOKEN.findall(section)
    kinds = _kinds(tokens)
    dated = [i for i, k in enumerate(kinds) if k.startswith("date")]
    if not dated:
        return None
    pattern = ""
    span = slice(dated[0], dated[-1] + 1)
    for token, kind in zip(tokens[span], kinds[span], strict=True):
        if kind.startswith("date"):
            pattern += kind.split(":", 1)[1]
        elif kind == "text":
            pattern += _literal(token)
    used = {k.split(":", 1)[1] for k in kinds if k.startswith("date")}
    if used & {"%d", "%-d"}:
        precision = "day"
    elif used & {"%m", "%-m", "%b", "%B"}:
        precision = "month"
    elif used & {"%Y", "%y"}:
        precision = "year"
    else:
        return None  # only the weekday: no date a coordinator could read
    return Shown(pattern.strip(" ,"), precision)


def _first_section(code: str) -> str:
    """The format of positive numbers: up to the first ``;`` outside quotes."""
    quoted = False
    for i, char in enumerate(code):
        if char == '"':
            quoted = not quoted
        elif char == ";" and not quoted:
            return code[:i]
    return code


def _kinds(tokens: list[str]) -> list[str]:
    """Each token as ``date:<strftime>``, ``time``, ``text`` (a literal) or ``skip``. Excel's
    ``m`` is minutes right after an hour or right before a second, else the month."""
    kinds = []
    for i, token in enumerate(tokens):
        low = token.lower()
        if low[0] == "y":
            kinds.append("date:%Y" if len(low) > 2 else "date:%y")
        elif low[0] == "d":
            kinds.append({1: "date:%-d", 2: "date:%d"}.get(len(low), "weekday"))
        elif low[0] == "m" and _is_minute(tokens, i):
            kinds.append("time")
        elif low[0] == "m":
            kinds.append({1: "date:%-m", 2: "date:%m", 3: "date:%b"}.get(len(low), "date:%B"))
        elif low[0] in "hs0" or low in ("am/pm", "a/p") or (low.startswith("[") and _elapsed(low)):
            kinds.append("time")
        elif low.startswith(("[", "_", "*")) or low[0] == "e":
            kinds.append("skip")
        else:
            kinds.append("text")
    return kinds


def _is_minute(tokens: list[str], at: int) -> bool:
    letters = [t.lower().strip("[]") if not t.startswith('"') else "" for t in tokens]
    before = next((t for t in reversed(letters[:at]) if t[:1].isalpha()), "")
    after = next((t for t in letters[at + 1 :] if t[:1].isalpha()), "")
    return before.startswith("h") or after.startswith("s")


def _elapsed(token: str) -> bool:
    return token.strip("[]")[:1] in ("h", "m", "s")


def _literal(token: str) -> str:
    if token.startswith('"'):
        return token.strip('"').replace("%", "%%")
    if token.startswith("\\"):
        return token[1:].replace("%", "%%")
    return token.replace("%", "%%")


def date_styles(package: zipfile.ZipFile) -> dict[int, Shown]:
    """Each cell style (``cellXfs`` index) that shows a date, and how."""
    if "xl/styles.xml" not in package.namelist():
        return {}
    root = etree.fromstring(package.read("xl/styles.xml"), etree.XMLParser(**_PARSER))
    codes = dict(_BUILT_IN)
    for fmt in root.iter("{*}numFmt"):
        if (number := fmt.get("numFmtId", "")).isdigit():
            codes[int(number)] = fmt.get("formatCode", "")
    styles: dict[int, Shown] = {}
    xfs = next(root.iter("{*}cellXfs"), None)
    for index, xf in enumerate(xfs if xfs is not None else ()):
        number = int(xf.get("numFmtId", "0") or 0)
        if number in _SHORT_DATES and number not in codes:
            styles[index] = Shown(SHORT_DATE, "day")
        elif (shown := date_format(codes.get(number, ""))) is not None:
            styles[index] = shown
    return styles


def is_xlsx(path: Path) -> bool:
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as package:
        return "xl/workbook.xml" in package.namelist()


def date1904(path: Path) -> bool:
    if not is_xlsx(path):
        return False
    with zipfile.ZipFile(path) as package:
        root = etree.fromstring(package.read("xl/workbook.xml"), etree.XMLParser(**_PARSER))
    pr = next((e for e in root if etree.QName(e).localname == "workbookPr"), None)
    return pr is not None and pr.get("date1904", "false").lower() in ("1", "true")


def sheet_part(package: zipfile.ZipFile, sheet: str) -> str | None:
    parser = etree.XMLParser(**_PARSER)
    book = etree.fromstring(package.read("xl/workbook.xml"), parser)
    rels = etree.fromstring(package.read("xl/_rels/workbook.xml.rels"), parser)
    rid = next(
        (
            value
            for e in book.iter("{*}sheet")
            if e.get("name") == sheet
            for key, value in e.attrib.items()
            if etree.QName(key).localname == "id"
        ),
        None,
    )
    target = next((r.get("Target") for r in rels if r.get("Id") == rid), None)
    if target is None:
        return None
    if target.startswith("/"):
        return str(target).lstrip("/")
    return str(PurePosixPath("xl") / target)


def error_cells(path: Path, sheet: str) -> dict[int, dict[int, str]]:
    """Sheet column (1-based) -> Excel row -> error value, for a .xlsx sheet's error cells."""
    found: dict[int, dict[int, str]] = {}
    if not is_xlsx(path):
        return found  # .xls, .ods
    with zipfile.ZipFile(path) as package:
        part = sheet_part(package, sheet)
        if part is None or not _contains(package, part, (b't="e"', b"t='e'")):
            return found
        with package.open(part) as xml:
            for _, cell in etree.iterparse(xml, tag="{*}c", **_PARSER):
                if cell.get("t") == "e" and (ref := cell.get("r")):
                    match = re.fullmatch(r"([A-Z]+)(\d+)", ref)
                    value = cell.findtext("{*}v")
                    if match and value:
                        column = column_number(match[1])
                        found.setdefault(column, {})[int(match[2])] = value
                cell.clear()
    return found


_REF = re.compile(rb"""\br\s*=\s*["']([A-Z]+)(\d+)["']""")


def styled_cells(path: Path, sheet: str, styles: frozenset[int]) -> Iterator[tuple[int, int, int]]:
    """(row, column, style) of each cell of ``sheet`` whose style is one of ``styles``, in sheet
    order, streamed: only those cells are looked at (one regex over the XML finds them), so
    the cost is the scan, not a Python step per cell. A cell is found by its reference (``r``),
    which Excel, LibreOffice and the Python writers always write."""
    if not styles or not is_xlsx(path):
        return
    with zipfile.ZipFile(path) as package:
        part = sheet_part(package, sheet)
        if part is None:
            return
        alternatives = b"|".join(str(s).encode() for s in sorted(styles))
        tag = re.compile(rb"<(?:\w+:)?c\b[^>]*?\bs\s*=\s*[\"'](" + alternatives + rb")[\"'][^>]*>")
        with package.open(part) as xml:
            yield from _scan(xml, tag)


def _scan(xml: IO[bytes], tag: re.Pattern[bytes]) -> Iterator[tuple[int, int, int]]:
    tail = b""
    while True:
        chunk = xml.read(_CHUNK)
        text = tail + chunk
        cut = text.rfind(b"<") if chunk else len(text)  # a tag cut by the chunk waits
        text, tail = text[:cut], text[cut:]
        for match in tag.finditer(text):
            ref = _REF.search(match[0])
            if ref:
                yield int(ref[2]), column_number(ref[1].decode("ascii")), int(match[1])
        if not chunk:
            return


def _contains(package: zipfile.ZipFile, part: str, needles: tuple[bytes, ...]) -> bool:
    """Whether a package part holds any of ``needles``, streamed (a sheet can be large)."""
    tail = b""
    with package.open(part) as fh:
        while chunk := fh.read(_CHUNK):
            text = tail + chunk
            if any(n in text for n in needles):
                return True
            tail = text[-8:]
    return False


def column_number(letters: str) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + ord(letter) - 64
    return number
