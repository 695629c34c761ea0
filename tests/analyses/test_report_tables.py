"""Results as a trial report shows them (issue 25, part 1): stable snake_case keys for
machines (JSON, Parquet), labels in words for people (tables, CSV headers); 95% CIs, n (%) of
N exposed, and CSV with one header per part and numbers unquoted."""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

import pytest
from scipy.stats import t

from tests.bundles import cli
from tests.simulated import Simulated, simulated

__all__ = ["simulated"]


def _run(
    capsys: pytest.CaptureFixture[str], sim: Simulated, name: str, *args: str
) -> tuple[int, str, str]:
    return cli(capsys, "analyses", "run", name, "--warehouse", str(sim.warehouse), *args)


def _parts(capsys: pytest.CaptureFixture[str], sim: Simulated, name: str, role: str) -> Any:
    code, out, err = _run(capsys, sim, name, "--role", role, "--format", "json")
    assert code == 0, err
    return {p["part"]: p["rows"] for p in json.loads(out)["parts"]}


@pytest.mark.parametrize("role", ["blinded", "unblinded"])
def test_each_cumulative_gel_point_has_patients_and_its_95_ci(
    simulated: Simulated, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    points = _parts(capsys, simulated, "primary-endpoint", role)["cumulative"]
    shown = [p for p in points if not p["suppressed"]]
    assert shown and {p["week"] for p in shown} == {4, 12, 24}
    for p in shown:
        assert {"visit_code", "week", "patients", "mean", "ci_low", "ci_high"} <= set(p)
        assert p["ci_low"] <= p["mean"] <= p["ci_high"]
        # The t interval by its definition: mean ± t(0.975, n-1) * sd / sqrt(n).
        half = t.ppf(0.975, p["patients"] - 1) * p["sd"] / math.sqrt(p["patients"])
        assert (p["ci_low"], p["ci_high"]) == pytest.approx((p["mean"] - half, p["mean"] + half))
    for p in points:
        if p["suppressed"]:
            assert (p["patients"], p["mean"], p["ci_low"], p["ci_high"]) == (None,) * 4


@pytest.mark.parametrize("role", ["blinded", "unblinded"])
def test_every_safety_row_has_n_pct_and_n_exposed(
    simulated: Simulated, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    parts = _parts(capsys, simulated, "safety", role)
    exposed = {
        (r["scope"], r.get("arm", "ALL")): r["patients"]
        for r in parts["exposure"]
        if not r["suppressed"]
    }
    for name, rows in parts.items():
        for r in rows:
            assert {"patients", "pct", "n_exposed"} <= set(r), (name, r)
            if r["suppressed"]:
                assert (r["patients"], r["pct"], r["n_exposed"]) == (None, None, None)
                continue
            arm = r.get("arm", "ALL") if name == "events" else "ALL"
            assert r["n_exposed"] == exposed.get((r["scope"], arm)), (name, r)
            if r["n_exposed"]:
                assert r["pct"] == pytest.approx(100 * r["patients"] / r["n_exposed"])
    any_ae = [r for r in parts["events"] if r["category"] == "any adverse event"]
    assert any(r["pct"] is not None and 0 < r["pct"] <= 100 for r in any_ae)


def test_model_rows_keep_their_keys_and_tables_say_them_in_words(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    model = _parts(capsys, simulated, "primary-endpoint", "unblinded")["model"]
    assert {"scope", "rate_ratio", "ci_low", "ci_high", "p_value"} <= set(model[0])
    code, out, err = _run(capsys, simulated, "primary-endpoint", "--role", "unblinded")
    assert code == 0, err
    assert "rate ratio (95% CI)" in out and "NB2 dispersion" in out and "alpha" not in out
    assert "mean (95% CI)" in out and "week 12" in out and "W12" not in out
    code, out, err = _run(capsys, simulated, "disability", "--role", "unblinded")
    assert code == 0, err
    assert "MSC, then placebo" in out and "MSC_PLACEBO" not in out
    code, out, err = _run(capsys, simulated, "safety", "--role", "unblinded")
    assert code == 0, err
    assert "n (%)" in out and "N exposed" in out


@pytest.mark.parametrize("role", ["blinded", "unblinded"])
def test_csv_is_a_table_per_part_with_numbers_unquoted(
    simulated: Simulated, role: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, simulated, "primary-endpoint", "--role", role, "--format", "csv")
    assert code == 0, err
    blocks = out.rstrip("\n").split("\n\n")
    names = list(_parts(capsys, simulated, "primary-endpoint", role))
    assert len(blocks) == len(names)
    for block, name in zip(blocks, names, strict=True):
        rows = list(csv.reader(io.StringIO(block)))
        header, body = rows[0], rows[1:]
        assert header[0] == "part" and "site" in header and "scope" not in header
        assert all(len(r) == len(header) and r[0] == name for r in body)
    for line in out.splitlines():  # a number is never in quotes
        assert not any(
            c.strip('"').replace(".", "").isdigit() for c in line.split(",") if c.startswith('"')
        )
    assert "95% CI, lower" in out


def test_the_safety_title_gives_the_n_exposed_per_arm(
    simulated: Simulated, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(capsys, simulated, "safety", "--role", "unblinded", "--format", "json")
    assert code == 0, err
    parts = {p["part"]: p for p in json.loads(out)["parts"]}
    pooled = {
        r["arm"]: r["patients"]
        for r in parts["exposure"]["rows"]
        if r["scope"] == "pooled" and not r["suppressed"]
    }
    title = parts["events"]["title"]
    assert f"MSC {pooled['MSC']}" in title and f"placebo {pooled['PLACEBO']}" in title
    assert f"N pooled: {pooled['ALL']})" in parts["pretreatment"]["title"]
