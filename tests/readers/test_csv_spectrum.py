"""The CSV reader parses every csv-spectrum case to exactly its JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pytest

from federate.readers import ROW_COLUMN, CsvReader, Reject, Source
from tests.conftest import corpus_root

SPECTRUM = corpus_root() / "csv" / "csv-spectrum"
BROKEN_UPSTREAM = {"location_coordinates"}  # its JSON is wrong upstream (corpus README)
CASES = sorted(p.stem for p in (SPECTRUM / "csvs").glob("*.csv") if p.stem not in BROKEN_UPSTREAM)


def read_all(path: Path, reader: CsvReader) -> tuple[list[dict[str, str]], list[int], list[Reject]]:
    rejects: list[Reject] = []
    batches = list(reader.batches(Source(path, path.name), rejects))
    table = pa.Table.from_batches(batches) if batches else None
    if table is None:
        return [], [], rejects
    rows = table.drop_columns([ROW_COLUMN]).to_pylist()
    return rows, table.column(ROW_COLUMN).to_pylist(), rejects


def test_every_case_is_present() -> None:
    assert len(CASES) == 11


def crlf_copy(case: str, tmp_path: Path) -> Path:
    """The *_crlf cases as upstream meant them: the corpus copy lost its CRs (.gitattributes
    asks git to restore them on checkout), and their JSON expects CRLF inside quoted values."""
    path = tmp_path / f"{case}.csv"
    raw = (SPECTRUM / "csvs" / f"{case}.csv").read_bytes()
    path.write_bytes(raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    return path


@pytest.mark.parametrize("case", CASES)
def test_parses_to_its_json(case: str, tmp_path: Path) -> None:
    expected = json.loads((SPECTRUM / "json" / f"{case}.json").read_text("utf-8"))
    path = SPECTRUM / "csvs" / f"{case}.csv"
    if case.endswith("_crlf"):
        path = crlf_copy(case, tmp_path)
    rows, numbers, rejects = read_all(path, CsvReader())
    assert rejects == []
    assert rows == expected
    assert numbers == list(range(2, 2 + len(expected)))
