"""The Swedish adapter and its SPSS export: typed, labelled .sav files written from the truth
read back to the truth; personnummer never leave the site; a code outside a closed label set is
quarantined naming the set; a user-missing code reads as empty."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyreadstat
import pytest

from federate.adapters import registry
from federate.adapters.parsers import Code, Date, PartialDate
from federate.ingest.run import IngestResult, ingest
from federate.privacy.identifiers import personnummer, scan_values
from federate.privacy.pseudonym import load_key
from federate.synth import SynthResult, run
from federate.synth.practice import PRACTICE

SWEDEN = registry.adapter("sweden")
PATIENTS = 22  # Sweden's MESEMS share


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return run(tmp_path_factory.mktemp("se") / "out", counts={"sweden": PATIENTS})


@pytest.fixture(scope="module")
def bundle(clean: SynthResult, tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    return ingest_export(clean, clean.export_dir("sweden"), tmp_path_factory.mktemp("b") / "b")


def ingest_export(trial: SynthResult, export: Path, out: Path) -> IngestResult:
    key = load_key("sweden", trial.keys["sweden"])
    return ingest(SWEDEN, export, out, key, operator="test")


def read_sav(path: Path) -> tuple[pl.DataFrame, Any]:
    """Cases as stored (user-missing codes kept), and the file's metadata."""
    frame, meta = pyreadstat.read_sav(str(path), output_format="polars", user_missing=True)
    assert isinstance(frame, pl.DataFrame)
    return frame, meta


def set_value(path: Path, column: str, case: int, value: float) -> None:
    """Write ``value`` into ``column`` of 1-based ``case``, keeping the file's metadata."""
    frame, meta = read_sav(path)
    values = frame.get_column(column).to_list()
    values[case - 1] = value
    frame = frame.with_columns(pl.Series(column, values, dtype=pl.Float64))
    pyreadstat.write_sav(
        frame,
        str(path),
        file_label=meta.file_label or "",
        variable_value_labels=meta.variable_value_labels,
        missing_ranges=meta.missing_ranges,
        variable_format=meta.original_variable_types,
    )


def copy_export(trial: SynthResult, tmp_path: Path) -> Path:
    export = tmp_path / "export"
    shutil.copytree(trial.export_dir("sweden"), export)
    return export


def truth(trial: SynthResult, table: str) -> pa.Table:
    rows = pq.read_table(trial.truth[table])
    return rows.filter(pc.equal(rows.column("site"), "sweden"))


def test_one_sav_file_per_form(clean: SynthResult) -> None:
    names = sorted(p.name for p in clean.export_dir("sweden").iterdir())
    assert names == sorted(tm.file for tm in SWEDEN.tables)
    assert all(p.read_bytes().startswith(b"$FL2") for p in clean.export_dir("sweden").iterdir())


def test_same_seed_same_files(clean: SynthResult, tmp_path: Path) -> None:
    """The header's creation stamp is the export's fixed one, not the clock's."""
    again = run(tmp_path / "again", counts={"sweden": PATIENTS})
    for a, b in zip(clean.exports["sweden"], again.exports["sweden"], strict=True):
        assert a.read_bytes() == b.read_bytes(), a.name
    _, meta = read_sav(clean.exports["sweden"][0])
    assert meta.creation_time == dt.datetime(2019, 12, 20, 14, 30)


def test_clean_export_ingests_to_the_truth(clean: SynthResult, bundle: IngestResult) -> None:
    assert bundle.quarantine.num_rows == 0 and bundle.warnings.num_rows == 0
    for tm in SWEDEN.tables:
        got = pq.read_table(bundle.bundle / "tables" / f"{tm.table}.parquet")
        want = truth(clean, tm.table)
        assert want.num_rows > 0, tm.table
        assert got.drop(["submission_id"]).equals(want.drop(["submission_id"])), tm.table


def test_cases_count_from_one(clean: SynthResult) -> None:
    for tm in SWEDEN.tables:
        rows = truth(clean, tm.table).column("source_row").to_pylist()
        assert rows == list(range(1, len(rows) + 1)), tm.table


def test_variables_are_typed_and_labelled_in_swedish(clean: SynthResult) -> None:
    folder = clean.export_dir("sweden")
    patients, meta = read_sav(folder / "patienter.sav")
    assert meta.variable_value_labels["kön"] == {1: "kvinna", 2: "man"}
    assert meta.original_variable_types["födelsedatum"].startswith("SDATE")
    assert patients.schema["födelsedatum"] == pl.Date
    scans, meta = read_sav(folder / "mr.sav")
    assert meta.variable_value_labels["central_granskning"] == {1: "ja", 0: "nej"}
    assert scans.schema["gd_lesioner"] == pl.Float64
    assert set(scans["besök"].to_list()) <= set(meta.variable_value_labels["besök"])
    relapses, meta = read_sav(folder / "skov.sav")
    assert relapses.schema["skovdebut"] == pl.String  # may be partial: ISO text
    labs, meta = read_sav(folder / "labb.sav")
    assert labs.schema["värde"] == pl.String and "analys" in meta.variable_value_labels
    alt = labs.filter(pl.col("analys") == 4)  # P-ALAT
    assert set(alt["enhet"]) == {"µkat/L"} and alt["värde"].str.contains(",").any()
    hgb = labs.filter(pl.col("analys") == 2)  # B-Hemoglobin
    assert set(hgb["enhet"]) == {"g/L"}
    events, _ = read_sav(folder / "biverkningar.sav")
    assert events["händelse"].str.contains("[åäö]").any()


