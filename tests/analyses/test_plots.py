"""Figures a journal would accept (issue 25, part 3): cumulative GEL by arm with 95% CIs and
the N at each visit on a true time axis from 0; a forest plot on a log scale with the pooled
diamond; EDSS and MSFC, raw and change, arms in words and offset so bars never overlap;
completeness per site × visit × assessment with the expected N; the blinded role pooled over
arms; each with a footer naming its source."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from federate import analyses
from federate.analyses.plots import figure
from federate.query.roles import Role
from federate.warehouse import audit
from tests.bundles import cli
from tests.simulated import Simulated, simulated

__all__ = ["simulated"]


def _svg(
    capsys: pytest.CaptureFixture[str], sim: Simulated, name: str, role: str, out: Path
) -> str:
    args = ["analyses", "run", name, "--warehouse", str(sim.warehouse), "--role", role]
    code, _, err = cli(capsys, *args, "--plot", str(out), "--format", "json")
    assert code == 0, err
    return out.read_text("utf-8")


def _texts(svg: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", t).strip() for t in re.findall(r"<text[^>]*>(.*?)</text>", svg, re.S)
    ]


def test_cumulative_gel_has_cis_n_per_visit_and_a_time_axis_from_zero(simulated: Simulated) -> None:
    result = analyses.run_analysis("primary-endpoint", simulated.warehouse, role=Role.UNBLINDED)
    fig = figure(result)
    gel, forest = fig.axes
    assert gel.get_xlim()[0] == 0 and gel.get_ylim()[0] == 0
    ticks = list(gel.get_xticks())
    assert ticks == [0, 4, 12, 24]  # weeks, spaced as weeks
    texts = [t.get_text() for t in gel.texts]
    pooled = [r for r in result.part("cumulative").to_pylist() if r["scope"] == "pooled"]
    for r in pooled:  # the N of every released point is written under the axis
        assert str(r["patients"]) in texts
    assert forest.get_xscale() == "log"
    assert any(p.__class__.__name__ == "Polygon" for p in forest.patches)  # the pooled diamond
    shown = [r["scope"] for r in result.part("model").to_pylist() if r["rate_ratio"] is not None]
    assert [t.get_text() for t in forest.get_yticklabels()] == [*shown[1:], "pooled"]


def test_disability_draws_four_panels_with_arms_in_words_never_overlapping(
    simulated: Simulated,
) -> None:
    result = analyses.run_analysis("disability", simulated.warehouse, role=Role.UNBLINDED)
    fig = figure(result)
    assert len(fig.axes) == 4
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels == ["MSC, then placebo", "placebo, then MSC", "all patients"]
    for ax in fig.axes:
        xs = [x for bars in ax.containers for x in bars.lines[0].get_xdata()]
        assert len(xs) == len(set(xs)), ax.get_ylabel()  # no two arms at one x
    ylabels = {ax.get_ylabel() for ax in fig.axes}
    assert {"EDSS", "MSFC z-score", "change in EDSS from baseline"} <= ylabels


def test_completeness_is_per_assessment_with_the_expected_n(simulated: Simulated) -> None:
    result = analyses.run_analysis("completeness", simulated.warehouse)
    fig = figure(result)
    grids = [ax for ax in fig.axes if ax.get_title(loc="left")]
    kinds = {r["assessment"] for r in result.part("visits").to_pylist()}
    assert len(grids) == len(kinds)
    texts = {t.get_text() for ax in grids for t in ax.texts}
    for r in result.part("visits").to_pylist():
        if r["scope"] != "pooled" and not r["suppressed"]:
            assert f"{r['present']}/{r['expected']}" in texts


@pytest.mark.parametrize("name", ["primary-endpoint", "disability", "completeness"])
def test_blinded_figures_name_no_arm_and_every_figure_says_its_source(
    simulated: Simulated, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blinded = " ".join(_texts(_svg(capsys, simulated, name, "blinded", tmp_path / "b.svg")))
    assert not re.search(r"\bMSC\b|placebo|\barms?\b|sequence|product", blinded, re.I), blinded
    head = audit.read_entries(simulated.warehouse)
    last = [e for e in head if e["action"] in ("add", "rollback", "lock") and e["outcome"] == "ok"][
        -1
    ]
    for role, text in (
        ("blinded", blinded),
        (
            "unblinded",
            " ".join(_texts(_svg(capsys, simulated, name, "unblinded", tmp_path / "u.svg"))),
        ),
    ):
        assert f"analysis {name}" in text and f"role {role}" in text
        assert f"warehouse state {last['hash'][:16]}" in text
