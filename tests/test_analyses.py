"""Named analyses: the primary endpoint on a hand-made warehouse equals a hand computation."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from federate import analyses, registry, warehouse
from federate.pseudonym import SiteKey
from federate.query import parse_select
from tests.italy_export import FILES
from tests.test_warehouse import build_bundle, cli, clone_bundle

# Four patients. 123 and 126 get MSC first (CELLULE-PLACEBO), 124 and 125 placebo first.
# Only W4/W12/W24 count: the W0, W28 and unscheduled scans are there to be ignored.
PATIENTS = FILES["pazienti.csv"] + (
    "000126;Milano;XXXXXX90A50F205Z;Sara;Neri;11/02/1988;femmina;SMRR;03/03/2011\n"
)
RANDOMISATION = FILES["randomizzazione.csv"] + "000126;CELLULE-PLACEBO;05/03/2013\n"
MRI = (
    "id_paziente;visita;data_rm;campo_tesla;lesioni_gd;lesioni_t2_nuove;lesioni_cua;"
    "volume_t2_ml;volume_cerebrale_ml;lettura_centrale\n"
    "000123;BASALE;05/03/2013;3;5;0;0;12,0;1500,0;sì\n"
    "000123;SETT4;02/04/2013;3;0;0;0;12,0;1500,0;sì\n"
    "000123;SETT12;28/05/2013;3;1;0;0;12,0;1500,0;sì\n"
    "000123;SETT24;20/08/2013;3;2;0;0;12,0;1500,0;sì\n"
    "000123;SETT28;17/09/2013;3;9;0;0;12,0;1500,0;sì\n"
    "000124;SETT4;03/04/2013;3;4;0;0;12,0;1500,0;sì\n"
    "000124;SETT12;29/05/2013;3;2;0;0;12,0;1500,0;sì\n"
    "000125;SETT4;01/04/2013;3;0;0;0;12,0;1500,0;sì\n"
    "000125;SETT12;27/05/2013;3;0;0;0;12,0;1500,0;sì\n"
    "000125;SETT24;19/08/2013;3;1;0;0;12,0;1500,0;sì\n"
    "000125;NON PROGRAMMATA;10/06/2013;3;7;0;0;12,0;1500,0;sì\n"
    "000126;SETT4;02/04/2013;3;2;0;0;12,0;1500,0;sì\n"
    "000126;SETT12;28/05/2013;3;3;0;0;12,0;1500,0;sì\n"
    "000126;SETT24;20/08/2013;3;0;0;0;12,0;1500,0;sì\n"
)

# By hand. MSC: 123 -> 0+1+2 = 3 over 3 scans, 126 -> 2+3+0 = 5 over 3 scans.
# Placebo: 124 -> 4+2 = 6 over 2 scans, 125 -> 0+0+1 = 1 over 3 scans.
MSC = {
    "arm": "MSC",
    "patients": 2,
    "scans": 6,
    "total_gel": 8,
    "mean_gel_per_patient": 4.0,
    "sd_gel_per_patient": math.sqrt(2.0),  # (3-4)² + (5-4)² over n-1 = 1
    "median_gel_per_patient": 4.0,
    "gel_per_scan": 8 / 6,
}
PLACEBO = {
    "arm": "PLACEBO",
    "patients": 2,
    "scans": 5,
    "total_gel": 7,
    "mean_gel_per_patient": 3.5,
    "sd_gel_per_patient": math.sqrt(12.5),  # (6-3.5)² + (1-3.5)² over 1
    "median_gel_per_patient": 3.5,
    "gel_per_scan": 7 / 5,
}
CRUDE_RR = (8 / 6) / (7 / 5)


@pytest.fixture
def wh(tmp_path: Path, site_key: SiteKey) -> Path:
    root = tmp_path / "wh"
    bundle = build_bundle(
        tmp_path / "it", site_key, pazienti=PATIENTS, randomizzazione=RANDOMISATION, rm=MRI
    )
    warehouse.add(bundle, root)
    return root


def _approx(row: dict[str, Any]) -> dict[str, Any]:
    return {k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}


def test_primary_endpoint_equals_the_hand_computation(wh: Path) -> None:
    result = analyses.run_analysis("primary-endpoint", wh).to_pylist()
    assert result == [
        _approx({"scope": "pooled", **MSC, "crude_rate_ratio": CRUDE_RR}),
        _approx({"scope": "pooled", **PLACEBO, "crude_rate_ratio": CRUDE_RR}),
        _approx({"scope": "italy", **MSC, "crude_rate_ratio": None}),
        _approx({"scope": "italy", **PLACEBO, "crude_rate_ratio": None}),
    ]


def test_pooled_scope_adds_up_the_sites(
    tmp_path: Path, wh: Path, site_key: SiteKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.SITES, "denmark", registry.SITES["italy"])
    italian = build_bundle(
        tmp_path / "it2", site_key, pazienti=PATIENTS, randomizzazione=RANDOMISATION, rm=MRI
    )
    warehouse.add(clone_bundle(italian, tmp_path / "dk", site="denmark", submission_id="dk-1"), wh)
    rows = analyses.run_analysis("primary-endpoint", wh).to_pylist()
    assert [(r["scope"], r["arm"]) for r in rows] == [
        ("pooled", "MSC"),
        ("pooled", "PLACEBO"),
        ("denmark", "MSC"),
        ("denmark", "PLACEBO"),
        ("italy", "MSC"),
        ("italy", "PLACEBO"),
    ]
    pooled_msc = rows[0]
    assert (pooled_msc["patients"], pooled_msc["scans"], pooled_msc["total_gel"]) == (4, 12, 16)
    assert pooled_msc["sd_gel_per_patient"] == pytest.approx(math.sqrt(4 / 3))  # 3, 5, 3, 5
    assert pooled_msc["crude_rate_ratio"] == pytest.approx(CRUDE_RR)


def test_empty_warehouse_gives_no_rows(tmp_path: Path) -> None:
    (tmp_path / "wh").mkdir()
    result = analyses.run_analysis("primary-endpoint", tmp_path / "wh")
    assert result.num_rows == 0 and "crude_rate_ratio" in result.column_names


def test_cli_list_and_run(wh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "analyses", "list", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [a["name"] for a in listed] == ["primary-endpoint"]
    assert listed[0]["unblinded"] is True

    args = ["analyses", "run", "primary-endpoint", "--warehouse", str(wh)]
    code, out, _ = cli(capsys, *args, "--format", "json")
    assert code == 0
    assert json.loads(out)[0] == _approx({"scope": "pooled", **MSC, "crude_rate_ratio": CRUDE_RR})
    code, out, _ = cli(capsys, *args)
    assert code == 0 and "Primary efficacy endpoint" in out

    code, out, err = cli(capsys, "analyses", "run", "primary-endpoit", "--warehouse", str(wh))
    assert (code, out) == (2, "") and "primary-endpoint" in err


def test_every_analysis_is_one_readable_select() -> None:
    for analysis in analyses.ANALYSES:
        sql = analysis.sql()
        assert sql.lstrip().startswith("--"), f"{analysis.sql_file} should open with a comment"
        parse_select(sql)
        assert set(analysis.reads) <= {t.name for t in registry.schema()}
