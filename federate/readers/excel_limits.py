"""Limits on a workbook, checked from its package before python-calamine reads it.

python-calamine holds a sheet as one dense grid, from its first used row and column to its last,
and reads the whole shared-string table when the workbook opens. A hostile or broken workbook
can make either as large as it likes in a few kilobytes (one cell at XFD1048576 asks for 17
billion cells, and aborts the process; a deflated 1.5 GB string is 1.5 MB on disk), so what
they would hold is measured first, from the package's XML, and a workbook past a limit is
refused (exit 2) naming the file, the sheet and the limit:

* every part's inflated size (streamed through zlib: the size a zip declares can lie): the
  shared-string table's, a worksheet's, any other part's; and, in the cells, any run of text
  between two tags (Excel itself holds at most 32,767 characters in a cell);
* a sheet's cells within Excel's grid (16,384 columns, 1,048,576 rows), placed as a reader
  places them (a cell or row without its reference follows the one before), and the grid from
  its first to its last cell with a value under ``MAX_CELLS``.
"""

from __future__ import annotations

import re
import struct
import zipfile
import zlib
from collections.abc import Iterator
from functools import lru_cache
from pathlib import Path
from typing import IO

from lxml import etree

from federate.errors import InputError, Location

MAX_COLUMNS = 16_384  # Excel's grid: XFD
MAX_ROWS = 1_048_576
MAX_CELLS = 20_000_000  # the dense grid python-calamine allocates (about 32 bytes a cell)
MAX_SHARED_STRINGS = 256 << 20  # inflated bytes of the shared-string table
MAX_SHEET = 1 << 30  # inflated bytes of a worksheet (its cells are bounded by MAX_CELLS)
MAX_PART = 64 << 20  # inflated bytes of any other part (styles, the workbook, relationships)
MAX_TEXT_RUN = 1 << 20  # bytes of text between two tags; a cell holds at most 32,767 characters
_CHUNK = 1 << 20
_LOCAL_HEADER = struct.Struct("<4s2B4HL2L2H")  # a zip entry's local file header (30 bytes)
_REF = re.compile(r"([A-Za-z]{1,3})([0-9]{1,7})")
_PARSER = {"resolve_entities": False, "no_network": True, "huge_tree": True}


def check_package(path: Path, relpath: str) -> None:
    """Refuse a workbook whose parts inflate past the limits (see the module's note). Not an
    .xlsx package (an .xls, an .ods, a damaged file): left to the reader, which says so."""
    if _is_package(path):
        stat = path.stat()
        _checked_package(str(path), stat.st_size, stat.st_mtime_ns, relpath)


@lru_cache(maxsize=64)  # each sheet of a workbook is opened on its own: the package once
def _checked_package(path: str, size: int, mtime_ns: int, relpath: str) -> None:
    try:
        _check_parts(Path(path), relpath)
    except (OSError, zipfile.BadZipFile, zlib.error, struct.error) as exc:
        raise _refused(relpath, f"the file cannot be read as a workbook: {exc}") from None


def check_sheet(path: Path, relpath: str, sheet: str) -> None:
    """Refuse a sheet whose used grid would be past the limits, before it is read."""
    if _is_package(path):
        stat = path.stat()
        _checked_sheet(str(path), stat.st_size, stat.st_mtime_ns, relpath, sheet)