def test_personnummer_are_valid_and_never_reach_the_bundle(
    clean: SynthResult, bundle: IngestResult
) -> None:
    patients, _ = read_sav(clean.export_dir("sweden") / "patienter.sav")
    numbers = patients["personnummer"].to_list()
    assert len(set(numbers)) == PATIENTS
    for number, born, sex in zip(numbers, patients["födelsedatum"], patients["kön"], strict=True):
        assert personnummer(number), number  # a real date, and the Luhn check
        assert dt.datetime.strptime(number[:8], "%Y%m%d").date() == born
        assert int(number[11]) % 2 == (1 if sex == 2 else 0)  # odd for men

    forms = {n[2:] for n in numbers} | {n.replace("-", "") for n in numbers}
    secrets = set(numbers) | forms | {n[2:].replace("-", "") for n in numbers}
    secrets |= set(patients["namn"].to_list())
    for path in bundle.bundle.rglob("*"):
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            for name in table.column_names:
                column = table.column(name).combine_chunks()
                if pa.types.is_string(column.type):
                    assert not set(column.drop_null().to_pylist()) & secrets, (path.name, name)
                    assert not scan_values(column, free_text=True), (path.name, name)
        elif path.is_file() and path.suffix != ".xlsx":
            text = path.read_text("utf-8", errors="replace")
            assert not any(s in text for s in secrets), path.name
    dropped = {c["file"]: c["dropped_identifiers"] for c in bundle.report["columns"]}
    assert dropped["patienter.sav"] == ["personnummer", "namn"]


def test_a_code_outside_the_value_labels_is_quarantined_naming_the_label_set(
    clean: SynthResult, tmp_path: Path
) -> None:
    export = copy_export(clean, tmp_path)
    set_value(export / "patienter.sav", "kön", 3, 3.0)  # only 1 and 2 are labelled
    result = ingest_export(clean, export, tmp_path / "bundle")
    rows = result.quarantine.filter(pc.equal(result.quarantine.column("table"), "subjects"))
    assert rows.num_rows == 1
    row = rows.to_pylist()[0]
    assert (row["source_file"], row["source_row"], row["column"]) == ("patienter.sav", 3, "kön")
    assert (row["reason"], row["value"]) == ("unknown-code", "3")
    assert "value labels kön: 1 = kvinna, 2 = man" in row["rule"]


def test_a_user_missing_code_reads_as_empty(clean: SynthResult, tmp_path: Path) -> None:
    export = copy_export(clean, tmp_path)
    file = export / "skov.sav"
    _, meta = read_sav(file)
    assert meta.variable_value_labels["återhämtning"][99] == "uppgift saknas"
    assert meta.missing_ranges["återhämtning"] == [{"lo": 99.0, "hi": 99.0}]
    set_value(file, "återhämtning", 1, 99.0)
    result = ingest_export(clean, export, tmp_path / "bundle")
    assert result.quarantine.num_rows == 0
    got = pq.read_table(result.bundle / "tables" / "relapses.parquet").sort_by("source_row")
    want = truth(clean, "relapses").sort_by("source_row")
    assert got.column("recovery")[0].as_py() is None
    assert got.column("recovery")[1:].equals(want.column("recovery")[1:])
    manifest = json.loads((result.bundle / "manifest.json").read_text("utf-8"))
    facts = next(s["facts"] for s in manifest["sources"] if s["path"] == "skov.sav")
    assert facts["user_missing.återhämtning"] == "99"


def test_not_known_is_written_as_the_user_missing_code(tmp_path: Path) -> None:
    """Where the truth does not know the relatedness to the harvest, the file says 99."""
    trial = run(tmp_path / "out", counts={"sweden": 60})
    events, meta = read_sav(trial.export_dir("sweden") / "biverkningar.sav")
    assert 99 in meta.variable_value_labels["samband_benmärgsuttag"]
    coded = events["samband_benmärgsuttag"].to_list()
    unknown = truth(trial, "adverse_events").column("relatedness_harvest").is_null().to_pylist()
    assert any(unknown)
    assert [c == 99 for c in coded] == unknown
    # Not applicable (a criterion of a non-serious event) stays system-missing.
    assert events["allvarlig_död"].null_count() > 0


def test_injected_errors_are_quarantined(tmp_path: Path) -> None:
    broken = run(tmp_path / "out", counts={"sweden": PATIENTS}, inject_errors=True)
    result = ingest_export(broken, broken.export_dir("sweden"), tmp_path / "bundle")
    got = {(r["source_file"], r["column"], r["reason"]) for r in result.quarantine.to_pylist()}
    assert got == {(e.file, e.column, e.reason) for e in broken.injected}
    assert result.quarantine.num_rows == len(broken.injected) == 4


def test_swedish_practice_agrees_with_the_adapter() -> None:
    local, loc = PRACTICE["sweden"], SWEDEN.locale
    assert (local.decimal, local.group) == (loc.decimal, loc.group)
    assert local.partial_formats == (
        loc.date_formats[0],
        loc.month_formats[0],
        loc.year_formats[0],
    )
    for tm in SWEDEN.tables:
        for parser in tm.fields.values():
            assert not isinstance(parser, Date) or parser.formats is None  # ISO, the locale's
    assert isinstance(SWEDEN.table_map("adverse_events").fields["onset_date"], PartialDate)
    units = SWEDEN.table_map("labs").fields["unit_reported"]
    assert isinstance(units, Code)
    accepted = {k.lower(): v for k, v in units.mapping.items()}
    for unit, spellings in local.spellings.items():
        assert all(accepted[s.lower()] == unit for s in spellings), unit
    centres = SWEDEN.table_map("subjects").fields["centre"]
    assert isinstance(centres, Code) and set(centres.mapping.values()) == {"SE-STO", "SE-GOT"}
