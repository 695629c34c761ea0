"""Denmark from the outside: REDCap exports written by hand from ``docs/sites/denmark.md``, as
REDCap writes them (``denmark_export``), in both flavours. Clean ones pool exactly; what the
spec allows (headers in any case, REDCap's own labels, instruments never saved) reads right;
what it does not is refused with a message for the person who makes the export."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.cli import main
from federate.errors import InputError
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import SiteKey
from federate.readers import Source
from tests.site_adapters import denmark_export as dk

DENMARK = registry.adapter("denmark")
D = dt.date

# The truth of denmark_export.records(), by hand, in record order (table -> rows of columns).
TRUTH: dict[str, tuple[tuple[str, ...], list[tuple[object, ...]]]] = {
    "subjects": (
        ("centre", "sex", "birth_year", "ms_course", "diagnosis_date", "eligibility_version"),
        [
            ("DK-CPH", "F", 1975, "RRMS", D(2009, 3, 2), "DK-2011"),
            ("DK-CPH", "M", 1980, "RRMS", D(2010, 6, 15), "DK-2011"),
            ("DK-AAR", "F", 1984, "RRMS", D(2010, 6, 15), "DK-2011"),
        ],
    ),
    "randomisation": (
        ("sequence", "randomisation_date"),
        [
            ("MSC_PLACEBO", D(2013, 2, 4)),
            ("PLACEBO_MSC", D(2013, 10, 1)),
            ("MSC_PLACEBO", D(2013, 10, 1)),
        ],
    ),
    "infusions": (
        ("period", "infusion_date", "product", "dose_million_cells_per_kg", "body_weight_kg"),
        [
            (1, D(2013, 2, 5), "MSC", 1.52, 68.5),
            (2, D(2013, 7, 23), "PLACEBO", None, 69.0),
            (1, D(2013, 10, 2), "PLACEBO", None, 81.2),
            (1, D(2013, 10, 2), "MSC", None, 81.2),
        ],
    ),
    "visits": (
        ("visit_code", "week", "visit_date"),
        [
            ("SCR", -6, D(2013, 1, 7)),
            ("W0", 0, D(2013, 2, 5)),
            ("W4", 4, D(2013, 3, 5)),
            ("W24", 24, D(2013, 7, 23)),
            ("UNS", None, D(2013, 5, 14)),
            ("SCR", -6, D(2013, 9, 2)),
            ("W0", 0, D(2013, 10, 2)),
            ("SCR", -6, D(2013, 9, 2)),
            ("W0", 0, D(2013, 10, 2)),
        ],
    ),
    "mri": (
        ("visit_code", "scan_date", "field_strength_t", "gel_count", "t2_volume_ml"),
        [
            ("SCR", D(2013, 1, 8), 3.0, 3, 12.45),
            ("W0", D(2013, 2, 4), 3.0, 1, None),
            ("W4", D(2013, 3, 5), 3.0, 0, None),
        ],
    ),
    "edss": (
        ("visit_code", "assessment_date", "edss", "fs_pyramidal", "rater_blinded"),
        [("SCR", D(2013, 1, 7), 3.5, 2, True), ("UNS", D(2013, 5, 14), 4.0, None, False)],
    ),
    "msfc": (
        ("visit_code", "t25fw_trial1_s", "nhpt_nondominant_trial2_s", "pasat3"),
        [("SCR", 6.2, 22.7, 48)],
    ),
    "relapses": (
        ("onset_date", "onset_date_precision", "severity", "recovery", "steroids"),
        [(D(2013, 3, 1), "month", "MODERATE", "PARTIAL", True)],
    ),
    "adverse_events": (
        ("ae_number", "verbatim_term", "serious", "sae_hospitalisation", "ctcae_grade"),
        [
            (1, "Hovedpine efter infusion", False, None, 1),
            (1, "Lungebetændelse", True, True, 3),
        ],
    ),
    "conmeds": (
        ("medication_verbatim", "atc_code", "start_date", "start_date_precision"),
        [("Tecfidera", "L04AX07", D(2012, 1, 1), "year")],
    ),
    "labs": (
        ("analyte", "value_raw", "value_reported", "unit_reported", "unit"),
        [("CREAT", "71", 71.0, "umol/L", "umol/L"), ("HGB", "8,6", 8.6, "mmol/L", "g/L")],
    ),
}


def run(export: Path, out: Path, key: SiteKey) -> IngestResult:
    return ingest(DENMARK, export, out, key, operator="test")


def table_rows(result: IngestResult, table: str) -> list[tuple[object, ...]]:
    columns, _ = TRUTH[table]
    got = pq.read_table(result.bundle / "tables" / f"{table}.parquet")
    got = got.sort_by([("source_row", "ascending")])
    return [tuple(row[c] for c in columns) for row in got.to_pylist()]


def assert_pools_exactly(result: IngestResult) -> None:
    assert result.exit_code == 0, result.quarantine.slice(0, 5).to_pylist()
    for table, (_, rows) in TRUTH.items():
        assert table_rows(result, table) == rows, table
    labs = pq.read_table(result.bundle / "tables" / "labs.parquet").to_pylist()
    haemoglobin = next(r["value"] for r in labs if r["analyte"] == "HGB")
    assert haemoglobin == pytest.approx(8.6 * 16.11, abs=0.1)  # mmol/L (Fe) to g/L


def cli(export: Path, out: Path, key: SiteKey, capsys: pytest.CaptureFixture[str]) -> tuple:
    args = ["ingest", "denmark", str(export), "--out", str(out), "--key-file", str(key.path)]
    with pytest.raises(SystemExit) as done:
        main([*args, "--format", "json"])
    captured = capsys.readouterr()
    return int(done.value.code or 0), captured.out, captured.err


@pytest.fixture
def key(site_key: SiteKey) -> SiteKey:
    site_key.path.write_text(site_key.secret.hex(), encoding="ascii")
    site_key.path.chmod(0o600)
    return site_key


# -- clean exports pool exactly, in either flavour -------------------------------------------


@pytest.mark.parametrize("flavour", ["raw", "label"])
def test_a_clean_export_pools_exactly(flavour: str, tmp_path: Path, key: SiteKey) -> None:
    result = run(dk.export(tmp_path / "export", flavour), tmp_path / "bundle", key)
    assert_pools_exactly(result)
    sources = result.manifest["sources"]
    assert {s["facts"]["flavour"] for s in sources} == {flavour}


def test_both_flavours_pool_to_the_same_tables(tmp_path: Path, key: SiteKey) -> None:
    raw = run(dk.export(tmp_path / "raw"), tmp_path / "b1", key)
    label = run(dk.export(tmp_path / "label", "label"), tmp_path / "b2", key)
    for tm in DENMARK.tables:
        a = pq.read_table(raw.bundle / "tables" / f"{tm.table}.parquet")
        b = pq.read_table(label.bundle / "tables" / f"{tm.table}.parquet")
        assert a.drop(["submission_id"]).equals(b.drop(["submission_id"])), tm.table


# -- 1: column names in any case and with spaces, as the spec says ---------------------------


@pytest.mark.parametrize("flavour", ["raw", "label"])
def test_headers_match_in_any_case_and_with_spaces(
    flavour: str, tmp_path: Path, key: SiteKey
) -> None:
    rows = dk.table(flavour, unsaved="")
    rows[0] = [f" {h.upper()} " if n % 2 else h.title() for n, h in enumerate(rows[0])]
    result = run(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key)
    assert_pools_exactly(result)


# -- 2: label exports decoded from the project's own metadata ------------------------------


def test_redcaps_own_labels_need_no_list_in_the_adapter() -> None:
    """Events, groups and instruments are decoded as REDCap names them, not by label lists."""
    reader = DENMARK.reader
    assert not getattr(reader, "events", {}) and not getattr(reader, "instruments", {})
    assert not getattr(reader, "groups", {})


@pytest.mark.parametrize("centre", ["AARHUS UH", " aarhus uh", "Aarhus_UH", "aarhus_uh"])
def test_a_group_label_written_another_way_names_the_same_group(
    centre: str, tmp_path: Path, key: SiteKey
) -> None:
    """REDCap's unique group name is made of the label (letters, digits, spaces as '_', lower
    case): every spelling that makes aarhus_uh is the Aarhus centre."""
    rows = dk.table("label", unsaved="")
    at = rows[0].index("Data Access Group")
    for row in rows[1:]:
        row[at] = centre if row[at] == "Aarhus UH" else row[at]
    result = run(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key)
    assert_pools_exactly(result)


def test_an_event_no_table_maps_reads_and_a_visit_it_cannot_name_is_quarantined(
    tmp_path: Path, key: SiteKey
) -> None:
    """Events are read through REDCap's unique names: the running logs on an event called
    'Løbende registrering' (lbende_registrerin_arm_1) still pool; a visit at 'Uge 52' does not
    name a visit of the spec and is quarantined, by row, not the whole run stopped."""
    rows = dk.table("label", unsaved="")
    at = rows[0].index("Event Name")
    scr = next(n for n, r in enumerate(rows) if r[0] == "102" and r[at].startswith("W0"))
    for row in rows[1:]:
        if row[at].startswith("Lobende"):
            row[at] = "Løbende registrering (Arm 1: Arm 1)"
    rows[scr][at] = "Uge 52 (Arm 1: Arm 1)"
    result = run(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key)
    assert result.exit_code == 1
    quarantined = result.quarantine.to_pylist()
    assert {(q["table"], q["source_row"], q["reason"]) for q in quarantined} == {
        ("visits", scr + 1, "unknown-code"),
        ("infusions", scr + 1, "unknown-code"),
    }
    assert {q["value"] for q in quarantined} == {"uge_52_arm_1"}
    for table in ("relapses", "adverse_events", "conmeds"):
        assert len(table_rows(result, table)) == len(TRUTH[table][1]), table


# -- 3: instruments never saved are skipped with their reason ------------------------------


def test_instruments_never_saved_are_skipped_and_counted(tmp_path: Path, key: SiteKey) -> None:
    result = run(dk.export(tmp_path / "export", "label"), tmp_path / "bundle", key)
    assert_pools_exactly(result)
    skipped = {
        s["part"]: s["skipped_reasons"] for s in result.manifest["sources"] if s["rows_skipped"]
    }
    # 101 at W0 (edss, msfc) and W24 (mr, edss, msfc); 102 and 201 at screening (mr, edss, msfc)
    assert skipped == {
        "mr": {"form-never-saved": 3},
        "edss": {"form-never-saved": 4},
        "msfc": {"form-never-saved": 4},
    }


# -- 4: the flavour is read from the values, never recoded silently -------------------------


def test_a_raw_export_is_never_decoded_as_labels(tmp_path: Path, key: SiteKey) -> None:
    """A raw export read by a reader that expects labels is refused, naming both flavours."""
    labels_only = replace(DENMARK, reader=replace(DENMARK.reader, flavour="label"))
    export = dk.export(tmp_path / "export")
    source = Source(export / "data.csv", "data.csv", "demografi")
    assert DENMARK.reader.source_facts(source)["flavour"] == "raw"  # read by the site's reader
    with pytest.raises(InputError) as err:
        ingest(labels_only, export, tmp_path / "bundle", key, operator="test")
    assert "this export has raw values" in str(err.value)
    assert "the site's spec asks for label values" in str(err.value)
    assert err.value.exit_code == 2


def test_an_export_mixing_codes_and_labels_is_refused(
    tmp_path: Path, key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = dk.table("label", unsaved="")
    at = rows[0].index("Køn")
    rows[1][at] = "0"  # a code typed into a label export
    code, _, err = cli(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key, capsys)
    assert code == 2
    assert "koen" in err and "'0'" in err and "label" in err and "row 2" in err


# -- 5 and 6: messages for the person who makes the export ----------------------------------


def test_a_comma_separated_export_is_named_as_such(
    tmp_path: Path, key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    export = dk.save(tmp_path / "export", dk.table(), delimiter=",")
    code, _, err = cli(export, tmp_path / "bundle", key, capsys)
    assert code == 2
    assert "this file is comma-separated; the export must use ';'" in err
    assert "dictionary" not in err


@pytest.mark.parametrize("flavour", ["raw", "label"])
def test_columns_not_in_the_dictionary_are_ignored_with_one_warning(
    flavour: str, tmp_path: Path, key: SiteKey
) -> None:
    """The spec: extra columns are ignored with a warning. Two columns a coordinator added to
    the records file pool nothing, and are named once for the file (not once per form)."""
    rows = dk.table(flavour, unsaved="")
    rows[0] += ["Bemærkning", "tjekket"]
    for row in rows[1:]:
        row += ["ring til patient", "ja"]
    result = run(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key)
    assert_pools_exactly(result)
    unknown = [w for w in result.warnings.to_pylist() if w["reason"] == "unknown-column"]
    added = [(w["source_file"], w["column"]) for w in unknown if w["column"] in rows[0][-2:]]
    assert added == [("data.csv", "Bemærkning"), ("data.csv", "tjekket")]


def test_a_misspelt_field_is_named_for_the_coordinator(
    tmp_path: Path, key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = dk.table()
    rows[0][rows[0].index("vaegt")] = "vaegt_kg"
    code, _, err = cli(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key, capsys)
    assert code == 2
    assert "missing column(s) 'vaegt' (did you mean 'vaegt_kg'?): add them to the export" in err
    for developer_word in ("declare", "reader", "events=", "adapter"):
        assert developer_word not in err


def test_no_message_tells_the_coordinator_what_to_declare(
    tmp_path: Path, key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A repeating instrument whose rows hold no data cannot be placed: the message says what
    to change in the export, not what a developer should declare."""
    rows = dk.table("label", unsaved="")
    at = rows[0].index("Repeat Instrument")
    n = next(n for n, r in enumerate(rows) if r[at] == "Konkomitant medicin")
    rows[n][at] = "Medicin-log"
    start = rows[0].index("Præparat")
    rows[n][start : start + 6] = [""] * 6  # the instance's fields and status blank
    code, _, err = cli(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key, capsys)
    assert code == 2
    assert "Medicin-log" in err
    for developer_word in ("declare", "reader", "instruments=", "adapter"):
        assert developer_word not in err


def test_the_report_names_the_quarantined_values_as_the_site_wrote_them(
    tmp_path: Path, key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = dk.table("label", unsaved="")
    rows[1][rows[0].index("Køn")] = "Ukendt"
    code, out, _ = cli(dk.save(tmp_path / "export", rows), tmp_path / "bundle", key, capsys)
    assert code == 1
    examples = json.loads(out)["quarantine"]["examples"]
    assert (2, "koen", "Ukendt", "unknown-code") in [
        (e["source_row"], e["column"], e["value"], e["reason"]) for e in examples
    ]