def _is_package(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as package:
            return "xl/workbook.xml" in package.namelist()
    except (OSError, zipfile.BadZipFile):
        return False


def _check_parts(path: Path, relpath: str) -> None:
    with zipfile.ZipFile(path) as package, path.open("rb") as raw:
        for info in package.infolist():
            name = info.filename.lower()
            strings = name.endswith("sharedstrings.xml")
            cells = strings or name.startswith("xl/worksheets/")
            limit = MAX_SHARED_STRINGS if strings else MAX_SHEET if cells else MAX_PART
            what = "its shared-string table" if strings else f"its part {info.filename}"
            if info.file_size > limit:
                raise _refused(relpath, f"{what} is {_mb(info.file_size)} inflated", limit)
            size = run = 0  # bytes so far; bytes since the last tag opened
            for text in _inflate(raw, info):
                size += len(text)
                if size > limit:
                    raise _refused(relpath, f"{what} inflates past {_mb(limit)}", limit)
                if cells and (run := _longest_run(text, run)) < 0:
                    raise _refused(
                        relpath,
                        f"{what} holds a text of more than {_mb(MAX_TEXT_RUN)} (a cell holds at "
                        "most 32,767 characters)",
                        MAX_TEXT_RUN,
                    )


def _longest_run(text: bytes, run: int) -> int:
    """The bytes since the last ``<`` at the end of ``text``, given ``run`` before it; -1 when
    a stretch without ``<`` is longer than ``MAX_TEXT_RUN`` (a tag's own bytes count too, which
    only errs by a tag's length)."""
    pieces = text.split(b"<")
    first = run + len(pieces[0])
    if len(pieces) == 1:
        return first if first <= MAX_TEXT_RUN else -1
    inner = max(map(len, pieces[1:]))
    return len(pieces[-1]) if max(first, inner) <= MAX_TEXT_RUN else -1


def _inflate(raw: IO[bytes], info: zipfile.ZipInfo) -> Iterator[bytes]:
    """The part's bytes as its compressed data inflate, whatever size the zip declares
    (another reader may not stop there)."""
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        return  # another method: the declared size is all there is to go by
    raw.seek(info.header_offset)
    header = _LOCAL_HEADER.unpack(raw.read(_LOCAL_HEADER.size))
    raw.seek(header[-2] + header[-1], 1)  # the name and the extra field
    inflater = zlib.decompressobj(-15) if info.compress_type == zipfile.ZIP_DEFLATED else None
    left = info.compress_size
    while left > 0 and (chunk := raw.read(min(_CHUNK, left))):
        left -= len(chunk)
        if inflater is None:
            yield chunk
            continue
        yield inflater.decompress(chunk, _CHUNK)
        while inflater.unconsumed_tail:
            yield inflater.decompress(inflater.unconsumed_tail, _CHUNK)


@lru_cache(maxsize=64)
def _checked_sheet(path: str, size: int, mtime_ns: int, relpath: str, sheet: str) -> None:
    with zipfile.ZipFile(path) as package:
        part = _sheet_part(package, sheet)
        if part is None:
            return  # the reader names the sheet it cannot find
        with package.open(part) as xml:
            corners = _plain_corners(xml)
        if corners is not None and _within(*corners):
            return
        with package.open(part) as xml:  # placed one by one, empty cells left out
            _check_grid(xml, relpath, sheet)


_PLAIN_CELL = re.compile(rb'<c r="([A-Z]{1,3})([0-9]{1,7})"')
_ANY_CELL = re.compile(rb"<(?:[^\s/>:<]+:)?c[\s/>]")  # every cell element that opens


def _plain_corners(xml: IO[bytes]) -> tuple[int, int, int, int] | None:
    """The grid's corners (top, bottom, left, right) when every cell opens as the writers
    write it, its reference first (``<c r="B7"``), found by regular expressions over the XML
    (no Python step per cell); None when any cell does not (no reference, a namespace prefix),
    for ``_check_grid`` to place each."""
    top = left = MAX_ROWS + MAX_COLUMNS
    bottom = right = 0
    tail = b""
    while True:
        chunk = xml.read(_CHUNK)
        text = tail + chunk
        cut = text.rfind(b"<") if chunk else len(text)  # a tag cut by the chunk waits
        text, tail = text[:cut], text[cut:]
        plain = _PLAIN_CELL.findall(text)
        if len(plain) != len(_ANY_CELL.findall(text)):
            return None
        if plain:
            letters, numbers = zip(*plain, strict=True)
            columns = [_column(x.decode()) for x in set(letters)]
            rows = [int(x) for x in set(numbers)]
            top, bottom = min(top, *rows), max(bottom, *rows)
            left, right = min(left, *columns), max(right, *columns)
        if not chunk:
            return (top, bottom, left, right) if bottom else None


def _within(top: int, bottom: int, left: int, right: int) -> bool:
    return (
        bottom <= MAX_ROWS and right <= MAX_COLUMNS and _area(top, bottom, left, right) <= MAX_CELLS
    )


def _area(top: int, bottom: int, left: int, right: int) -> int:
    return (bottom - top + 1) * (right - left + 1)


def _sheet_part(package: zipfile.ZipFile, sheet: str) -> str | None:
    from federate.readers.excel_package import sheet_part

    try:
        return sheet_part(package, sheet)
    except (KeyError, etree.XMLSyntaxError):
        return None


def _check_grid(xml: IO[bytes], relpath: str, sheet: str) -> None:
    """Place every cell as a reader does and keep the grid's corners; stop as soon as the grid
    is past the limit. One pass, the sheet's XML streamed and freed row by row."""
    top = left = MAX_ROWS + MAX_COLUMNS
    bottom = right = 0
    row_at = col_at = 0
    place = (0, 0)
    events = etree.iterparse(xml, events=("start", "end"), tag=("{*}row", "{*}c"), **_PARSER)
    for event, element in events:
        is_row = element.tag[-1] == "w"  # only rows and cells are reported: ...row or ...c
        if event == "start" and is_row:
            ref = element.get("r")
            row_at, col_at = (_number(ref, relpath, sheet) if ref else row_at + 1), 0
        elif event == "start":
            ref = element.get("r")
            place = _cell(ref, relpath, sheet) if ref else (row_at, col_at + 1)
            col_at = place[1]
        elif is_row:
            element.clear()
            while element.getprevious() is not None:
                del element.getparent()[0]
        elif len(element):  # a value, a formula or an inline string: a used cell
            row, col = place
            if row > MAX_ROWS or col > MAX_COLUMNS:
                where = f"row {row}, column {_letters(col)}"
                raise _refused(relpath, f"sheet {sheet!r} has a cell beyond Excel's grid ({where})")
            top, bottom, left, right = (
                min(top, row),
                max(bottom, row),
                min(left, col),
                max(right, col),
            )
            if _area(top, bottom, left, right) > MAX_CELLS:
                raise _refused(
                    relpath,
                    f"sheet {sheet!r} spans {bottom - top + 1:,} rows by {right - left + 1:,} "
                    f"columns ({_letters(left)}{top}:{_letters(right)}{bottom}): more than "
                    f"{MAX_CELLS:,} cells",
                    MAX_CELLS,
                )


def _number(text: str, relpath: str, sheet: str) -> int:
    if not text.isdigit() or not 0 < int(text) <= MAX_ROWS:
        raise _refused(relpath, f"sheet {sheet!r} has a row numbered {text[:20]!r}")
    return int(text)


def _cell(ref: str, relpath: str, sheet: str) -> tuple[int, int]:
    match = _REF.fullmatch(ref)
    if match is None:
        raise _refused(relpath, f"sheet {sheet!r} has a cell reference {ref[:20]!r}")
    return int(match[2]), _column(match[1].upper())


def _column(letters: str) -> int:
    column = 0
    for letter in letters:
        column = column * 26 + ord(letter) - 64
    return column


def _letters(column: int) -> str:
    letters = ""
    while column > 0:
        column, rest = divmod(column - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _mb(size: int) -> str:
    return f"{size / (1 << 20):,.0f} MB" if size >= 1 << 20 else f"{size:,} bytes"


def _refused(relpath: str, why: str, limit: int | None = None) -> InputError:
    rule = None if limit is None else "limits on a workbook (federate.readers.excel_limits)"
    return InputError(
        f"the workbook is refused: {why}",
        code="workbook-too-large" if limit else "bad-workbook",
        where=Location(file=relpath, rule=rule),
    )
