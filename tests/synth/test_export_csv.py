"""The Italian export written from the truth: declared columns, encodings, habits, valid codici
fiscali, injected errors, and (through the ingest engine) a clean round trip."""

from __future__ import annotations

import codecs
import csv
import importlib
import io
import json
import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.adapters.declaration import SiteAdapter, TableMap
from federate.adapters.parsers import Code, Date, Locale
from federate.cli import main
from federate.privacy.pseudonym import load_key
from federate.readers.csv import CsvReader
from federate.synth import SynthResult, run
from federate.synth.base import People
from federate.synth.export_csv import csv_bytes
from federate.synth.identifiers import check_letters
from federate.synth.render import ReadBack, render_table

ITALY = registry.adapter("italy")
CF = re.compile(r"[A-Z]{6}\d\d[A-Z]\d\d[A-Z]\d{3}[A-Z]")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return run(tmp_path_factory.mktemp("clean") / "out")


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return run(tmp_path_factory.mktemp("broken") / "out", inject_errors=True)


def read_rows(path: Path) -> tuple[str, list[dict[str, str]]]:
    """(encoding, rows) of an Italian export file."""
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):
        encoding, text = "utf-8-sig", raw.decode("utf-8-sig")
    else:
        encoding, text = "cp1252", raw.decode("cp1252")
    return encoding, list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))


def test_only_registered_sites_are_exported(clean: SynthResult) -> None:
    assert set(clean.exports) == {a.name for a in registry.adapters()}
    assert "italy" in clean.exports
    assert sorted(p.name for p in clean.export_dir("italy").iterdir()) == sorted(
        tm.file for tm in ITALY.tables
    )
    assert clean.injected_file is None and not (clean.out / "injected.json").exists()


@pytest.mark.parametrize("tm", ITALY.tables, ids=lambda tm: tm.file)
def test_files_have_the_declared_columns(clean: SynthResult, tm: TableMap) -> None:
    _, rows = read_rows(clean.export_dir("italy") / tm.file)
    assert tm.subject is not None
    assert list(rows[0]) == [tm.subject.source, *tm.source_columns()[1:], *tm.dropped]
    truth = pq.read_table(clean.truth[tm.table]).filter(pc.equal(pc.field("site"), "italy"))
    assert len(rows) == truth.num_rows


def test_encodings_patient_register_cp1252_forms_utf8_bom(clean: SynthResult) -> None:
    folder = clean.export_dir("italy")
    patients = (folder / "pazienti.csv").read_bytes()
    assert not patients.startswith(codecs.BOM_UTF8)
    with pytest.raises(UnicodeDecodeError):
        patients.decode("utf-8")  # accented names in cp1252
    assert re.search("[àèéìòù]", patients.decode("cp1252"))
    forms = ("randomizzazione.csv", "infusioni.csv", "visite.csv", "rm.csv", "edss.csv")
    for name in (*forms, "msfc.csv", "ricadute.csv", "eventi_avversi.csv", "farmaci.csv"):
        data = (folder / name).read_bytes()
        assert data.startswith(codecs.BOM_UTF8), name
        data.decode("utf-8")
        assert b"\r\n" in data
    assert "sì" in (folder / "rm.csv").read_text("utf-8-sig")
    events = (folder / "eventi_avversi.csv").read_text("utf-8-sig")
    assert re.search("[àèéìòù]", events) and "'" in events
    assert re.search("µ|³", (folder / "esami.csv").read_text("utf-8-sig"))


def test_partial_dates_and_lab_values_as_italians_write_them(clean: SynthResult) -> None:
    folder = clean.export_dir("italy")
    _, relapses = read_rows(folder / "ricadute.csv")
    onsets = {r["data_inizio"] for r in relapses}
    assert all(re.fullmatch(r"(\d\d/)?(\d\d/)?\d{4}", d) for d in onsets)
    assert any(len(d) == 10 for d in onsets) and any(len(d) < 10 for d in onsets)
    _, meds = read_rows(folder / "farmaci.csv")
    assert {"L04AA23", "L04AA27", "N07XX09"} & {r["codice_atc"] for r in meds}
    assert any(r["data_fine"] == "" for r in meds)  # still taken
    _, labs = read_rows(folder / "esami.csv")
    truth = pq.read_table(clean.truth["labs"]).filter(pc.equal(pc.field("site"), "italy"))
    assert [r["valore"] for r in labs] == truth.column("value_raw").to_pylist()
    assert [r["unita"] for r in labs] == truth.column("unit_raw").to_pylist()
    assert not any(r["esame"] == "" for r in labs)


