"""Schema v1's clinical tables through the Italian adapter: partial dates, harmonised labs,
the ATC crosswalk, visits by window, the MSFC composite."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import SiteKey
from tests.italy_export import write_italy_export

ITALY = registry.adapter("italy")


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IngestResult]:
    tmp = tmp_path_factory.mktemp("clinical")
    export = write_italy_export(tmp / "export")
    result = ingest(ITALY, export, tmp / "bundle", SiteKey(bytes(32), tmp / "k"))
    return tmp / "bundle", result


def rows(bundle: tuple[Path, IngestResult], table: str) -> list[dict[str, Any]]:
    return pq.read_table(bundle[0] / "tables" / f"{table}.parquet").to_pylist()


def test_partial_dates_keep_lower_bound_precision_and_raw(bundle: Any) -> None:
    ae = {
        r["ae_number"] + 10 * (r["onset_date_precision"] == "year"): r
        for r in rows(bundle, "adverse_events")
    }
    month = ae[2]
    assert (str(month["onset_date"]), month["onset_date_precision"], month["onset_date_raw"]) == (
        "2013-03-01",
        "month",
        "03/2013",
    )
    year = ae[11]
    assert (str(year["onset_date"]), year["onset_date_raw"]) == ("2013-01-01", "2013")
    assert month["verbatim_term"] == "dolore; sito del prelievo"  # delimiter inside quotes


def test_old_and_new_atc_codes_pool_together(bundle: Any) -> None:
    meds = rows(bundle, "conmeds")
    natalizumab = [m for m in meds if "natalizumab" in m["medication_verbatim"].lower()]
    assert {m["atc_code"] for m in natalizumab} == {"L04AA23", "L04AG03"}
    assert {m["atc_code_current"] for m in natalizumab} == {"L04AG03"}


def test_labs_keep_raw_and_harmonise(bundle: Any) -> None:
    labs = {r["analyte"]: r for r in rows(bundle, "labs")}
    creat = labs["CREAT"]
    assert (creat["value_raw"], creat["unit_raw"], creat["unit"]) == ("0,9", "mg/dl", "umol/L")
    assert creat["value"] == pytest.approx(0.9 * 88.4)
    assert labs["HGB"]["value"] == pytest.approx(135.0) and labs["HGB"]["unit"] == "g/L"
    assert labs["LYMPH"]["value"] == pytest.approx(1.85)  # "1.850" per mm³
    assert labs["GLUC"]["value"] == pytest.approx(5.0)


def test_visits_assigned_by_window(bundle: Any) -> None:
    edss = sorted((str(r["assessment_date"]), r["visit_code"]) for r in rows(bundle, "edss"))
    assert edss == [("2013-01-22", "SCR"), ("2013-03-05", "W0"), ("2013-03-07", "W0")]
    labs = {r["analyte"]: r["visit_code"] for r in rows(bundle, "labs")}
    assert labs["ALT"] == "UNS"  # day 136 after W0: outside every window
    warnings = bundle[1].warnings.to_pylist()
    assert [(w["table"], w["reason"]) for w in warnings] == [("labs", "outside-visit-windows")]


def test_msfc_composite(bundle: Any) -> None:
    msfc = rows(bundle, "msfc")
    full = next(r for r in msfc if r["t25fw_trial2_s"] is not None)
    t25 = (6.1 + 5.9) / 2
    nhpt = (1 / ((21.0 + 22.0) / 2) + 1 / ((23.5 + 24.1) / 2)) / 2
    z = ((nhpt - 0.0439) / 0.0101 - (t25 - 9.5353) / 11.4058 + (48 - 45.0311) / 12.0771) / 3
    assert full["msfc_z"] == pytest.approx(z)
    assert all(r["msfc_reference"] == "NMSS-TF-1999" for r in msfc)
    assert next(r for r in msfc if r["t25fw_trial2_s"] is None)["msfc_z"] is None
