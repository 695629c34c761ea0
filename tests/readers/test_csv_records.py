"""The CSV reader on files as other software writes them: blank and delimiter-only lines, record
numbers after them, UTF-16 when declared, one-column files, and a last record one field long."""

from __future__ import annotations

import codecs
from pathlib import Path

import pyarrow as pa
import pytest

from federate.errors import InputError
from federate.readers import ROW_COLUMN, CsvReader, Reject, Source

READER = CsvReader(delimiter=";", encodings=("utf-8", "cp1252"))


def read(path: Path, reader: CsvReader = READER) -> tuple[pa.Table, list[Reject]]:
    rejects: list[Reject] = []
    batches = list(reader.batches(Source(path, path.name), rejects))
    if not batches:
        return pa.table({}), rejects
    return pa.Table.from_batches(batches), rejects


def write(tmp_path: Path, content: bytes | str) -> Path:
    path = tmp_path / "x.csv"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


# -- record numbers: the row a coordinator finds in the file (Excel's row, the editor's line) ----


@pytest.mark.parametrize("block_size", [1 << 20, 16])
def test_record_numbers_count_blank_lines(tmp_path: Path, block_size: int) -> None:
    path = write(tmp_path, "a;b\n1;x\n\n2;y\n\n\n3;z;extra\n4;w\n")
    table, rejects = read(path, CsvReader(delimiter=";", block_size=block_size))
    assert table.column("a").to_pylist() == ["1", "2", "4"]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 4, 8]  # line 4 is "2;y", line 8 "4;w"
    malformed = [r for r in rejects if not r.deleted]
    assert [(r.row, r.reason) for r in malformed] == [(7, "malformed-row")]


def test_a_blank_line_with_crlf_and_quoted_line_breaks_keeps_the_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, 'a;b\r\n1;"two\r\nlines"\r\n\r\n2;y\r\n')
    table, _ = read(path)
    assert table.column(ROW_COLUMN).to_pylist() == [2, 4]  # the quoted break is one record


# -- blank and delimiter-only records: skipped with a declared reason, counted -------------------


def test_delimiter_only_and_blank_lines_are_skipped_as_blank_records(tmp_path: Path) -> None:
    path = write(tmp_path, 'a;b;c\n1;x;y\n;;\n\n ; ;\n"";"";""\n;\n2;z;w\n')
    table, rejects = read(path)
    assert table.column("a").to_pylist() == ["1", "2"]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 8]
    assert sorted((r.row, r.reason, r.deleted) for r in rejects) == [
        (3, "blank-record", True),
        (4, "blank-record", True),
        (5, "blank-record", True),
        (6, "blank-record", True),
        (7, "blank-record", True),  # ";" is short of fields, yet holds no value either
    ]


def test_a_record_with_one_value_is_not_blank(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b;c\n;;x\n;0;\n")
    table, rejects = read(path)
    assert rejects == []
    assert table.column(ROW_COLUMN).to_pylist() == [2, 3]


def test_blank_lines_of_a_one_column_file_are_blank_records(tmp_path: Path) -> None:
    path = write(tmp_path, "id\n1\n\n2\n")
    table, rejects = read(path)
    assert table.column("id").to_pylist() == ["1", "2"]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 4]
    assert [(r.row, r.reason) for r in rejects] == [(3, "blank-record")]


def test_trailing_blank_lines_are_counted(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b\n1;2\n\n\n")
    table, rejects = read(path)
    assert table.column(ROW_COLUMN).to_pylist() == [2]
    assert [r.row for r in rejects] == [3, 4]


# -- one-column files ----------------------------------------------------------------------------


def test_a_one_column_file_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, "id_paziente\n000123\n000124\n")
    assert READER.columns(Source(path, "x.csv")) == ["id_paziente"]
    table, rejects = read(path)
    assert rejects == []
    assert table.column("id_paziente").to_pylist() == ["000123", "000124"]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 3]


def test_a_quoted_one_column_header_holding_another_delimiter_is_one_column(
    tmp_path: Path,
) -> None:
    path = write(tmp_path, '"peso, kg"\n70,5\n')
    assert READER.columns(Source(path, "x.csv")) == ["peso, kg"]


