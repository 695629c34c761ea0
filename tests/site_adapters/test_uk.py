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
    assert code == 2 and json.loads(out)["exit_code"] == 2  # --format json: the error as JSON
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


# --- a workbook written by hand from docs/sites/uk.md, as Excel keeps what a coordinator types


D = dt.datetime
DAY, STAMP, MONTH, YEAR = "dd/mm/yyyy", "dd/mm/yyyy hh:mm", "mmm-yy", "yyyy"
SHEETS: dict[str, list[str]] = {
    "Patients": ["Trial No", "Centre", "Sex", "Date of birth", "MS course",
                 "Date of diagnosis", "Protocol version", "NHS number"],
    "Randomisation": ["Trial No", "Sequence", "Date randomised"],
    "Infusions": ["Trial No", "Period", "Infusion date", "Product", "Dose (x10^6 cells/kg)",
                  "Weight (kg)", "Viability (%)", "Lot number"],
    "Visits": ["Trial No", "Visit", "Week", "Visit date"],
    "MRI": ["Trial No", "Visit", "Scan date", "Field strength (T)", "Gd+ lesions",
            "New/enlarging T2 lesions", "CUA lesions", "T2 lesion volume (mL)",
            "Brain volume (mL)", "Central read"],
    "EDSS": ["Trial No", "Assessment date", "EDSS", "FS pyramidal", "FS cerebellar",
             "FS brainstem", "FS sensory", "FS bowel/bladder", "FS visual", "FS cerebral",
             "Ambulation score", "Blinded rater"],
    "MSFC": ["Trial No", "Assessment date", "T25FW trial 1 (s)", "T25FW trial 2 (s)",
             "9HPT dominant 1 (s)", "9HPT dominant 2 (s)", "9HPT non-dominant 1 (s)",
             "9HPT non-dominant 2 (s)", "PASAT-3"],
    "Relapses": ["Trial No", "Onset date", "End date", "Severity", "Recovery",
                 "IV methylprednisolone"],
    "Adverse events": ["Trial No", "AE No", "AE term", "MedDRA PT code", "MedDRA SOC code",
                       "MedDRA version", "Onset date", "End date", "Serious", "SAE: death",
                       "SAE: life-threatening", "SAE: hospitalisation", "SAE: disability",
                       "SAE: congenital anomaly", "SAE: other important", "CTCAE grade",
                       "Related to IMP", "Related to harvest", "Outcome"],
    "Concomitant meds": ["Trial No", "Medication", "ATC code", "ATC version", "Start date",
                         "Stop date"],
    "Labs": ["Trial No", "Sample date", "Test", "Result", "Units"],
}  # fmt: skip


def cell(value: Any, fmt: str) -> tuple[Any, str]:
    """A date cell with its number format, as Excel stores one."""
    return (value, fmt)


def handmade_rows(ae_onset: tuple[Any, str], cm_start: Any) -> dict[str, list[list[Any]]]:
    """Two patients, every form, values typed as a coordinator types them: dates into date
    cells (dd/mm/yyyy), numbers into number cells, codes as the spec lists them."""
    a, b = "MSC01-001", "MSC02-002"
    return {
        "Patients": [
            [a, "London", "Female", cell(D(1980, 3, 15), DAY), "Relapsing-remitting",
             cell(D(2008, 5, 1), DAY), "v1.0 (2012)", "943 476 5870"],
            [b, "Cambridge", "Male", cell(D(1975, 11, 2), DAY), "SPMS",
             cell(D(2005, 1, 20), DAY), "v3.0 (2015)", None],
        ],
        "Randomisation": [
            [a, "MSC then placebo", cell(D(2014, 1, 10), DAY)],
            [b, "Placebo then MSC", cell(D(2014, 2, 3), DAY)],
        ],
        "Infusions": [
            [a, 1, cell(D(2014, 1, 20), DAY), "MSC", 1.5, 68.5, 97.2, "lot-0001"],
            [b, 1, cell(D(2014, 2, 12), DAY), "Placebo", None, 81, None, None],
        ],
        "Visits": [
            [a, "Baseline", 0, cell(D(2014, 1, 20), DAY)],
            [b, "Baseline", 0, cell(D(2014, 2, 12), DAY)],
            [a, "Week 4", 4, cell(D(2014, 2, 17), DAY)],
        ],
        "MRI": [
            [a, "Baseline", cell(D(2014, 1, 18), DAY), 1.5, 2, 1, 3, 4.25, 1432.5, "Yes"],
            [b, "Baseline", cell(D(2014, 2, 10), DAY), 3, 0, 0, 0, 12.5, 1511, "No"],
        ],
        "EDSS": [[a, cell(D(2014, 1, 19), DAY), 3.5, 2, 1, 1, 2, 1, 0, 1, 1, "Yes"]],
        "MSFC": [[a, cell(D(2014, 1, 19), DAY), 6.2, 6, 21.3, 20.9, 23, 22.4, 48]],
        "Relapses": [
            [a, cell(D(2014, 3, 1), MONTH), cell(D(2014, 4, 2), STAMP), "Moderate", None,
             "Yes"],
        ],
        "Adverse events": [
            [a, 1, "Headache after infusion", 10019211, 10029205, "19.1", ae_onset,
             "15/06/2014", "No", None, None, None, None, None, None, 1, "Possible", None,
             "Recovered/resolved"],
        ],
        "Concomitant meds": [[a, "Tysabri", "L04AG03", 2024, cm_start, None]],
        "Labs": [
            [a, cell(D(2014, 1, 19, 8, 30), STAMP), "Creatinine", 88, "umol/L"],
            [a, cell(D(2014, 1, 19, 8, 30), STAMP), "ALT", 27.5, "U/L"],
        ],
    }  # fmt: skip


