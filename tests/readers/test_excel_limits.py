"""Workbooks that would make python-calamine allocate without bound are refused from their
package's XML before it reads them (issue 23): written by hand, part by part, per the OOXML spec
(tests/readers/ooxml.py), as no spreadsheet library would write them."""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from federate.errors import InputError
from federate.readers import ExcelReader, Source, excel_limits
from tests.readers.ooxml import inline, number, row, shared, write_workbook

HEADER = row(1, inline("A1", "Trial No"), inline("B1", "Sex"))
PATIENT = row(2, inline("A2", "MSC01-001"), inline("B2", "F"))


def refusal(path: Path, sheet: str = "Patients") -> InputError:
    with pytest.raises(InputError) as caught:
        reader = ExcelReader()
        source = Source(path, path.name, sheet)
        reader.columns(source)
        list(reader.batches(source, []))
    error = caught.value
    assert error.exit_code == 2 and path.name in str(error), error
    return error


def test_a_cell_at_the_grids_last_cell_is_refused_naming_the_sheet_and_its_span(
    tmp_path: Path,
) -> None:
    far = row(1_048_576, number("XFD1048576", 1))
    path = write_workbook(tmp_path / "MESEMS_UK.xlsx", {"Patients": [HEADER, PATIENT, far]})
    assert path.stat().st_size < 48_000
    error = refusal(path)
    assert error.code == "workbook-too-large"
    assert "sheet 'Patients'" in str(error) and "A1:XFD1048576" in str(error)


def test_cells_without_references_are_placed_as_a_reader_places_them(tmp_path: Path) -> None:
    """A cell without ``r`` follows the cell before it: 16,384 of them in row 1,048,576 span the
    grid as surely as one cell at XFD1048576."""
    last = b'<row r="1048576">' + b"<c><v>1</v></c>" * 16_384 + b"</row>"
    path = write_workbook(tmp_path / "book.xlsx", {"Patients": [HEADER, PATIENT, last]})
    assert refusal(path).code == "workbook-too-large"


@pytest.mark.parametrize("ref", ["XFE1", "A1048577", "AAAA1"])
def test_a_cell_beyond_excels_grid_is_refused(tmp_path: Path, ref: str) -> None:
    path = write_workbook(tmp_path / "book.xlsx", {"Patients": [HEADER, row(3, number(ref, 1))]})
    error = refusal(path)
    assert error.code == "bad-workbook" and "sheet 'Patients'" in str(error)


def test_a_normal_sheet_far_from_a1_reads(tmp_path: Path) -> None:
    cells = [row(n, inline(f"XFC{n}", "id"), inline(f"XFD{n}", f"v{n}")) for n in range(9, 12)]
    path = write_workbook(tmp_path / "book.xlsx", {"Patients": cells})
    reader = ExcelReader()
    source = Source(path, path.name, "Patients")
    assert reader.columns(source) == ["id", "v9"]
    assert sum(b.num_rows for b in reader.batches(source, [])) == 2


def _big_string(size: int) -> Iterator[bytes]:
    yield b"<si><t>"
    for _ in range(size >> 20):
        yield b"x" * (1 << 20)
    yield b"</t></si>"


@pytest.mark.parametrize("where", ["shared", "inline"])
def test_a_text_longer_than_any_cell_holds_is_refused_unread(tmp_path: Path, where: str) -> None:
    """Excel holds at most 32,767 characters in a cell; 8 MB of text between two tags is no
    export (the issue's 1.5 GB string peaked at 8.9 GB of memory)."""
    if where == "shared":
        sheet = [HEADER, row(2, shared("A2", 0))]
        path = write_workbook(tmp_path / "book.xlsx", {"Patients": sheet}, _big_string(8 << 20))
    else:
        cell = b'<c r="A2" t="inlineStr"><is><t>' + b"x" * (8 << 20) + b"</t></is></c>"
        path = write_workbook(tmp_path / "book.xlsx", {"Patients": [HEADER, row(2, cell)]})
    error = refusal(path)
    assert error.code == "workbook-too-large" and "32,767 characters" in str(error)


def _lie_about_size(path: Path, part: str, size: int) -> None:
    """Rewrite a stored entry's declared uncompressed size in its local header and its central
    directory record (APPNOTE 4.3.7 and 4.3.12: offsets 22 and 24)."""
    with zipfile.ZipFile(path) as package:
        info = package.getinfo(part)
    raw = bytearray(path.read_bytes())
    struct.pack_into("<L", raw, info.header_offset + 22, size)
    central = raw.index(b"PK\x01\x02")
    while raw[central + 46 : central + 46 + len(part)] != part.encode():
        central = raw.index(b"PK\x01\x02", central + 4)
    struct.pack_into("<L", raw, central + 24, size)
    path.write_bytes(bytes(raw))


def test_a_part_is_measured_as_it_inflates_not_as_the_zip_declares(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(excel_limits, "MAX_SHARED_STRINGS", 1 << 20)
    strings = b"".join(b"<si><t>%d</t></si>" % i for i in range(200_000))  # 3.4 MB
    path = tmp_path / "book.xlsx"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as package:
        with zipfile.ZipFile(write_workbook(tmp_path / "real.xlsx", {"Patients": [HEADER]})) as w:
            for item in w.infolist():
                package.writestr(item.filename, w.read(item.filename))
        package.writestr("xl/sharedStrings.xml", b"<sst>" + strings + b"</sst>")
    _lie_about_size(path, "xl/sharedStrings.xml", 1000)
    with zipfile.ZipFile(path) as package:
        assert package.getinfo("xl/sharedStrings.xml").file_size == 1000
    error = refusal(path)
    assert error.code == "workbook-too-large" and "shared-string table" in str(error)


def test_a_long_text_under_the_limit_is_read(tmp_path: Path) -> None:
    """900 KB in one cell (more than Excel holds, but under the limit): read, not refused."""
    text = "y" * 900_000
    path = write_workbook(
        tmp_path / "book.xlsx", {"Patients": [HEADER, row(2, inline("A2", text))]}
    )
    reader = ExcelReader()
    source = Source(path, path.name, "Patients")
    (batch,) = list(reader.batches(source, []))
    assert batch.column(0).to_pylist() == [text]