@pytest.mark.parametrize(
    ("content", "named"),
    [("a,b,c\n1,2,3\n", "','"), ("a\tb\tc\n1\t2\t3\n", "tab"), ("a|b\n1|2\n", "'|'")],
)
def test_a_file_separated_by_another_delimiter_is_refused_in_the_sites_terms(
    tmp_path: Path, content: str, named: str
) -> None:
    path = write(tmp_path, content)
    with pytest.raises(InputError) as caught:
        read(path)
    assert caught.value.code == "wrong-delimiter"
    message = str(caught.value)
    assert named in message and "';'" in message and "export" in message


# -- the last record -----------------------------------------------------------------------------


def test_a_last_record_with_a_field_too_many_is_malformed_not_truncated(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b\n1;2\n3;4;5")  # no final line break
    table, rejects = read(path)
    assert table.column("a").to_pylist() == ["1"]
    assert [(r.row, r.reason) for r in rejects] == [(3, "malformed-row")]
    assert "expected 2 fields, found 3" in rejects[0].detail


def test_a_last_record_short_of_fields_without_a_line_break_is_truncated(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b;c\n1;2;3\n4;5")
    with pytest.raises(InputError) as caught:
        read(path)
    assert caught.value.code == "truncated-file"
    assert caught.value.where is not None and caught.value.where.row == 3


# -- UTF-16, read when declared ------------------------------------------------------------------

TEXT = "id;nome\n000123;Lúcia\n000124;Zoë “Z”\n"


@pytest.mark.parametrize(
    ("declared", "data"),
    [
        ("utf-16", TEXT.encode("utf-16")),  # the mark says the byte order
        ("utf-16", codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be")),
        ("utf-16-le", TEXT.encode("utf-16-le")),  # declared without a mark
        ("utf-16-be", TEXT.encode("utf-16-be")),
    ],
    ids=["utf-16 LE mark", "utf-16 BE mark", "utf-16-le", "utf-16-be"],
)
def test_utf16_is_read_when_declared(tmp_path: Path, declared: str, data: bytes) -> None:
    path = write(tmp_path, data)
    reader = CsvReader(delimiter=";", encodings=(declared, "cp1252"), block_size=16)
    assert reader.columns(Source(path, "x.csv")) == ["id", "nome"]
    table, rejects = read(path, reader)
    assert rejects == []
    assert table.column("nome").to_pylist() == ["Lúcia", "Zoë “Z”"]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 3]
    assert reader.source_facts(Source(path, "x.csv")) == {"encoding": declared}


def test_utf16_after_utf8_in_the_declaration_is_still_found(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT.encode("utf-16"))
    reader = CsvReader(delimiter=";", encodings=("utf-8", "utf-16"))
    table, _ = read(path, reader)
    assert table.column("id").to_pylist() == ["000123", "000124"]


def test_utf16_is_checked_for_truncation_by_its_characters(tmp_path: Path) -> None:
    path = write(tmp_path, "a;b;c\n1;2;3\n4;5".encode("utf-16"))
    with pytest.raises(InputError) as caught:
        read(path, CsvReader(delimiter=";", encodings=("utf-16",)))
    assert caught.value.code == "truncated-file"


def test_utf16_declared_with_a_mark_refuses_a_file_without_one(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT.encode("utf-16-le"))
    with pytest.raises(InputError) as caught:
        read(path, CsvReader(delimiter=";", encodings=("utf-16",)))
    assert caught.value.code == "wrong-encoding"
    assert "byte-order mark" in str(caught.value)


def test_undeclared_utf16_is_refused_without_contradiction(tmp_path: Path) -> None:
    path = write(tmp_path, TEXT.encode("utf-16"))
    with pytest.raises(InputError) as caught:
        read(path)
    assert caught.value.code == "wrong-encoding"
    message = str(caught.value)
    assert "UTF-16" in message and "utf-8 or cp1252" in message
    for declared in ("utf-16", "utf-16-le"):
        path = write(tmp_path, TEXT.encode(declared))
        reader = CsvReader(delimiter=";", encodings=(declared,))
        assert read(path, reader)[0].num_rows == 2  # no "not text in one of utf-16" refusal
