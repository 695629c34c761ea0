"""The Swedish adapter and its SPSS export: typed, labelled .sav files written from the truth
read back to the truth; personnummer never leave the site; a code outside a closed label set is
quarantined naming the set; a user-missing code reads as empty."""

from __future__ import annotations

import datetime as dt
import json
import math
import shutil
from dataclasses import dataclass, field
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


# --- an export written by hand from docs/sites/sweden.md, as SPSS writes one ---------------------

DAY = dt.date
VISIT_LABELS = {1: "screening", 2: "baslinje", 3: "vecka 4", 4: "vecka 12", 5: "vecka 24",
                6: "vecka 28", 7: "vecka 36", 8: "vecka 48", 9: "extra besök"}  # fmt: skip
JA_NEJ = {1: "ja", 0: "nej"}
RELATED = {1: "ej relaterad", 2: "osannolikt", 3: "möjligt", 4: "troligt", 5: "säkert",
           99: "uppgift saknas"}  # fmt: skip
SAE = ("allvarlig_död", "allvarlig_livshotande", "allvarlig_sjukhusvård",
       "allvarlig_funktionsnedsättning", "allvarlig_missbildning", "allvarlig_annan")  # fmt: skip
ANALYSES = {1: "P-Kreatinin", 2: "B-Hemoglobin", 3: "P-Glukos", 4: "P-ALAT", 5: "P-ASAT",
            6: "B-Lymfocyter", 7: "P-Bilirubin", 8: "P-Natrium"}  # fmt: skip
FS = ("fs_pyramidal", "fs_cerebellär", "fs_hjärnstam", "fs_sensorisk", "fs_blåsa_tarm",
      "fs_syn", "fs_cerebral")  # fmt: skip


@dataclass(frozen=True)
class Form:
    """One .sav file: its cases, value labels, display formats and user-missing codes."""

    cases: dict[str, list[Any]]
    labels: dict[str, dict[float, str]] = field(default_factory=dict)
    formats: dict[str, str] = field(default_factory=dict)
    missing: dict[str, list[Any]] = field(default_factory=dict)


