"""The UK workbook: written from the truth with real-workbook habits, read by the adapter; NHS
numbers never leave the site; a missing sheet stops the run; bad cells are quarantined by sheet
row and column, and a coordinator can find them."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.adapters.parsers import Code, PartialDate
from federate.cli import main
from federate.errors import PrivacyError
from federate.ingest.run import IngestResult, ingest
from federate.privacy.identifiers import nhs
from federate.privacy.pseudonym import load_key
from federate.readers import ExcelReader, Source
from federate.synth import SynthResult
from federate.synth import run as synth_run
from federate.synth.practice import PRACTICE

UK = registry.adapter("uk")
WORKBOOK = "MESEMS_UK.xlsx"


@pytest.fixture(scope="module")
def trial(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synth_run(tmp_path_factory.mktemp("uk") / "out", seed=7, counts={"uk": 13})


@pytest.fixture(scope="module")
def clean(trial: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    key = load_key("uk", trial.keys["uk"])
    return ingest(UK, trial.export_dir("uk"), tmp_path_factory.mktemp("b") / "bundle", key)


@pytest.fixture
def export(trial: SynthResult, tmp_path: Path) -> Path:
    """A copy of the clean export to damage."""
    return Path(shutil.copytree(trial.export_dir("uk"), tmp_path / "export"))


def rows_of(sheet: Any) -> list[tuple[Any, ...]]:
    return list(sheet.iter_rows(values_only=True))


def truth(trial: SynthResult, table: str) -> pa.Table:
    rows = pq.read_table(trial.truth[table])
    return rows.filter(pc.equal(rows.column("site"), "uk"))


def run_cli(
    export: Path, out: Path, key: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    args = ["ingest", "uk", str(export), "--out", str(out), "--key-file", str(key)]
    with pytest.raises(SystemExit) as done:
        main([*args, "--format", "json"])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


def test_clean_workbook_ingests_with_nothing_quarantined(clean: IngestResult) -> None:
    assert clean.exit_code == 0
    sources = clean.manifest["sources"]
    assert {s["path"] for s in sources} == {WORKBOOK}
    assert [s["part"] for s in sources] == [tm.part for tm in UK.tables]
    assert all(s["facts"]["sheet"] == s["part"] for s in sources)


def test_truth_rows_point_at_excel_rows(trial: SynthResult) -> None:
    book = openpyxl.load_workbook(trial.export_dir("uk") / WORKBOOK)
    for tm in UK.tables:
        rows = truth(trial, tm.table)
        assert set(rows.column("source_file").to_pylist()) == {WORKBOOK}
        sheet = book[str(tm.part)]
        at = rows.column("source_row").to_pylist()
        ids = [sheet.cell(r, 1).value for r in at]
        assert all(isinstance(i, str) and i.upper().startswith("MSC") for i in ids), tm.part
    subjects = truth(trial, "subjects").column("source_row").to_pylist()
    assert subjects[0] == 4  # a title row and a blank row above the header
    assert truth(trial, "mri").column("source_row").to_pylist()[0] == 2
    conmeds = truth(trial, "conmeds").column("source_row").to_pylist()
    assert max(b - a for a, b in itertools.pairwise(conmeds)) == 2  # spacer rows


def test_workbook_has_the_habits_of_a_real_one(trial: SynthResult) -> None:
    book = openpyxl.load_workbook(trial.export_dir("uk") / WORKBOOK)
    assert book.sheetnames[0] == "README" and book["Lookups"].sheet_state == "hidden"
    assert rows_of(book["Patients"])[0][0].startswith("MESEMS UK")
    assert rows_of(book["Patients"])[2][:2] == ("Trial No", "Centre")
    visits = rows_of(book["Visits"])
    serials = [r[3] for r in visits[1:]]
    assert all(isinstance(v, int) and 40000 < v < 45000 for v in serials)  # 2009-2023
    scans = [r[2] for r in rows_of(book["MRI"])[1:]]
    assert {type(v) for v in scans} == {str, dt.datetime}  # typed and typed-in dates
    brain = {type(r[8]) for r in rows_of(book["MRI"])[1:] if r[8] is not None}
    assert str in brain and brain - {str}  # some numbers stored as text
    ae = rows_of(book["Adverse events"])
    assert ae[2][3] == "MedDRA PT code"
    assert all(isinstance(r[3], int) for r in ae[3:] if r[3] is not None)
    assert {r[5] for r in ae[3:]} - {None} == {"18.0"}  # kept as text: a number shows 18
    assert any(all(v is None for v in r) for r in rows_of(book["Concomitant meds"])[1:])


def test_same_truth_same_bytes(trial: SynthResult, tmp_path: Path) -> None:
    again = synth_run(tmp_path / "again", seed=7, counts={"uk": 13})
    first = (trial.export_dir("uk") / WORKBOOK).read_bytes()
    assert (again.export_dir("uk") / WORKBOOK).read_bytes() == first


def test_nhs_numbers_are_valid_and_never_reach_the_bundle(
    trial: SynthResult, clean: IngestResult
) -> None:
    book = openpyxl.load_workbook(trial.export_dir("uk") / WORKBOOK)
    patients = rows_of(book["Patients"])
    at = patients[2].index("NHS number")
    numbers = [r[at] for r in patients[3:]]
    assert len(numbers) == 13 and len(set(numbers)) == 13
    assert all(isinstance(n, str) and nhs(n) for n in numbers)  # a detector would flag a leak
    forms = {n for number in numbers for n in (number, number.replace(" ", ""))}
    files = [p for p in clean.bundle.rglob("*") if p.is_file()]
    assert any(p.suffix == ".parquet" for p in files)
    for path in files:
        if path.suffix == ".parquet":
            text = json.dumps(pq.read_table(path).to_pylist(), default=str)
        elif path.suffix == ".xlsx":
            text = json.dumps([rows_of(ws) for ws in openpyxl.load_workbook(path)], default=str)
        else:
            text = path.read_text("utf-8")
        assert not [n for n in forms if n in text], path.name
    dropped = [c["dropped_identifiers"] for c in clean.report["columns"]]
    assert dropped[0] == ["NHS number"]


def test_an_nhs_number_typed_into_free_text_refuses_the_bundle(
    trial: SynthResult, export: Path, tmp_path: Path
) -> None:
    book = openpyxl.load_workbook(export / WORKBOOK)
    number = rows_of(book["Patients"])[3][7]
    book["Adverse events"]["C4"] = f"headache (NHS {number})"
    book.save(export / WORKBOOK)
    with pytest.raises(PrivacyError, match="uk-nhs"):
        ingest(UK, export, tmp_path / "b", load_key("uk", trial.keys["uk"]))
    assert not (tmp_path / "b").exists()


def test_a_missing_sheet_stops_with_exit_2_naming_it(
    trial: SynthResult, export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    book = openpyxl.load_workbook(export / WORKBOOK)
    del book["Relapses"]
    book.save(export / WORKBOOK)
    code, out, err = run_cli(export, tmp_path / "b", trial.keys["uk"], capsys)
    assert code == 2 and out == ""
    assert "no sheet 'Relapses'" in err and WORKBOOK in err, err
    assert not (tmp_path / "b").exists()


def test_bad_cells_are_quarantined_by_sheet_row_and_column(
    trial: SynthResult, export: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = export / WORKBOOK
    book = openpyxl.load_workbook(path)
    book["MRI"]["C3"] = "31/02/2016"  # Scan date of the second scan
    book["Adverse events"]["P6"] = "severe"  # CTCAE grade of the third event
    book.save(path)

    code, out, _ = run_cli(export, tmp_path / "b", trial.keys["uk"], capsys)
    assert code == 1
    report = json.loads(out)
    found = {
        (q["table"], q["source_file"], q["source_row"], q["column"], q["value"], q["reason"])
        for q in report["quarantine"]["examples"]
    }
    assert found == {
        ("mri", WORKBOOK, 3, "Scan date", "31/02/2016", "invalid-date"),
        ("adverse_events", WORKBOOK, 6, "CTCAE grade", "severe", "invalid-number"),
    }
    # The coordinator's way back to the cell: the table's source names the sheet.
    reader = UK.reader
    assert isinstance(reader, ExcelReader)
    sheets = {s["table"]: s["facts"]["sheet"] for s in report["sources"]}
    refs = []
    for q in report["quarantine"]["examples"]:
        source = Source(path, q["source_file"], sheets[q["table"]])
        refs.append(reader.cell_ref(source, q["source_row"], q["column"]))
    assert sorted(refs) == ["'Adverse events'!P6", "MRI!C3"]
    assert all(
        s["rows_read"] == s["rows_mapped"] + s["rows_quarantined"] for s in report["sources"]
    )


def test_practice_agrees_with_the_adapter() -> None:
    local = PRACTICE["uk"]
    assert (local.decimal, local.group) == (UK.locale.decimal, UK.locale.group)
    formats = (UK.locale.date_formats[0], UK.locale.month_formats[0], UK.locale.year_formats[0])
    assert local.partial_formats == formats
    assert "%Y-%m-%d" in UK.locale.date_formats  # date cells, as the reader renders them
    assert isinstance(UK.table_map("adverse_events").fields["onset_date"], PartialDate)
    units = UK.table_map("labs").fields["unit_reported"]
    assert isinstance(units, Code)
    accepted = {k.lower(): v for k, v in units.mapping.items()}
    for unit, spellings in local.spellings.items():
        assert all(accepted[s.lower()] == unit for s in spellings), unit
    reader = UK.reader
    assert isinstance(reader, ExcelReader)
    assert set(reader.serial_dates) <= {p.source for p in UK.table_map("visits").fields.values()}
