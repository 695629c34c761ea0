"""The trial report (issue 25, part 4): every analysis's tables and figures, in order, in one
self-contained page that renders in headless Chromium without a console message; the state it
was made from; the same state, the same page but for the time it was made; blinded, no
treatment group named anywhere."""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path

import pytest

from federate import analyses
from federate.analyses.report import write_report
from federate.query.roles import Role
from federate.warehouse import audit
from federate.warehouse.catalog import read_catalog
from tests.bundles import cli
from tests.quality.browser import render
from tests.simulated import Simulated, simulated

__all__ = ["simulated"]

SECTIONS = ["population", "baseline", "primary", "secondary", "safety", "completeness"]
FIGURES = {"primary-endpoint", "disability", "completeness"}
# An arm, a sequence or a product, however written.
UNBLINDING = re.compile(r"\bMSC\b|placebo|\barms?\b|sequence|product|cellul", re.IGNORECASE)
MADE_AT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")


def _report(capsys: pytest.CaptureFixture[str], sim: Simulated, out: Path, role: str) -> str:
    args = ["analyses", "report", "--warehouse", str(sim.warehouse), "--out", str(out)]
    code, stdout, err = cli(capsys, *args, "--role", role)
    assert (code, stdout) == (0, ""), err
    return out.read_text("utf-8")


@pytest.mark.parametrize("role", ["blinded", "unblinded"])
def test_the_report_renders_every_section_and_figure_in_order(
    simulated: Simulated, role: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "report.html"
    text = _report(capsys, simulated, page, role)
    rendered = render(page)
    assert rendered.console == []
    dom = rendered.dom
    at = [dom.index(f'<section id="{s}">') for s in SECTIONS]
    assert at == sorted(at)
    for analysis in analyses.ANALYSES:
        assert f'<h3 id="{analysis.name}">' in dom
    figures = re.findall(r'<figure class="figure" data-analysis="([^"]+)"><svg', dom)
    assert set(figures) == FIGURES and len(figures) == len(FIGURES)
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:|//)""", text)  # no network
    for sid in read_catalog(simulated.warehouse).current.values():
        assert sid in text  # the state it was made from
    assert "not locked" in text


def test_the_blinded_report_names_no_arm_sequence_or_product(
    simulated: Simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    blinded = _report(capsys, simulated, tmp_path / "b.html", "blinded")
    assert not UNBLINDING.search(blinded), UNBLINDING.search(blinded)
    unblinded = _report(capsys, simulated, tmp_path / "u.html", "unblinded")
    assert UNBLINDING.search(unblinded)  # the pattern finds them where they are


def _same_but_made(text: str) -> str:
    made = MADE_AT.search(text)
    assert made is not None
    return text.replace(made[0], "MADE").replace(made[0][:10], "DAY")


def test_the_same_state_gives_the_same_report_but_for_when_it_was_made(
    simulated: Simulated, tmp_path: Path
) -> None:
    wh = tmp_path / "wh"
    shutil.copytree(simulated.warehouse, wh)
    first, second, third = (tmp_path / f"{n}.html" for n in ("first", "second", "third"))
    write_report(wh, first, made=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    analyses.run_analysis("safety", wh, role=Role.UNBLINDED)  # an access entry: no new state
    before = len(audit.read_entries(wh))
    write_report(wh, second, made=dt.datetime(2026, 2, 3, 4, 5, 6, tzinfo=dt.UTC))
    assert len(audit.read_entries(wh)) >= before
    one, two = first.read_text("utf-8"), second.read_text("utf-8")
    assert one != two and "2026-01-02T03:04:05Z" in one and "2026-02-03T04:05:06Z" in two
    assert _same_but_made(one) == _same_but_made(two)

    from federate.warehouse import freeze

    lock = freeze.lock(wh, "final lock before unblinding")
    state = write_report(wh, third, made=dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=dt.UTC))
    three = third.read_text("utf-8")
    assert state.entry_hash == lock.entry_hash == audit.read_entries(wh)[-1]["hash"]
    assert "made from a locked state" in three and "final lock before unblinding" in three
    assert lock.entry_hash in three and lock.entry_hash not in one


def test_the_report_is_html_or_refused(
    simulated: Simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report.docx"
    args = ["analyses", "report", "--warehouse", str(simulated.warehouse), "--out", str(out)]
    code, stdout, err = cli(capsys, *args)
    assert (code, stdout) == (2, "") and ".html" in err and not out.exists()