def handmade_forms() -> dict[str, Form]:
    """Two patients, every form; numbers are SPSS numerics (F formats), dates SPSS date
    variables (SDATE10, as yyyy/mm/dd), partial dates ISO text, coded variables labelled."""
    ids = ["STO-001", "GOT-002"]
    return {
        "patienter": Form(
            {"studienr": ids, "klinik": [1.0, 2.0], "kön": [1.0, 2.0],
             "födelsedatum": [DAY(1980, 3, 15), DAY(1975, 11, 2)], "ms_förlopp": [1.0, 2.0],
             "diagnosdatum": [DAY(2008, 5, 1), DAY(2005, 1, 20)],
             "personnummer": ["19800315-0016", "19751102-0019"], "namn": ["Anna A", "Bo B"]},
            {"klinik": {1: "Stockholm", 2: "Göteborg"}, "kön": {1: "kvinna", 2: "man"},
             "ms_förlopp": {1: "skovvis förlöpande", 2: "sekundärprogressiv",
                            3: "primärprogressiv"}},
            {"födelsedatum": "SDATE10", "diagnosdatum": "SDATE10"},
        ),
        "randomisering": Form(
            {"studienr": ids, "sekvens": [1.0, 2.0],
             "randomiseringsdatum": [DAY(2014, 1, 10), DAY(2014, 2, 3)]},
            {"sekvens": {1: "MSC-placebo", 2: "placebo-MSC"}},
            {"randomiseringsdatum": "SDATE10"},
        ),
        "infusioner": Form(
            {"studienr": ids, "period": [1.0, 1.0],
             "infusionsdatum": [DAY(2014, 1, 20), DAY(2014, 2, 12)], "preparat": [1.0, 2.0],
             "dos_milj_celler_kg": [1.5, None], "vikt_kg": [68.5, 81.0],
             "viabilitet_pct": [97.2, None], "batchnr": ["LOT-01", ""]},
            {"preparat": {1: "stamceller", 2: "placebo"}},
            {"infusionsdatum": "SDATE10", "period": "F1.0", "dos_milj_celler_kg": "F4.2",
             "vikt_kg": "F5.1", "viabilitet_pct": "F5.1"},
        ),
        "besok": Form(
            {"studienr": ids * 2, "besök": [2.0, 2.0, 3.0, 3.0], "vecka": [0.0, 0.0, 4.0, 4.0],
             "besöksdatum": [DAY(2014, 1, 20), DAY(2014, 2, 12), DAY(2014, 2, 17),
                             DAY(2014, 3, 12)]},
            {"besök": VISIT_LABELS}, {"besöksdatum": "SDATE10", "vecka": "F2.0"},
        ),
        "mr": Form(
            {"studienr": ids, "besök": [2.0, 2.0],
             "mr_datum": [DAY(2014, 1, 18), DAY(2014, 2, 10)], "fältstyrka_t": [1.5, 3.0],
             "gd_lesioner": [2.0, 0.0], "nya_t2_lesioner": [1.0, 0.0], "cua_lesioner": [3.0, 0.0],
             "t2_volym_ml": [4.25, 12.5], "hjärnvolym_ml": [1432.5, 1511.0],
             "central_granskning": [1.0, 0.0]},
            {"besök": VISIT_LABELS, "central_granskning": JA_NEJ},
            {"mr_datum": "SDATE10", "hjärnvolym_ml": "F7.1"},
        ),
        "edss": Form(
            {"studienr": ids, "bedömningsdatum": [DAY(2014, 1, 19), DAY(2014, 2, 11)],
             "edss": [3.5, 6.0], **{c: [2.0, 3.0] for c in FS}, "gångpoäng": [1.0, 4.0],
             "blindad_bedömare": [1.0, 1.0]},
            {"blindad_bedömare": JA_NEJ}, {"bedömningsdatum": "SDATE10", "edss": "F3.1"},
        ),
        "msfc": Form(
            {"studienr": ids, "bedömningsdatum": [DAY(2014, 1, 19), DAY(2014, 2, 11)],
             "t25fw_1": [6.2, 9.8], "t25fw_2": [6.0, 10.1], "nhpt_dom_1": [21.3, 25.0],
             "nhpt_dom_2": [20.9, 24.4], "nhpt_icke_dom_1": [23.0, 27.2],
             "nhpt_icke_dom_2": [22.4, 26.8], "pasat3": [48.0, 39.0]},
            formats={"bedömningsdatum": "SDATE10"},
        ),
        "skov": Form(
            {"studienr": ["STO-001"], "skovdebut": ["2014-03"], "skovslut": ["2014-04-02"],
             "svårighetsgrad": [2.0], "återhämtning": [99.0], "steroider": [1.0]},
            {"svårighetsgrad": {1: "lindrigt", 2: "måttligt", 3: "svårt"},
             "återhämtning": {1: "fullständig", 2: "partiell", 3: "ingen",
                              99: "uppgift saknas"}, "steroider": JA_NEJ},
            missing={"återhämtning": [99]},
        ),
        "biverkningar": Form(
            {"studienr": ["STO-001"], "händelse_nr": [1.0], "händelse": ["huvudvärk"],
             "meddra_pt": [10019211.0], "meddra_soc": [10029205.0], "meddra_version": [19.1],
             "startdatum": ["2014-01-21"], "slutdatum": ["2014-01-23"], "allvarlig": [0.0],
             **{c: [math.nan] for c in SAE}, "ctcae_grad": [1.0], "samband_preparat": [3.0],
             "samband_benmärgsuttag": [99.0], "utfall": [1.0]},
            {"allvarlig": JA_NEJ, **{c: JA_NEJ for c in SAE}, "samband_preparat": RELATED,
             "samband_benmärgsuttag": RELATED,
             "utfall": {1: "återställd", 2: "under återhämtning", 3: "ej återställd",
                        4: "återställd med bestående men", 5: "dödlig utgång", 6: "okänt"}},
            {"meddra_pt": "F8.0", "meddra_soc": "F8.0", "meddra_version": "F4.1"},
            {"samband_benmärgsuttag": [99]},
        ),
        "lakemedel": Form(
            {"studienr": ["STO-001"], "läkemedel": ["Tysabri"], "atc_kod": ["L04AG03"],
             "atc_version": [2024.0], "startdatum": ["2012"], "slutdatum": [""]},
            formats={"atc_version": "F4.0"},
        ),
        "labb": Form(
            {"studienr": ["STO-001"] * 2, "provdatum": [DAY(2014, 1, 19)] * 2,
             "analys": [1.0, 4.0], "värde": ["88", "0,45"], "enhet": ["µmol/L", "µkat/L"]},
            {"analys": ANALYSES}, {"provdatum": "SDATE10"},
        ),
    }  # fmt: skip


