"""The CSV reader: encodings, record numbers, malformed records and unreadable files."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from federate.errors import InputError
from federate.readers import ROW_COLUMN, CsvReader, Reject, Source

READER = CsvReader(delimiter=";", encodings=("utf-8", "cp1252"))


def read(path: Path, reader: CsvReader = READER) -> tuple[pa.Table, list[Reject]]:
    rejects: list[Reject] = []
    batches = list(reader.batches(Source(path, path.name), rejects))
    return pa.Table.from_batches(batches), rejects


def test_cp1252_is_not_latin1(tmp_path: Path) -> None:
    text = "a;b\n1;€ 5 – “quoted” l’œuvre\n"
    path = tmp_path / "x.csv"
    path.write_bytes(text.encode("cp1252"))
    table, _ = read(path)
    assert table.column("b").to_pylist() == ["€ 5 – “quoted” l’œuvre"]
    assert READER.source_facts(Source(path, "x.csv")) == {"encoding": "cp1252"}


def test_utf8_bom_is_not_part_of_the_header(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("a;b\n1;ø\n".encode("utf-8-sig"))
    assert READER.columns(Source(path, "x.csv")) == ["a", "b"]
    table, _ = read(path)
    assert table.column_names == ["a", "b", ROW_COLUMN]
    assert table.column("b").to_pylist() == ["ø"]


def test_a_utf8_bom_then_invalid_utf8_names_the_byte_instead_of_falling_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("a;b\n1;ø\n2;".encode("utf-8-sig") + b"\xe9t\xe9\n")
    with pytest.raises(InputError) as caught:
        READER.facts(Source(path, "x.csv"))
    assert caught.value.code == "wrong-encoding"
    assert "from byte 14 (line 3)" in str(caught.value)
    path.write_bytes("a;b\n1;ø\n2;".encode() + b"\xe9t\xe9\n")  # no mark: cp1252
    assert CsvReader(delimiter=";", encodings=READER.encodings).source_facts(
        Source(path, "x.csv")
    ) == {"encoding": "cp1252"}


def test_record_numbers_survive_quoted_newlines_and_malformed_records(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a;b\n1;x\n2;"two\nlines"\n3;y;extra\n4;z\n5\n6;w\n', encoding="utf-8")
    small = CsvReader(delimiter=";", block_size=16)  # many batches
    table, rejects = read(path, small)
    assert table.column("a").to_pylist() == ["1", "2", "4", "6"]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 3, 5, 7]
    assert [(r.row, r.reason) for r in rejects] == [(4, "malformed-row"), (6, "malformed-row")]
    assert "expected 2 fields, found 3" in rejects[0].detail


def test_values_are_kept_exactly_as_written(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a;b\n007;" padded "\nNA;\n', encoding="utf-8")
    table, _ = read(path)
    assert table.column("a").to_pylist() == ["007", "NA"]
    assert table.column("b").to_pylist() == [" padded ", ""]


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "empty-file"),
        ("a;b\n".encode("utf-16"), "wrong-encoding"),
        (b"a;b\n1;\x81\x8d\n", "wrong-encoding"),  # bytes neither UTF-8 nor cp1252 define
        (b"a,b,c\n1,2,3\n", "wrong-delimiter"),
        (b"a;a\n1;2\n", "duplicate-column"),
        (b"a;b\n1;2\n3", "truncated-file"),
        (b'a;b\n1;"2\n', "truncated-file"),
        (b"\n\n", "no-header"),
    ],
)
def test_unreadable_files_raise_input_errors(tmp_path: Path, content: bytes, code: str) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(content)
    with pytest.raises(InputError) as caught:
        read(path)
    assert caught.value.code == code
    assert caught.value.where is not None and caught.value.where.file == "x.csv"


def test_a_header_cell_with_a_line_break_is_one_record(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text('a;"b\nsecond line"\n1;x\n2;y\n', encoding="utf-8")
    table, rejects = read(path)
    assert rejects == []
    assert table.column_names == ["a", "b\nsecond line", ROW_COLUMN]
    assert table.column(ROW_COLUMN).to_pylist() == [2, 3]


def test_a_large_file_is_not_read_far_ahead_of_its_consumer(tmp_path: Path) -> None:
    """pyarrow's reader runs up to 32 blocks ahead: the block size bounds what it holds, so
    memory does not grow with the file (8 MB blocks held 0.3 GB of a 20M-row export)."""
    import time

    path = tmp_path / "big.csv"
    line = b"010001;30/01/2012;creatinina;0,87;mg/dl\n"
    with path.open("wb") as fh:
        fh.write(b"id;data;esame;valore;unita\n")
        for _ in range(40):
            fh.write(line * 50_000)  # 80 MB in all
    baseline = pa.total_allocated_bytes()
    peak = 0
    rows = 0
    for batch in READER.batches(Source(path, path.name), []):
        time.sleep(0.002)  # a consumer slower than the parser, as DuckDB's pass is
        peak = max(peak, pa.total_allocated_bytes() - baseline)
        rows += batch.num_rows
    assert rows == 2_000_000
    assert peak < 64 << 20, f"{peak / 2**20:.0f} MiB held by the reader"


def test_a_blank_header_cell_names_an_unknown_column(tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b";a;b;\n1;2;3;\n")  # a leading and a trailing delimiter
    assert READER.columns(Source(path, "x.csv")) == ["(column 1)", "a", "b", "(column 4)"]
    table, rejects = read(path)
    assert not rejects and table.column("a").to_pylist() == ["2"]