def test_italian_habits(clean: SynthResult) -> None:
    folder = clean.export_dir("italy")
    _, visits = read_rows(folder / "visite.csv")
    dates = [r["data_visita"] for r in visits]
    assert all(re.fullmatch(r"\d\d/\d\d/(\d\d)?\d\d", d) for d in dates)
    short = sum(len(d) == 8 for d in dates)
    assert 0 < short < len(dates) / 3  # some two-digit years
    ids = [r["id_paziente"] for r in visits]
    assert any(len(i) < 6 for i in ids) and any(len(i) == 6 for i in ids)  # Excel ate zeros
    _, scans = read_rows(folder / "rm.csv")
    assert all(re.fullmatch(r"\d+,\d", r["volume_cerebrale_ml"]) for r in scans)
    visit_code = ITALY.table_map("mri").fields["visit_code"]
    assert isinstance(visit_code, Code)
    known = {k.upper() for k in visit_code.mapping}
    assert all(r["visita"].upper() in known for r in scans)
    assert any(r["visita"] not in visit_code.mapping for r in scans)  # some capitalised


def test_birth_dates_land_in_the_declared_century(clean: SynthResult) -> None:
    _, patients = read_rows(clean.export_dir("italy") / "pazienti.csv")
    truth = pq.read_table(clean.truth["subjects"]).filter(pc.equal(pc.field("site"), "italy"))
    for row, year in zip(patients, truth.column("birth_year").to_pylist(), strict=True):
        written = row["data_nascita"].split("/")[2]
        assert int(written) == (year if len(written) == 4 else year % 100)


def test_codici_fiscali_are_valid_and_match_the_patient(clean: SynthResult) -> None:
    assert check_letters(np.array(["RCCMNL83S18D969"], dtype=object))[0] == "H"
    _, patients = read_rows(clean.export_dir("italy") / "pazienti.csv")
    codes = [r["codice_fiscale"] for r in patients]
    assert all(CF.fullmatch(c) for c in codes)
    assert list(check_letters(np.array([c[:15] for c in codes], dtype=object))) == [
        c[15] for c in codes
    ]
    for row, code in zip(patients, codes, strict=True):
        day, month, year = row["data_nascita"].split("/")
        women = 40 if row["sesso"].lower() == "femmina" else 0
        assert code[6:8] == year[-2:]
        assert code[8] == "ABCDEHLMPRST"[int(month) - 1]
        assert int(code[9:11]) == int(day) + women
        assert row["nome"] and row["cognome"]


def test_injected_errors_are_listed_and_written(clean: SynthResult, broken: SynthResult) -> None:
    assert broken.injected_file is not None
    listed = json.loads(broken.injected_file.read_text("utf-8"))
    assert [e.as_dict() for e in broken.injected] == listed
    reasons = {(e["column"], e["value"], e["reason"]) for e in listed}
    assert ("data_rm", "31/02/2020", "invalid-date") in reasons
    assert ("visita", "SETT99", "unknown-code") in reasons
    assert len({e["source_row"] for e in listed}) == len(listed)
    _, rows = read_rows(broken.export_dir("italy") / "rm.csv")
    _, clean_rows = read_rows(clean.export_dir("italy") / "rm.csv")
    hit = {(e["source_row"], e["column"]): e["value"] for e in listed}
    for number, (row, before) in enumerate(zip(rows, clean_rows, strict=True), start=2):
        for column, value in row.items():
            expected = hit.get((number, column), before[column])
            assert value == expected, (number, column)
    for tm in ITALY.tables:  # every other file is byte-identical to the clean export
        if tm.file != "rm.csv":
            a = (broken.export_dir("italy") / tm.file).read_bytes()
            assert a == (clean.export_dir("italy") / tm.file).read_bytes()
    for table, path in clean.truth.items():
        assert pq.read_table(path).equals(pq.read_table(broken.truth[table]))