def write_form(path: Path, form: Form) -> None:
    import pandas as pd

    frame = pd.DataFrame(form.cases)
    if path.suffix == ".dta":  # Stata has no user-missing codes: not known is missing there
        frame = frame.replace(
            {c: dict.fromkeys(codes, math.nan) for c, codes in form.missing.items()}
        )
        pyreadstat.write_dta(frame, str(path), variable_value_labels=form.labels,
                             variable_format=_stata_formats(form))  # fmt: skip
        return
    pyreadstat.write_sav(
        frame,
        str(path),
        compress=path.suffix == ".zsav",
        variable_value_labels=form.labels,
        variable_format=form.formats,
        missing_ranges=form.missing,
    )


def _stata_formats(form: Form) -> dict[str, str]:
    return {name: "%td" for name, fmt in form.formats.items() if "DATE" in fmt}


def write_handmade(folder: Path, suffix: str = ".sav", **changed: Form) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, form in (handmade_forms() | changed).items():
        write_form(folder / f"{name}{suffix}", form)
    return folder


def handmade_key(tmp_path: Path) -> Path:
    key = tmp_path / "se.key"
    key.write_text(bytes(range(32)).hex() + "\n")
    key.chmod(0o600)
    return key


def ingest_handmade(export: Path, tmp_path: Path) -> IngestResult:
    key = load_key("sweden", handmade_key(tmp_path))
    return ingest(SWEDEN, export, tmp_path / "bundle", key, operator="test")


def rows_of(result: IngestResult, table: str) -> list[dict[str, Any]]:
    rows = pq.read_table(result.bundle / "tables" / f"{table}.parquet").sort_by("source_row")
    return rows.drop(["site", "submission_id", "subject_id", "source_file"]).to_pylist()


def test_a_handmade_export_pools_exactly(tmp_path: Path) -> None:
    result = ingest_handmade(write_handmade(tmp_path / "export"), tmp_path)
    assert result.quarantine.num_rows == 0 and result.exit_code == 0
    infusions = rows_of(result, "infusions")
    assert [(r["body_weight_kg"], r["dose_million_cells_per_kg"]) for r in infusions] == [
        (68.5, 1.5),
        (81.0, None),
    ]
    mri = rows_of(result, "mri")
    assert [(r["field_strength_t"], r["brain_volume_ml"]) for r in mri] == [
        (1.5, 1432.5),
        (3.0, 1511.0),
    ]
    relapse = rows_of(result, "relapses")[0]
    assert (relapse["onset_date"], relapse["onset_date_precision"]) == (DAY(2014, 3, 1), "month")
    labs = rows_of(result, "labs")
    assert [(r["analyte"], r["value_reported"], r["value"]) for r in labs] == [
        ("CREAT", 88.0, 88.0),
        ("ALT", 0.45, 27.0),
    ]
    conmed = rows_of(result, "conmeds")[0]
    assert (conmed["atc_version"], conmed["start_date_precision"]) == ("2024", "year")


def test_a_numeric_meddra_version_is_read_as_the_number_it_is(tmp_path: Path) -> None:
    """MedDRA 19.1 as an SPSS numeric is 19.1, not the decimal-comma text '19,1'."""
    result = ingest_handmade(write_handmade(tmp_path / "export"), tmp_path)
    assert result.quarantine.num_rows == 0
    event = rows_of(result, "adverse_events")[0]
    assert (event["meddra_version"], event["meddra_pt_code"]) == ("19.1", "10019211")


