"""The Danish REDCap export: written from the truth in both flavours (labels, raw codes), read by
one adapter to the same tables; the CPR number never leaves the site; bad Danish input is
quarantined by record and field, and an export without its dictionary stops the run."""

from __future__ import annotations

import codecs
import csv
import io
import json
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.adapters.parsers import Code
from federate.cli import main
from federate.ingest.run import IngestResult, ingest
from federate.privacy.identifiers import cpr
from federate.privacy.pseudonym import load_key
from federate.readers import RedcapReader, Source
from federate.readers.redcap_header import match_header
from federate.readers.redcap_names import unique_event_name
from federate.synth import SynthResult, export_redcap
from federate.synth import run as synth_run
from federate.synth.projects_redcap import PROJECTS

DENMARK = registry.adapter("denmark")


def _reader() -> RedcapReader:
    reader = DENMARK.reader
    assert isinstance(reader, RedcapReader)
    return reader


READER = _reader()
PATIENTS = {"denmark": 12}


def synth(out: Path, flavour: str) -> SynthResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(export_redcap, "FLAVOUR", flavour)
        return synth_run(out, seed=11, counts=PATIENTS)


@pytest.fixture(scope="module")
def labels(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synth(tmp_path_factory.mktemp("labels") / "out", "label")


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return synth(tmp_path_factory.mktemp("raw") / "out", "raw")


def ingested(trial: SynthResult, out: Path) -> IngestResult:
    key = load_key("denmark", trial.keys["denmark"])
    return ingest(DENMARK, trial.export_dir("denmark"), out, key, operator="test")


@pytest.fixture(scope="module")
def label_bundle(labels: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    return ingested(labels, tmp_path_factory.mktemp("lb") / "bundle")


@pytest.fixture(scope="module")
def raw_bundle(raw: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    return ingested(raw, tmp_path_factory.mktemp("rb") / "bundle")


def records(path: Path) -> tuple[list[str], list[list[str]]]:
    """(field name of each column, data records) of a records export, labels or names."""
    text = path.read_bytes().decode("utf-8-sig")
    header, *rows = csv.reader(io.StringIO(text, newline=""), delimiter=READER.delimiter)
    dictionary = READER.data_dictionary(Source(path, path.name))
    return list(match_header(header, dictionary, path.name).names), rows


def edit(export: Path, record: int, field: str, value: str) -> str:
    """Set ``field`` of data record ``record`` (header = 1) as a user editing the file would,
    and return what was there."""
    path = export / READER.records
    text = path.read_bytes().decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text, newline=""), delimiter=READER.delimiter))
    names, _ = records(path)
    at = names.index(field)
    before, table[record - 1][at] = table[record - 1][at], value
    out = io.StringIO()
    csv.writer(out, delimiter=READER.delimiter, lineterminator="\r\n").writerows(table)
    path.write_bytes(codecs.BOM_UTF8 + out.getvalue().encode("utf-8"))
    return before


def truth(trial: SynthResult, table: str) -> pa.Table:
    rows = pq.read_table(trial.truth[table])
    return rows.filter(pc.equal(rows.column("site"), "denmark"))