def test_fields_are_quoted_only_when_needed() -> None:
    columns = {"a": pa.array(["x;y", 'say "hi"', None]), "b b": pa.array(["1", "2", "é"])}
    text = csv_bytes(columns, ";", '"').decode("utf-8")
    assert text.splitlines()[1:] == ['"x;y";1', '"say ""hi""";2', ";é"]
    parsed = list(csv.reader(io.StringIO(text, newline=""), delimiter=";"))
    assert parsed == [["a", "b b"], ["x;y", "1"], ['say "hi"', "2"], ["", "é"]]


def test_a_habit_the_adapter_cannot_read_back_is_not_written() -> None:
    """Two-digit years outside the century window would read back wrong: written in full."""
    adapter = SiteAdapter(
        "test",
        "zz",
        "0",
        "test",
        CsvReader(delimiter=";"),
        Locale(date_formats=("%d/%m/%Y", "%d/%m/%y"), century_start=2000),
        (TableMap("visits", "v.csv", {"visit_date": Date("when")}),),
    )
    dates = pa.array(np.full(200, np.datetime64("1985-06-01", "D")), pa.date32())
    table = pa.table({"visit_date": dates})
    people = People(
        np.array(["1"] * 200, dtype=object),
        np.array(["F"] * 200, dtype=object),
        np.zeros(200, "datetime64[D]"),
        np.zeros((200, 4)),
    )
    rendered = render_table(
        adapter, adapter.tables[0], table, people, np.random.default_rng(0), ReadBack()
    )
    assert set(rendered.columns["when"].to_pylist()) == {"01/06/1985"}
    assert rendered.notes and "two-digit-year" in rendered.notes[0]


def test_a_shared_column_that_does_not_read_back_stops_the_writer() -> None:
    """A lab value written verbatim must parse to the reported number: else nothing is written."""
    tm = ITALY.table_map("labs")
    truth = pa.table(
        {
            "assessment_date": pa.array(np.array(["2014-05-02"], "datetime64[D]"), pa.date32()),
            "analyte": ["CREAT"],
            "value_raw": ["0,85"],
            "unit_raw": ["mg/dl"],
            "value_reported": [0.86],  # disagrees with what is written
            "unit_reported": ["mg/dL"],
        }
    )
    people = People(
        np.array(["010001"], dtype=object),
        np.array(["F"], dtype=object),
        np.zeros(1, "datetime64[D]"),
        np.zeros((1, 4)),
    )
    with pytest.raises(ValueError, match="valore does not read back to the truth's value_reported"):
        render_table(ITALY, tm, truth, people, np.random.default_rng(0), ReadBack())


def test_cli_writes_the_summary_to_stderr_only(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["synth", "--out", str(tmp_path), "--patients", "12", "--seed", "3"])
    assert exit_info.value.code == 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "italy" in captured.err
    assert (tmp_path / "exports" / "italy" / "rm.csv").is_file()
    assert (tmp_path / "keys" / "italy.key").is_file()


def _ingest(result: SynthResult, out: Path):  # type: ignore[no-untyped-def]
    ingest = importlib.import_module("federate.ingest.run")
    key = load_key("italy", result.keys["italy"])
    return ingest.ingest(ITALY, result.export_dir("italy"), out, key, operator="test")


def test_clean_export_ingests_to_the_truth(clean: SynthResult, tmp_path: Path) -> None:
    ingested = _ingest(clean, tmp_path / "bundle")
    assert ingested.quarantine.num_rows == 0
    for tm in ITALY.tables:
        got = pq.read_table(tmp_path / "bundle" / "tables" / f"{tm.table}.parquet")
        want = pq.read_table(clean.truth[tm.table]).filter(pc.equal(pc.field("site"), "italy"))
        assert got.drop(["submission_id"]).equals(want.drop(["submission_id"])), tm.table


def test_injected_errors_are_quarantined_as_listed(broken: SynthResult, tmp_path: Path) -> None:
    ingested = _ingest(broken, tmp_path / "bundle")
    got = {
        (r["source_file"], r["source_row"], r["column"], r["reason"])
        for r in ingested.quarantine.to_pylist()
    }
    assert got == {
        (e.file, e.source_row, e.column, e.reason) for e in broken.injected if e.site == "italy"
    }
