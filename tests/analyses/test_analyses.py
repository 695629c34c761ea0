"""Named analyses: the primary endpoint on a hand-made warehouse equals a hand computation, the
rate ratio equals an independent NB2 fit on the simulator's truth, and every analysis runs
pooled and per site, in every format and both roles."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from statsmodels.discrete.discrete_model import NegativeBinomial

from federate import analyses
from federate.adapters import registry
from federate.privacy.pseudonym import SiteKey
from federate.query.roles import Role
from federate.query.sandbox import parse_select
from federate.warehouse import publish
from tests.bundles import build_bundle, cli, clone_bundle
from tests.italy_export import FILES
from tests.simulated import Simulated, simulated

__all__ = ["simulated"]

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
ALL = {  # pooled over arms: 3, 5, 6, 1
    "arm": "ALL",
    "patients": 4,
    "scans": 11,
    "total_gel": 15,
    "mean_gel_per_patient": 3.75,
    "sd_gel_per_patient": math.sqrt(14.75 / 3),
    "median_gel_per_patient": 4.0,
    "gel_per_scan": 15 / 11,
}
SHOWN = {"suppressed": False}


@pytest.fixture
def wh(tmp_path: Path, site_key: SiteKey) -> Path:
    root = tmp_path / "wh"
    bundle = build_bundle(
        tmp_path / "it", site_key, pazienti=PATIENTS, randomizzazione=RANDOMISATION, rm=MRI
    )
    publish.add(bundle, root)
    return root


def _approx(row: dict[str, Any]) -> dict[str, Any]:
    return {k: pytest.approx(v) if isinstance(v, float) else v for k, v in row.items()}


def _period1(wh: Path, role: Role, k: int = 1) -> list[dict[str, Any]]:
    return (
        analyses.run_analysis("primary-endpoint", wh, role=role, min_cell=k)
        .part("period1")
        .to_pylist()
    )


def test_primary_endpoint_equals_the_hand_computation(wh: Path) -> None:
    assert _period1(wh, Role.UNBLINDED) == [
        _approx({"scope": scope, **arm, **SHOWN})
        for scope in ("pooled", "italy")
        for arm in (ALL, MSC, PLACEBO)
    ]


def test_blinded_primary_endpoint_is_pooled_over_arms(wh: Path) -> None:
    pooled = {k: v for k, v in ALL.items() if k != "arm"}
    assert _period1(wh, Role.BLINDED) == [
        _approx({"scope": scope, **pooled, **SHOWN}) for scope in ("pooled", "italy")
    ]


def test_four_patients_are_below_the_default_min_cell(wh: Path) -> None:
    rows = _period1(wh, Role.UNBLINDED, k=5)
    assert rows and all(r["suppressed"] and r["patients"] is None for r in rows)
    assert all(r["mean_gel_per_patient"] is None for r in rows)


def test_pooled_scope_adds_up_the_sites(
    tmp_path: Path, wh: Path, site_key: SiteKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.SITES, "denmark", registry.SITES["italy"])
    italian = build_bundle(
        tmp_path / "it2", site_key, pazienti=PATIENTS, randomizzazione=RANDOMISATION, rm=MRI
    )
    publish.add(clone_bundle(italian, tmp_path / "dk", site="denmark", submission_id="dk-1"), wh)
    rows = _period1(wh, Role.UNBLINDED)
    assert [(r["scope"], r["arm"]) for r in rows] == [
        (scope, arm)
        for scope in ("pooled", "denmark", "italy")
        for arm in ("ALL", "MSC", "PLACEBO")
    ]
    pooled_msc = rows[1]
    assert (pooled_msc["patients"], pooled_msc["scans"], pooled_msc["total_gel"]) == (4, 12, 16)
    assert pooled_msc["sd_gel_per_patient"] == pytest.approx(math.sqrt(4 / 3))  # 3, 5, 3, 5


def test_empty_warehouse_gives_no_rows(tmp_path: Path) -> None:
    (tmp_path / "wh").mkdir()
    result = analyses.run_analysis("primary-endpoint", tmp_path / "wh", role=Role.UNBLINDED)
    assert result.part("period1").num_rows == 0
    assert all(r["rate_ratio"] is None for r in result.part("model").to_pylist())


# --- on a simulated warehouse of every registered site ----------------------------------


def _truth_patients(sim: Simulated) -> dict[str, np.ndarray]:
    """Per patient, from the simulator's truth (not the warehouse): the model's data."""
    truth = {t: str(p) for t, p in sim.trial.truth.items()}
    sites = ", ".join(f"'{s}'" for s in sim.sites)
    rows = duckdb.sql(
        f"""
        WITH p1 AS (
            SELECT site, subject_id, count(*) AS scans, sum(gel_count) AS gel
            FROM read_parquet('{truth["mri"]}') WHERE visit_code IN ('W4', 'W12', 'W24')
            GROUP BY ALL
        ), base AS (
            SELECT site, subject_id, coalesce(
                arg_min(gel_count, scan_date) FILTER (WHERE visit_code = 'W0'),
                arg_min(gel_count, scan_date) FILTER (WHERE visit_code = 'SCR')) AS baseline
            FROM read_parquet('{truth["mri"]}') GROUP BY ALL
        )
        SELECT p1.site, p1.gel, p1.scans, base.baseline, r.sequence = 'MSC_PLACEBO' AS msc
        FROM p1 JOIN read_parquet('{truth["randomisation"]}') AS r USING (site, subject_id)
        JOIN base USING (site, subject_id)
        WHERE p1.site IN ({sites}) AND base.baseline IS NOT NULL
        """
    ).fetchnumpy()
    return {k: np.asarray(v) for k, v in rows.items()}


def test_rate_ratio_matches_an_independent_nb2_fit_on_the_truth(simulated: Simulated) -> None:
    data = _truth_patients(simulated)
    sites = sorted(set(data["site"]))
    x = np.column_stack(
        [
            np.ones(len(data["gel"])),
            data["msc"].astype(float),
            data["baseline"].astype(float),
            *[(data["site"] == s).astype(float) for s in sites[1:]],
        ]
    )
    fit = NegativeBinomial(
        data["gel"].astype(float),
        x,
        loglike_method="nb2",
        offset=np.log(data["scans"].astype(float)),
    ).fit(disp=0, maxiter=500)
    want = float(np.exp(fit.params[1]))
    low, high = np.exp(fit.conf_int()[1])
    result = analyses.run_analysis("primary-endpoint", simulated.warehouse, role=Role.UNBLINDED)
    pooled = result.part("model").to_pylist()[0]
    assert pooled["scope"] == "pooled" and not pooled["suppressed"]
    assert pooled["rate_ratio"] == pytest.approx(want, rel=1e-4)
    assert (pooled["ci_low"], pooled["ci_high"]) == (
        pytest.approx(low, rel=1e-3),
        pytest.approx(high, rel=1e-3),
    )
    assert pooled["alpha"] > 0


@pytest.mark.parametrize("role", ["blinded", "unblinded"])
@pytest.mark.parametrize("name", [a.name for a in analyses.ANALYSES])
def test_every_analysis_runs_pooled_and_per_site_in_every_format(
    simulated: Simulated, name: str, role: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["analyses", "run", name, "--warehouse", str(simulated.warehouse), "--role", role]
    code, out, err = cli(capsys, *args, "--format", "json")
    assert code == 0, err
    document = json.loads(out)
    assert (document["analysis"], document["role"], document["min_cell"]) == (name, role, 5)
    first = document["parts"][0]["rows"]
    assert {r["scope"] for r in first} == {"pooled", *simulated.sites}
    code, out, err = cli(capsys, *args, "--format", "csv")
    assert code == 0 and out.startswith("part,site,"), err
    code, out, err = cli(capsys, *args)
    assert code == 0 and document["parts"][0]["title"] in out, err
    target = tmp_path / "result.parquet"
    code, out, err = cli(capsys, *args, "--format", "parquet", "--out", str(target))
    assert (code, out) == (0, ""), err
    table = pq.read_table(target)
    assert table.schema.metadata[b"federate.role"] == role.encode()
    assert set(table.column("part").to_pylist()) == {p["part"] for p in document["parts"]}
    code, out, err = cli(capsys, *args, "--format", "parquet")
    assert (code, out) == (2, "") and "--out" in err


@pytest.mark.parametrize("role", ["blinded", "unblinded"])
@pytest.mark.parametrize("name", [a.name for a in analyses.ANALYSES if a.plot])
def test_plots_are_pngs(
    simulated: Simulated, name: str, role: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    png = tmp_path / f"{name}.png"
    args = ["analyses", "run", name, "--warehouse", str(simulated.warehouse), "--role", role]
    code, _, err = cli(capsys, *args, "--plot", str(png), "--format", "json")
    assert code == 0, err
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


def test_plot_only_where_there_is_a_figure(
    simulated: Simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["analyses", "run", "safety", "--warehouse", str(simulated.warehouse)]
    code, out, err = cli(capsys, *args, "--plot", str(tmp_path / "x.png"))
    assert (code, out) == (2, "") and "primary-endpoint" in err


def test_cli_list_and_unknown_name(wh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = cli(capsys, "analyses", "list", "--format", "json")
    assert code == 0
    listed = json.loads(out)
    assert [a["name"] for a in listed] == [
        "primary-endpoint",
        "safety",
        "baseline",
        "disability",
        "relapses",
        "completeness",
    ]
    code, out, err = cli(capsys, "analyses", "run", "primary-endpoit", "--warehouse", str(wh))
    assert (code, out) == (2, "") and "primary-endpoint" in err


def test_every_analysis_is_readable_selects() -> None:
    for analysis in analyses.ANALYSES:
        files = [p.sql_file for p in analysis.parts] + (
            [analysis.listing] if analysis.listing else []
        )
        for file in files:
            sql = analyses.sql(file)
            assert sql.lstrip().startswith("--"), f"{file} should open with a comment"
            parse_select(sql)
        assert set(analysis.reads) <= {t.name for t in registry.schema()}