def run_cli(
    export: Path, out: Path, key: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """(exit code, stdout: the JSON report, stderr) of ``federate ingest denmark``."""
    args = ["ingest", "denmark", str(export), "--out", str(out), "--key-file", str(key)]
    with pytest.raises(SystemExit) as done:
        main([*args, "--format", "json"])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


# -- both flavours, one adapter -------------------------------------------------------------------


@pytest.mark.parametrize("flavour", ["label", "raw"])
def test_each_flavour_ingests_to_the_truth(flavour: str, request: pytest.FixtureRequest) -> None:
    trial: SynthResult = request.getfixturevalue("labels" if flavour == "label" else "raw")
    result: IngestResult = request.getfixturevalue(f"{flavour}_bundle")
    assert result.exit_code == 0, result.quarantine.slice(0, 3).to_pylist()
    assert sorted(p.name for p in trial.export_dir("denmark").iterdir()) == [
        "data.csv",
        "dictionary.csv",
    ]
    sources = result.manifest["sources"]
    assert [s["part"] for s in sources] == [tm.part for tm in DENMARK.tables]
    assert {s["facts"]["headers"] for s in sources} == {
        "field labels" if flavour == "label" else "field names"
    }
    for tm in DENMARK.tables:
        got = pq.read_table(result.bundle / "tables" / f"{tm.table}.parquet")
        want = truth(trial, tm.table)
        assert want.num_rows > 0, tm.table
        by_row = [("source_row", "ascending")]
        assert got.drop(["submission_id"]).equals(want.drop(["submission_id"]).sort_by(by_row)), (
            tm.table
        )


def test_label_and_raw_flavours_ingest_to_the_same_tables(
    labels: SynthResult, raw: SynthResult, label_bundle: IngestResult, raw_bundle: IngestResult
) -> None:
    label_csv = (labels.export_dir("denmark") / "data.csv").read_text("utf-8-sig")
    raw_csv = (raw.export_dir("denmark") / "data.csv").read_text("utf-8-sig")
    assert label_csv != raw_csv
    assert label_csv.startswith("Forsøgsperson-ID;Event Name;Repeat Instrument;")
    assert raw_csv.startswith("record_id;redcap_event_name;redcap_repeat_instrument;")
    assert "Kvinde" in label_csv and "Kvinde" not in raw_csv
    # The adapter names events, groups and instruments by REDCap's unique names only (their
    # labels are decoded by REDCap's own rule): the simulator writes those names in both
    # flavours. REDCap's own labels ("SCR (Arm 1: Arm 1)") are read in test_denmark_spec.
    assert ";scr_arm_1;" in label_csv and ";rigshospitalet;" in label_csv
    for tm in DENMARK.tables:
        a = pq.read_table(label_bundle.bundle / "tables" / f"{tm.table}.parquet")
        b = pq.read_table(raw_bundle.bundle / "tables" / f"{tm.table}.parquet")
        assert a.drop(["submission_id"]).equals(b.drop(["submission_id"])), tm.table


def test_validated_dates_follow_the_flavour_and_numbers_keep_the_comma(
    labels: SynthResult, raw: SynthResult
) -> None:
    names, label_rows = records(labels.export_dir("denmark") / "data.csv")
    raw_names, raw_rows = records(raw.export_dir("denmark") / "data.csv")
    assert names == raw_names
    at = names.index("mr_dato")
    day, iso = label_rows[0][at], raw_rows[0][at]
    assert len(day) == 10 and day[2] == day[5] == "-"
    assert iso == f"{day[6:]}-{day[3:5]}-{day[:2]}"
    volume = names.index("hjernevolumen")
    assert label_rows[0][volume] == raw_rows[0][volume] and "," in raw_rows[0][volume]


def test_the_label_header_repeats_labels_and_is_matched_through_the_dictionary(
    labels: SynthResult,
) -> None:
    path = labels.export_dir("denmark") / "data.csv"
    header = next(csv.reader(io.StringIO(path.read_text("utf-8-sig")), delimiter=";"))
    assert header.count("Complete?") == len(PROJECTS["denmark"].instruments)
    assert header.count("Debutdato") == 2 and header.count("Dato") == 2
    names, _ = records(path)
    assert names[header.index("Behandling (choice=Methylprednisolon (H02AB04))")] == (
        "attak_behandling___1"
    )


def test_records_sort_as_redcap_writes_them_and_the_truth_points_at_them(raw: SynthResult) -> None:
    names, rows = records(raw.export_dir("denmark") / "data.csv")
    keys = [(r[0], r[names.index("redcap_event_name")]) for r in rows]
    assert rows[0][names.index("redcap_event_name")] == "scr_arm_1"
    assert [k[0] for k in keys] == sorted(k[0] for k in keys)
    gel = names.index("gd_laesioner")
    mri = truth(raw, "mri")
    assert set(mri.column("source_file").to_pylist()) == {"data.csv"}
    for row, count, visit in zip(
        mri.column("source_row").to_pylist(),
        mri.column("gel_count").to_pylist(),
        mri.column("visit_code").to_pylist(),
        strict=True,
    ):
        record = rows[row - 2]
        assert record[gel] == str(count)
        event = record[names.index("redcap_event_name")]
        assert _visits()[event] == visit
    # Unscheduled visits are instances of the repeating event; AEs are numbered by instance.
    uns = [r for r in rows if r[names.index("redcap_event_name")] == "uns_arm_1"]
    assert uns and all(r[names.index("redcap_repeat_instance")] for r in uns)
    ae = truth(raw, "adverse_events")
    instance = names.index("redcap_repeat_instance")
    assert [rows[n - 2][instance] for n in ae.column("source_row").to_pylist()] == [
        str(n) for n in ae.column("ae_number").to_pylist()
    ]


def _visits() -> dict[str, str]:
    parser = DENMARK.table_map("visits").fields["visit_code"]
    assert isinstance(parser, Code)
    return {k: str(v) for k, v in parser.mapping.items()}


def test_the_synthetic_export_is_deterministic(labels: SynthResult, tmp_path: Path) -> None:
    again = synth(tmp_path / "again", "label")
    for name in ("data.csv", "dictionary.csv"):
        a = (labels.export_dir("denmark") / name).read_bytes()
        assert a == (again.export_dir("denmark") / name).read_bytes(), name


# -- the data dictionary agrees with the adapter --------------------------------------------------


def test_every_declared_column_is_a_field_of_its_form_with_the_declared_codes(
    raw: SynthResult,
) -> None:
    path = raw.export_dir("denmark") / "data.csv"
    dictionary = READER.data_dictionary(Source(path, "data.csv"))
    columns = {c.name: c for c in dictionary.columns()}
    assert dictionary.record_id == "record_id"
    for tm in DENMARK.tables:
        assert tm.file == READER.records and tm.part in dictionary.forms
        for parser in tm.fields.values():
            if parser.source is None or parser.source.startswith("redcap_"):
                continue
            column = columns[parser.source]
            assert column.form == tm.part, parser.source
            if isinstance(parser, Code):
                raw_codes = set(column.codes.values())
                if raw_codes and parser.source != "enhed":
                    assert set(parser.mapping) == raw_codes, parser.source
    events = _visits()
    assert set(events) | {"lobende_arm_1"} == set(PROJECTS["denmark"].events)
    # Each is a unique name REDCap makes of an event name in arm 1 (SCR -> scr_arm_1).
    for name in PROJECTS["denmark"].events:
        assert unique_event_name(name.removesuffix("_arm_1").upper(), "1") == name


# -- the CPR number never leaves the site ---------------------------------------------------------


def cpr_values(trial: SynthResult) -> list[str]:
    names, rows = records(trial.export_dir("denmark") / "data.csv")
    at = names.index("cpr")
    return [r[at] for r in rows if r[at]]


def bundle_texts(bundle: Path) -> Iterator[tuple[str, bytes]]:
    """Every byte a bundle holds, decompressed: Parquet cells, workbook parts, other files."""
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        data = path.read_bytes()
        yield path.name, data
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for column in table.columns:
                cells = pc.cast(column, pa.string()).to_pylist()
                yield path.name, "\n".join(c for c in cells if c is not None).encode()
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as book:
                for member in book.namelist():
                    yield f"{path.name}:{member}", book.read(member)


def leaks(bundle: Path, numbers: list[str]) -> list[str]:
    needles = [n.encode() for n in numbers] + [n.replace("-", "").encode() for n in numbers]
    return [name for name, data in bundle_texts(bundle) for n in needles if n in data]


@pytest.mark.parametrize("flavour", ["label", "raw"])
def test_no_cpr_number_in_any_bundle(flavour: str, request: pytest.FixtureRequest) -> None:
    trial: SynthResult = request.getfixturevalue("labels" if flavour == "label" else "raw")
    result: IngestResult = request.getfixturevalue(f"{flavour}_bundle")
    numbers = cpr_values(trial)
    assert len(numbers) == PATIENTS["denmark"]
    assert leaks(result.bundle, numbers) == []
    report = next(c for c in result.report["columns"] if c["table"] == "subjects")
    assert report["dropped_identifiers"] == ["cpr", "foedselsdato"]
    facts = result.manifest["sources"][0]["facts"]
    assert facts["identifier_fields_dropped"] == "cpr,foedselsdato"


def test_the_leak_scan_finds_a_cpr_number_in_a_compressed_table(
    raw: SynthResult, raw_bundle: IngestResult, tmp_path: Path
) -> None:
    """The scan has power: a CPR number in a zstd Parquet cell is found."""
    number = cpr_values(raw)[0]
    bundle = Path(shutil.copytree(raw_bundle.bundle, tmp_path / "bundle"))
    path = bundle / "tables" / "adverse_events.parquet"
    table = pq.read_table(path)
    at = table.schema.get_field_index("verbatim_term")
    terms = table.column(at).to_pylist()
    terms[0] = f"hovedpine (pt. {number})"
    table = table.set_column(at, table.field(at), pa.array(terms, pa.string()))
    pq.write_table(table, path, compression="zstd")
    assert leaks(bundle, [number])


def test_cpr_numbers_are_real_for_each_patient(raw: SynthResult) -> None:
    names, rows = records(raw.export_dir("denmark") / "data.csv")
    at = {n: names.index(n) for n in ("cpr", "foedselsdato", "koen")}
    for row in (r for r in rows if r[at["cpr"]]):
        number, born, sex = row[at["cpr"]], row[at["foedselsdato"]], row[at["koen"]]
        assert cpr(number) and len(number) == 11 and number[6] == "-"
        assert number[:6] == f"{born[8:10]}{born[5:7]}{born[2:4]}"  # DDMMYY of yyyy-mm-dd
        digits = [int(c) for c in number.replace("-", "")]
        assert (
            sum(w * d for w, d in zip((4, 3, 2, 7, 6, 5, 4, 3, 2, 1), digits, strict=True)) % 11
            == 0
        )
        assert digits[-1] % 2 == int(sex)  # odd for men (koen 1), even for women
        assert number[7] in ("012349" if born < "2000" else "456789")


def test_a_dictionary_that_lost_the_identifier_flag_still_keeps_the_cpr_number_home(
    raw: SynthResult, tmp_path: Path
) -> None:
    """Defence in depth: unflagged, the CPR column reaches the adapter, which drops it."""
    export = Path(shutil.copytree(raw.export_dir("denmark"), tmp_path / "export"))
    dictionary = (export / "dictionary.csv").read_text("utf-8")
    assert ",DDMMÅÅ-XXXX,,,,y," in dictionary
    (export / "dictionary.csv").write_text(dictionary.replace(",DDMMÅÅ-XXXX,,,,y,", ",,,,,,"))
    key = load_key("denmark", raw.keys["denmark"])
    result = ingest(DENMARK, export, tmp_path / "bundle", key, operator="test")
    assert result.exit_code == 0
    assert result.manifest["sources"][0]["facts"]["identifier_fields_dropped"] == "foedselsdato"
    report = next(c for c in result.report["columns"] if c["table"] == "subjects")
    assert report["dropped_identifiers"] == ["cpr", "foedselsdato"]
    assert leaks(result.bundle, cpr_values(raw)) == []


def test_identifier_fields_are_never_yielded_by_the_reader(labels: SynthResult) -> None:
    path = labels.export_dir("denmark") / "data.csv"
    columns = READER.columns(Source(path, "data.csv", "demografi"))
    assert "cpr" not in columns and "foedselsdato" not in columns and "foedselsaar" in columns


# -- bad Danish input -----------------------------------------------------------------------------


@pytest.fixture
def export(labels: SynthResult, tmp_path: Path) -> Path:
    """A copy of the clean label export to damage."""
    return Path(shutil.copytree(labels.export_dir("denmark"), tmp_path / "export"))


@pytest.fixture
def key(labels: SynthResult) -> Path:
    return labels.keys["denmark"]


def quarantined(out: str) -> list[tuple[int, str | None, str, str]]:
    report = json.loads(out)
    return [
        (e["source_row"], e["column"], str(e["value"]), e["reason"])
        for e in report["quarantine"]["examples"]
    ]


def test_an_unknown_choice_label_is_quarantined(
    export: Path, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert edit(export, 2, "koen", "Ukendt") in ("Kvinde", "Mand")
    code, out, _ = run_cli(export, tmp_path / "b", key, capsys)
    assert code == 1
    assert (2, "koen", "Ukendt", "unknown-code") in quarantined(out)


def test_an_unknown_raw_code_is_quarantined(
    raw: SynthResult, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = Path(shutil.copytree(raw.export_dir("denmark"), tmp_path / "export"))
    names, rows = records(export / "data.csv")
    row = next(n for n, r in enumerate(rows, start=2) if r[names.index("alvorlig")])
    edit(export, row, "alvorlig", "2")
    code, out, _ = run_cli(export, tmp_path / "b", raw.keys["denmark"], capsys)
    assert code == 1
    assert (row, "alvorlig", "2", "unknown-code") in quarantined(out)


def test_a_date_in_the_wrong_format_is_quarantined(
    export: Path, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names, rows = records(export / "data.csv")
    day = rows[0][names.index("mr_dato")]  # dd-mm-yyyy
    american = f"{day[3:5]}/{day[:2]}/{day[6:]}"
    edit(export, 2, "mr_dato", american)
    code, out, _ = run_cli(export, tmp_path / "b", key, capsys)
    assert code == 1
    assert (2, "mr_dato", american, "invalid-date") in quarantined(out)


def test_a_missing_dictionary_stops_the_run(
    export: Path, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (export / "dictionary.csv").rename(export / "datadictionary.csv")
    code, _, err = run_cli(export, tmp_path / "b", key, capsys)
    assert code == 2
    assert "no data dictionary dictionary.csv beside data.csv" in err
    assert "did you mean 'datadictionary.csv'" in err
    assert not (tmp_path / "b").exists()


def test_an_event_the_adapter_does_not_know_is_quarantined_where_it_names_the_visit(
    export: Path, key: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """REDCap's label "Uge 52 (Arm 1: Arm 1)" is the event uge_52_arm_1, which is no visit of
    the spec: the forms on that row that take their visit from the event are quarantined."""
    edit(export, 2, "redcap_event_name", "Uge 52 (Arm 1: Arm 1)")
    code, out, err = run_cli(export, tmp_path / "b", key, capsys)
    assert code == 1
    found = {(row, col, value, reason) for row, col, value, reason in quarantined(out)}
    assert (2, "redcap_event_name", "uge_52_arm_1", "unknown-code") in found
    assert "events=" not in err