def write_handmade(
    folder: Path,
    ae_onset: tuple[Any, str] = cell(D(2014, 6, 1), MONTH),
    cm_start: Any = 2012,
) -> Path:
    """``MESEMS_UK.xlsx`` written with openpyxl, one sheet per form of the spec."""
    folder.mkdir(parents=True, exist_ok=True)
    book = openpyxl.Workbook()
    book.remove(book.active)
    for name, rows in handmade_rows(ae_onset, cm_start).items():
        sheet = book.create_sheet(name)
        sheet.append(SHEETS[name])
        for number, row in enumerate(rows, start=2):
            for column, value in enumerate(row, start=1):
                if isinstance(value, tuple):
                    target = sheet.cell(number, column, value[0])
                    target.number_format = value[1]
                else:
                    sheet.cell(number, column, value)
    book.save(folder / WORKBOOK)
    return folder


def handmade_key(tmp_path: Path) -> Path:
    key = tmp_path / "uk.key"
    key.write_text(bytes(range(32)).hex() + "\n")
    key.chmod(0o600)
    return key


def table(result: IngestResult, name: str) -> list[dict[str, Any]]:
    rows = pq.read_table(result.bundle / "tables" / f"{name}.parquet").sort_by("source_row")
    return rows.drop(["site", "submission_id", "subject_id", "source_file"]).to_pylist()


def test_a_handmade_workbook_pools_exactly(tmp_path: Path) -> None:
    export = write_handmade(tmp_path / "export")
    result = ingest(UK, export, tmp_path / "bundle", load_key("uk", handmade_key(tmp_path)))
    assert result.quarantine.num_rows == 0 and result.exit_code == 0
    assert [r["body_weight_kg"] for r in table(result, "infusions")] == [68.5, 81.0]
    mri = table(result, "mri")
    assert [(r["field_strength_t"], r["brain_volume_ml"]) for r in mri] == [
        (1.5, 1432.5),
        (3.0, 1511.0),
    ]
    ae = table(result, "adverse_events")[0]
    assert (ae["meddra_pt_code"], ae["meddra_version"]) == ("10019211", "19.1")
    assert (ae["end_date"], ae["end_date_precision"], ae["end_date_raw"]) == (
        dt.date(2014, 6, 15), "day", "15/06/2014",
    )  # fmt: skip
    cm = table(result, "conmeds")[0]
    assert (cm["atc_version"], cm["start_date"], cm["start_date_precision"]) == (
        "2024", dt.date(2012, 1, 1), "year",
    )  # a year typed into a cell is the number 2012: shown 2012  # fmt: skip
    labs = table(result, "labs")
    assert [(r["assessment_date"], r["value_reported"], r["value_raw"]) for r in labs] == [
        (dt.date(2014, 1, 19), 88.0, "88"),
        (dt.date(2014, 1, 19), 27.5, "27.5"),
    ]


def test_a_month_typed_into_a_date_cell_keeps_its_precision(tmp_path: Path) -> None:
    """Jun-14 typed into a cell Excel formats mmm-yy: known to the month, never a day."""
    export = write_handmade(tmp_path / "export", ae_onset=cell(D(2014, 6, 1), MONTH))
    result = ingest(UK, export, tmp_path / "bundle", load_key("uk", handmade_key(tmp_path)))
    assert result.quarantine.num_rows == 0
    ae = table(result, "adverse_events")[0]
    assert (ae["onset_date"], ae["onset_date_precision"], ae["onset_date_raw"]) == (
        dt.date(2014, 6, 1), "month", "Jun-14",
    )  # fmt: skip
    relapse = table(result, "relapses")[0]
    assert (relapse["onset_date_precision"], relapse["onset_date_raw"]) == ("month", "Mar-14")


def test_a_date_cells_value_as_exported_is_what_the_site_sees(tmp_path: Path) -> None:
    """A date cell is stored as the site sees it (dd/mm/yyyy), without its time of day."""
    export = write_handmade(tmp_path / "export", ae_onset=cell(D(2014, 6, 12, 13, 45), STAMP))
    result = ingest(UK, export, tmp_path / "bundle", load_key("uk", handmade_key(tmp_path)))
    assert result.quarantine.num_rows == 0
    ae = table(result, "adverse_events")[0]
    assert (ae["onset_date"], ae["onset_date_precision"], ae["onset_date_raw"]) == (
        dt.date(2014, 6, 12), "day", "12/06/2014",
    )  # fmt: skip
    relapse = table(result, "relapses")[0]
    assert (relapse["end_date"], relapse["end_date_raw"]) == (dt.date(2014, 4, 2), "02/04/2014")


def test_a_month_cell_is_no_full_date(tmp_path: Path) -> None:
    """A full date (the randomisation date) shown only to the month is quarantined, naming the
    cell as the site sees it; no day is invented."""
    export = write_handmade(tmp_path / "export")
    book = openpyxl.load_workbook(export / WORKBOOK)
    book["Randomisation"]["C2"].number_format = MONTH
    book.save(export / WORKBOOK)
    result = ingest(UK, export, tmp_path / "bundle", load_key("uk", handmade_key(tmp_path)))
    rows = result.quarantine.to_pylist()
    assert [(r["column"], r["source_row"], r["value"], r["reason"]) for r in rows] == [
        ("Date randomised", 2, "Jan-14", "invalid-date")
    ]
