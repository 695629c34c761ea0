"""The simulated assessments and safety data: realistic (DOMAIN.md §1-2, §6), visits that the
engine's window rule gives back, unique natural keys, partial dates, and derived columns equal
to the schema's own SQL to the last bit."""

from __future__ import annotations

import re

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.adapters.parsers import Code, PartialDate
from federate.synth import SynthResult, run
from federate.synth.codes import ATC_CROSSWALK, EDSS_SCORES, MEDDRA_SOC, VISIT_WINDOWS
from federate.synth.practice import PRACTICE
from federate.synth.sites import SITES
from federate.synth.trial import simulate_site

SCHEMA = registry.schema()
ITALY = registry.adapter("italy")
NEW = ("edss", "msfc", "relapses", "adverse_events", "conmeds", "labs")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return run(tmp_path_factory.mktemp("outcomes") / "out", seed=2012)


def truth(result: SynthResult, table: str) -> pl.DataFrame:
    frame = pl.from_arrow(pq.read_table(result.truth[table]))
    assert isinstance(frame, pl.DataFrame)
    return frame


def share(flags: pl.Series) -> float:
    return float(np.mean(flags.cast(pl.Float64).to_numpy()))


def num(value: object) -> float:
    assert isinstance(value, int | float), value
    return float(value)


@pytest.mark.parametrize("table", NEW)
def test_every_site_has_rows_and_natural_keys_are_unique(result: SynthResult, table: str) -> None:
    frame = truth(result, table)
    assert set(frame["site"]) == {s.name for s in SITES}
    key = ["site", *SCHEMA.table(table).key]
    assert frame.select(key).is_duplicated().sum() == 0


