"""Workbooks written by hand, part by part, as the Office Open XML spec (ECMA-376 Part 1, the
SpreadsheetML package) lays them out: for hostile inputs no spreadsheet library would write (a
cell at XFD1048576, a string of a gigabyte, a sheet of millions of junk rows).

A sheet is given as the XML of its ``<sheetData>`` children (``<row>`` elements), as bytes or as
an iterable of byte chunks, so a large part is streamed into the package, never held whole.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PKG_REL = "http://schemas.openxmlformats.org/package/2006/relationships"
CT = "http://schemas.openxmlformats.org/package/2006/content-types"
_DOC = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument"
_SHEET = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet"
_SST = "http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings"
_SHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"
_BOOK_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"
_SST_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"

Rows = bytes | Iterable[bytes]


def inline(ref: str, text: str) -> bytes:
    """A cell holding an inline string (``t="inlineStr"``)."""
    return f'<c r="{ref}" t="inlineStr"><is><t>{escape(text)}</t></is></c>'.encode()


def number(ref: str, value: float) -> bytes:
    return f'<c r="{ref}"><v>{value}</v></c>'.encode()


def shared(ref: str, index: int) -> bytes:
    """A cell holding the ``index``-th shared string (``t="s"``)."""
    return f'<c r="{ref}" t="s"><v>{index}</v></c>'.encode()


def row(number_: int, *cells: bytes) -> bytes:
    return f'<row r="{number_}">'.encode() + b"".join(cells) + b"</row>"


def write_workbook(
    path: Path, sheets: Mapping[str, Rows], shared_strings: Rows | None = None
) -> Path:
    """A .xlsx of ``sheets`` (name -> rows), and a shared-string table whose ``<si>`` elements
    are ``shared_strings`` when given."""
    names = list(sheets)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as package:
        overrides = "".join(
            f'<Override PartName="/xl/worksheets/sheet{i}.xml" ContentType="{_SHEET_CT}"/>'
            for i in range(1, len(names) + 1)
        )
        if shared_strings is not None:
            overrides += f'<Override PartName="/xl/sharedStrings.xml" ContentType="{_SST_CT}"/>'
        package.writestr(
            "[Content_Types].xml",
            f'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="{CT}">'
            '<Default Extension="rels" ContentType='
            '"application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{_BOOK_CT}"/>{overrides}</Types>',
        )
        package.writestr(
            "_rels/.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL}">'
            f'<Relationship Id="rId1" Type="{_DOC}" Target="xl/workbook.xml"/></Relationships>',
        )
        listed = "".join(
            f'<sheet name={quoteattr(n)} sheetId="{i}" r:id="rId{i}"/>'
            for i, n in enumerate(names, 1)
        )
        package.writestr(
            "xl/workbook.xml",
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{MAIN}" xmlns:r="{REL}">'
            f"<sheets>{listed}</sheets></workbook>",
        )
        rels = "".join(
            f'<Relationship Id="rId{i}" Type="{_SHEET}" Target="worksheets/sheet{i}.xml"/>'
            for i in range(1, len(names) + 1)
        )
        if shared_strings is not None:
            rels += f'<Relationship Id="rId0" Type="{_SST}" Target="sharedStrings.xml"/>'
        package.writestr(
            "xl/_rels/workbook.xml.rels",
            f'<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="{PKG_REL}">'
            f"{rels}</Relationships>",
        )
        for i, name in enumerate(names, 1):
            _stream(
                package,
                f"xl/worksheets/sheet{i}.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="{MAIN}"><sheetData>',
                sheets[name],
                "</sheetData></worksheet>",
            )
        if shared_strings is not None:
            _stream(
                package,
                "xl/sharedStrings.xml",
                f'<?xml version="1.0" encoding="UTF-8"?><sst xmlns="{MAIN}">',
                shared_strings,
                "</sst>",
            )
    return path


def _stream(package: zipfile.ZipFile, name: str, head: str, body: Rows, tail: str) -> None:
    with package.open(name, "w", force_zip64=True) as part:
        part.write(head.encode())
        for chunk in [body] if isinstance(body, bytes) else body:
            part.write(chunk)
        part.write(tail.encode())