def test_a_numeric_meddra_version_reads_as_its_display_format_shows_it(tmp_path: Path) -> None:
    """MedDRA 26.0 kept as an SPSS numeric in F4.1, the format chosen to show it, is "26.0" as
    SPSS shows it; it was read as the shortest form of its number, '26', and quarantined."""
    events = handmade_forms()["biverkningar"]
    assert events.formats["meddra_version"] == "F4.1"
    cases = events.cases | {"meddra_version": [26.0]}
    export = write_handmade(
        tmp_path / "export", biverkningar=Form(cases, events.labels, events.formats, events.missing)
    )
    result = ingest_handmade(export, tmp_path)
    assert result.quarantine.num_rows == 0, result.quarantine.to_pylist()
    assert rows_of(result, "adverse_events")[0]["meddra_version"] == "26.0"


def test_a_date_variable_shown_to_the_month_keeps_its_precision(tmp_path: Path) -> None:
    """An SPSS date variable in MOYR format (JUN 2014) is known to the month; one in SDATE a
    full date, kept as SPSS shows it (2014/01/21)."""
    events = handmade_forms()["biverkningar"]
    cases = events.cases | {"startdatum": [DAY(2014, 6, 15)], "slutdatum": [DAY(2014, 6, 23)]}
    formats = events.formats | {"startdatum": "MOYR8", "slutdatum": "SDATE10"}
    export = write_handmade(
        tmp_path / "export", biverkningar=Form(cases, events.labels, formats, events.missing)
    )
    result = ingest_handmade(export, tmp_path)
    assert result.quarantine.num_rows == 0
    event = rows_of(result, "adverse_events")[0]
    assert (event["onset_date"], event["onset_date_precision"], event["onset_date_raw"]) == (
        DAY(2014, 6, 1), "month", "JUN 2014",
    )  # fmt: skip
    assert (event["end_date"], event["end_date_precision"], event["end_date_raw"]) == (
        DAY(2014, 6, 23), "day", "2014/06/23",
    )  # fmt: skip


def test_another_analyte_is_one_line_not_three(tmp_path: Path) -> None:
    """A lab test the schema lacks is quarantined once, for its analyte: no follow-on lines
    for the harmonised value and unit that follow from it."""
    labs = handmade_forms()["labb"]
    cases = {k: [*v, v[-1]] for k, v in labs.cases.items()}
    cases |= {"analys": [1.0, 4.0, 8.0], "värde": ["88", "0,45", "140"],
              "enhet": ["µmol/L", "µkat/L", "mmol/L"]}  # fmt: skip
    events = handmade_forms()["biverkningar"]  # MedDRA version as text: only labs at stake
    typed_as_text = Form(events.cases | {"meddra_version": ["19.1"]}, events.labels, {})
    export = write_handmade(
        tmp_path / "export",
        labb=Form(cases, labs.labels, labs.formats),
        biverkningar=Form(typed_as_text.cases, events.labels, missing=events.missing),
    )
    result = ingest_handmade(export, tmp_path)
    rows = result.quarantine.to_pylist()
    assert [(r["source_row"], r["column"], r["reason"], r["value"]) for r in rows] == [
        (3, "analys", "unknown-code", "P-Natrium")
    ]


@pytest.mark.parametrize("suffix", [".zsav", ".dta"])
def test_the_spec_allows_zsav_and_stata_files(tmp_path: Path, suffix: str) -> None:
    """The spec lists .sav, .zsav, .por and .dta: each form may come in any of them."""
    result = ingest_handmade(write_handmade(tmp_path / "export", suffix), tmp_path)
    assert result.quarantine.num_rows == 0 and result.exit_code == 0
    sources = {s["path"] for s in result.manifest["sources"]}
    assert sources == {f"{Path(tm.file).stem}{suffix}" for tm in SWEDEN.tables}
    assert rows_of(result, "adverse_events")[0]["meddra_version"] == "19.1"