def test_new_tables_leave_the_existing_ones_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each new table draws from its own stream: without them, the others are identical."""
    from federate.synth import trial

    full = simulate_site(SITES[0], 30, 5).tables
    monkeypatch.setattr(trial, "_outcomes", lambda *args: {})
    alone = simulate_site(SITES[0], 30, 5).tables
    assert set(alone) == {"subjects", "randomisation", "infusions", "visits", "mri"}
    for name, rows in alone.items():
        assert rows.equals(full[name]), name


@pytest.mark.parametrize("table", ["edss", "msfc", "labs"])
def test_visits_are_what_the_window_rule_gives(result: SynthResult, table: str) -> None:
    w0 = truth(result, "visits").filter(pl.col("visit_code") == "W0")
    w0 = w0.group_by("site", "subject_id").agg(pl.col("visit_date").min().alias("w0"))
    rows = truth(result, table).join(w0, on=["site", "subject_id"])
    days = (rows["assessment_date"] - rows["w0"]).dt.total_days().to_numpy()
    expected = np.full(len(days), "UNS", dtype=object)
    for code, (lo, hi) in VISIT_WINDOWS.items():
        expected[(days >= lo) & (days <= hi)] = code
    assert rows["visit_code"].to_list() == expected.tolist()


def test_edss_is_valid_plausible_and_consistent(result: SynthResult) -> None:
    edss = truth(result, "edss")
    assert set(edss["edss"]) <= set(EDSS_SCORES) and 0.5 not in set(edss["edss"])
    assert share(edss["edss"].is_between(2.5, 6.5)) > 0.95  # a few drift out: warnings
    assert set(edss["visit_code"]) == {"SCR", "W0", "W12", "W24", "W36", "W48", "UNS"}
    assert 0 < share(edss["visit_code"] == "UNS") < 0.05
    scr = edss.filter((pl.col("site") == "italy") & (pl.col("visit_code") == "SCR"))
    assert scr["edss"].is_between(3.0, 6.5).all()  # the Italian criteria
    assert edss.select(pl.corr("edss", "fs_pyramidal")).item() > 0.4
    assert edss.filter(pl.col("edss") < 4)["ambulation_score"].drop_nulls().max() == 0
    assert share(edss["rater_blinded"]) > 0.85
    drift = edss.group_by("site", "subject_id").agg(
        (pl.col("edss").max() - pl.col("edss").min()).alias("range")
    )
    assert num(drift["range"].median()) <= 1.5  # slow drift, not noise


def test_msfc_is_realistic_and_z_needs_every_part(result: SynthResult) -> None:
    msfc = truth(result, "msfc")
    assert 5 <= msfc["t25fw_trial1_s"].median() <= 15  # type: ignore[operator]
    assert 18 <= msfc["nhpt_dominant_trial1_s"].median() <= 40  # type: ignore[operator]
    assert msfc["t25fw_trial2_s"].max() <= 180 and msfc["nhpt_nondominant_trial2_s"].max() <= 300  # type: ignore[operator]
    assert 35 <= msfc["pasat3"].mean() <= 55  # type: ignore[operator]
    parts = [c for c in msfc.columns if c.endswith("_s")] + ["pasat3"]
    complete = msfc.select(pl.all_horizontal(pl.col(parts).is_not_null())).to_series()
    assert (msfc["msfc_z"].is_not_null() == complete).all()
    assert 0 < share(~complete) < 0.2
    assert set(msfc["msfc_reference"]) == {"NMSS-TF-1999"}


def test_relapses_rate_rule_and_partial_onsets(result: SynthResult) -> None:
    relapses = truth(result, "relapses")
    visits = truth(result, "visits")
    years = visits.group_by("site", "subject_id").agg(
        (pl.col("visit_date").max() - pl.col("visit_date").filter(pl.col("visit_code") == "W0"))
        .first()
        .dt.total_days()
        .alias("days")
    )
    rate = relapses.height / (num(years["days"].sum()) / 365.25)
    assert 0.2 <= rate <= 0.7
    assert {"day", "month"} <= set(relapses["onset_date_precision"])
    assert 0 < relapses["end_date"].null_count() < relapses.height / 3
    gaps = (
        relapses.sort("site", "subject_id", "onset_date")
        .group_by("site", "subject_id", maintain_order=True)
        .agg(pl.col("onset_date").diff().dt.total_days().min().alias("gap"))
    )
    assert (gaps["gap"].drop_nulls() >= 28).all()  # 30 days apart (month bounds round down)
    assert set(relapses["severity"]) == {"MILD", "MODERATE", "SEVERE"}


def test_adverse_events_are_numbered_coded_and_mostly_mild(result: SynthResult) -> None:
    ae = truth(result, "adverse_events")
    assert ae.height / truth(result, "subjects").height >= 2  # several per patient
    numbers = ae.group_by("site", "subject_id").agg(
        pl.col("ae_number").sort().alias("n"), pl.len().alias("count")
    )
    assert all(n == list(range(1, c + 1)) for n, c in numbers.select("n", "count").rows())
    assert 0 < share(ae["serious"]) < 0.2
    criteria = [c for c in ae.columns if c.startswith("sae_")]
    serious = ae.filter(pl.col("serious"))
    assert serious.select(pl.any_horizontal(criteria)).to_series().all()
    assert ae.filter(~pl.col("serious")).select(pl.col(criteria).null_count()).row(0) == tuple(
        [ae.height - serious.height] * len(criteria)
    )
    assert share(ae["ctcae_grade"] <= 2) > 0.75
    assert set(ae["meddra_soc_code"].drop_nulls()) <= set(MEDDRA_SOC)
    assert ae["meddra_pt_code"].drop_nulls().str.contains(r"^\d{8}$").all()
    versions = ae.group_by("site").agg(pl.col("meddra_version").drop_nulls().unique())
    assert dict(versions.select("site", pl.col("meddra_version").list.first()).rows()) == {
        s: PRACTICE[s].meddra_version for s in PRACTICE
    }
    assert {"day", "month", "year"} == set(ae["onset_date_precision"])
    assert {"POSSIBLE", "PROBABLE"} <= set(ae["relatedness_product"])
    assert {"PROBABLE", "DEFINITE"} <= set(ae["relatedness_harvest"].drop_nulls())


def test_italian_verbatims_are_italian(result: SynthResult) -> None:
    ae = truth(result, "adverse_events").filter(pl.col("site") == "italy")
    terms = set(ae["verbatim_term"])
    assert {"cefalea", "febbre", "infezione delle vie urinarie"} & terms
    assert any("'" in t or re.search("[àèéìòù]", t) for t in terms)
    harvest = ae.filter(pl.col("meddra_pt_code") == "10064882")["verbatim_term"]
    assert set(harvest) <= {"dolore al sito del prelievo", "dolore in sede di aspirato midollare"}
    meds = set(truth(result, "conmeds").filter(pl.col("site") == "italy")["medication_verbatim"])
    assert meds & {"paracetamolo", "Tachipirina", "colecalciferolo", "metilprednisolone"}


def test_conmeds_keep_old_atc_codes_in_italy(result: SynthResult) -> None:
    meds = truth(result, "conmeds")
    italy = meds.filter(pl.col("site") == "italy")
    old = italy.filter(pl.col("atc_code").is_in(list(ATC_CROSSWALK)))
    assert old.height > 0 and (old["atc_version"].cast(pl.Int64) < 2024).all()
    assert (italy["atc_version"].drop_nulls().cast(pl.Int64) < 2024).all()
    dmf = meds.filter(pl.col("atc_code") == "N07XX09")
    assert (dmf["atc_version"].cast(pl.Int64) < 2019).all()
    current = meds["atc_code"].replace(dict(ATC_CROSSWALK))
    assert (meds["atc_code_current"].eq_missing(current)).all()
    assert meds["atc_code"].drop_nulls().str.contains(r"^[A-Z]\d\d[A-Z]{2}\d\d$").all()
    assert meds["start_date"].dt.year().min() < 2000  # type: ignore[operator]  # years before
    assert {"day", "month", "year"} == set(meds["start_date_precision"])
    assert 0.1 < meds["end_date"].null_count() / meds.height < 0.6  # some still taken
    assert meds.group_by("site", "subject_id").len()["len"].median() >= 2  # type: ignore[operator]


ITALIAN_UNITS = {
    "CREAT": {"mg/dL"},
    "HGB": {"g/dL"},
    "GLUC": {"mg/dL"},
    "ALT": {"U/L"},
    "AST": {"U/L"},
    "LYMPH": {"/mm3", "10^3/uL"},
    "BILI": {"mg/dL"},
}


def test_lab_units_follow_each_country(result: SynthResult) -> None:
    labs = truth(result, "labs")
    units = labs.group_by("site", "analyte").agg(pl.col("unit_reported").unique())
    by = {(s, a): set(u) for s, a, u in units.rows()}
    for analyte, expected in ITALIAN_UNITS.items():
        assert by["italy", analyte] <= expected, analyte
    assert by["italy", "LYMPH"] == {"/mm3", "10^3/uL"}  # centres differ
    assert by["denmark", "HGB"] == {"mmol/L"}
    assert by["sweden", "ALT"] == {"ukat/L"} and by["sweden", "AST"] == {"ukat/L"}
    assert by["uk", "CREAT"] == {"umol/L"}
    assert set(labs["visit_code"]) == {"SCR", "W0", "W4", "W12", "W24", "W48"}
    assert set(labs["analyte"]) == set(ITALIAN_UNITS)
    plausible = {"HGB": (90, 190), "CREAT": (30, 150), "GLUC": (3, 9), "LYMPH": (0.4, 5)}
    for analyte, (lo, hi) in plausible.items():
        values = labs.filter(pl.col("analyte") == analyte)["value"]
        assert share(values.is_between(lo, hi)) > 0.97, analyte


def test_lab_text_reads_back_to_the_reported_value(result: SynthResult) -> None:
    labs = truth(result, "labs")
    for site, local in PRACTICE.items():
        rows = labs.filter(pl.col("site") == site)
        text = rows["value_raw"].str.replace_all(re.escape(local.group), "", literal=False)
        parsed = text.str.replace(local.decimal, ".", literal=True).cast(pl.Float64)
        assert (parsed == rows["value_reported"]).all(), site
    italy = labs.filter(pl.col("site") == "italy")
    assert (
        italy["value_raw"].str.contains(",").any() and italy["value_raw"].str.contains(r"\.").any()
    )


def test_partial_dates_are_written_as_the_site_writes_them(result: SynthResult) -> None:
    shapes = {"day": r"\d\d/\d\d/\d{4}", "month": r"\d\d/\d{4}", "year": r"\d{4}"}
    sweden = {"day": r"\d{4}-\d\d-\d\d", "month": r"\d{4}-\d\d", "year": r"\d{4}"}
    for table, column in [
        ("relapses", "onset_date"),
        ("adverse_events", "onset_date"),
        ("adverse_events", "end_date"),
        ("conmeds", "start_date"),
    ]:
        frame = truth(result, table).filter(pl.col(column).is_not_null())
        for site, patterns in (("italy", shapes), ("sweden", sweden)):
            rows = frame.filter(pl.col("site") == site)
            for level, pattern in patterns.items():
                at = rows.filter(pl.col(f"{column}_precision") == level)
                assert at[f"{column}_raw"].str.contains(f"^{pattern}$").all(), (table, level)
        month = frame.filter(pl.col(f"{column}_precision") == "month")
        assert (month[column].dt.day() == 1).all()
        year = frame.filter(pl.col(f"{column}_precision") == "year")
        assert ((year[column].dt.month() == 1) & (year[column].dt.day() == 1)).all()


@pytest.mark.parametrize("table", [t.name for t in SCHEMA if t.derived])
def test_derived_columns_equal_the_schema_sql_bit_for_bit(result: SynthResult, table: str) -> None:
    rows = pq.read_table(result.truth[table])
    con = duckdb.connect()
    con.register("truth", rows)
    for name, derived in SCHEMA.table(table).derived.items():
        differ = con.execute(
            f"SELECT count(*) FROM truth WHERE ({derived.sql}) IS DISTINCT FROM {name}"
        ).fetchall()[0][0]
        assert differ == 0, name
    assert rows.num_rows > 0


def test_italian_practice_agrees_with_the_adapter() -> None:
    local = PRACTICE["italy"]
    assert (local.decimal, local.group) == (ITALY.locale.decimal, ITALY.locale.group)
    formats = (
        ITALY.locale.date_formats[0],
        ITALY.locale.month_formats[0],
        ITALY.locale.year_formats[0],
    )
    assert local.partial_formats == formats
    assert isinstance(ITALY.table_map("relapses").fields["onset_date"], PartialDate)
    units = ITALY.table_map("labs").fields["unit_reported"]
    assert isinstance(units, Code)
    accepted = {k.lower(): v for k, v in units.mapping.items()}
    for unit, spellings in local.spellings.items():
        assert all(accepted[s.lower()] == unit for s in spellings), unit


def test_danish_haemoglobin_is_written_in_mmol_per_litre() -> None:
    labs = simulate_site(SITES[1], 5, 3).tables["labs"]
    hgb = labs.filter(pa.compute.equal(labs.column("analyte"), "HGB"))
    assert set(hgb.column("unit_reported").to_pylist()) == {"mmol/L"}
    assert all(re.fullmatch(r"\d+,\d", v) for v in hgb.column("value_raw").to_pylist())
