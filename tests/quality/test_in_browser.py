"""The data-quality reports, rendered by a real headless Chromium: no console message (nothing
fetched, no script), and the DOM holds the check tables, the causes and the figures."""

from __future__ import annotations

from pathlib import Path

import pytest
from lxml import html

from federate.adapters import registry
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey
from tests.bundles import cli
from tests.quality.browser import render
from tests.quality.faulty import write_faulty_export
from tests.simulated import Simulated, build


@pytest.fixture(scope="module")
def simulated(tmp_path_factory: pytest.TempPathFactory) -> Simulated:
    return build(tmp_path_factory.mktemp("simulated"), patients=48)


def test_a_bundles_report_renders_with_its_categories_and_causes(tmp_path: Path) -> None:
    key = SiteKey(bytes(range(32)), tmp_path / "site.key")
    export = write_faulty_export(tmp_path / "export")
    result = ingest(registry.adapter("italy"), export, tmp_path / "bundle", key)
    page = render(result.site_copy / "report.html")
    assert page.console == []
    dom = html.fromstring(page.dom)
    headings = [h.text_content() for h in dom.iter("h3")]
    assert headings == ["Conformance", "Completeness", "Plausibility"]
    causes = dom.get_element_by_id("causes").text_content()
    for written in ("31/02/2013", "BASALEE", "mg%", "sesso"):
        assert written in causes
    failed = dom.xpath("//section[@id='checks']//span[@class='fail']")
    assert len(failed) >= 4  # the date, the visit code, the unit, the key conflict
    assert dom.xpath("//section[@id='distributions']//*[local-name()='svg']")


def test_a_clean_bundles_report_renders(simulated: Simulated) -> None:
    bundle = simulated.warehouse.parent / "bundles" / "spain"
    page = render(bundle / "report.html")
    assert page.console == []
    dom = html.fromstring(page.dom)
    figures = dom.xpath("//section[@id='distributions']//*[local-name()='svg']")
    assert len(figures) >= 10  # EDSS, GEL, MSFC parts and every analyte
    visits = dom.xpath("//section[@id='completeness']//table//th/text()")
    assert {"W0", "W24", "W48"} <= set(visits)


def test_the_pool_report_renders_every_site(
    simulated: Simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pool.html"
    code, _, err = cli(capsys, "pool", "report", "--warehouse", str(simulated.warehouse),
                       "--out", str(out))  # fmt: skip
    assert code == 0, err
    page = render(out)
    assert page.console == []
    dom = html.fromstring(page.dom)
    for section in ("rows", "checks", "completeness", "distributions", "history"):
        assert dom.get_element_by_id(section) is not None
    boxes = dom.xpath("//section[@id='distributions']//*[local-name()='svg']")
    assert boxes
    text = dom.get_element_by_id("rows").text_content()
    for site in simulated.sites:
        assert site in text
    history = dom.get_element_by_id("history").text_content()
    assert history.count("add") >= len(simulated.sites)


def test_the_pool_report_shows_no_allocation(
    simulated: Simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "pool.html"
    assert cli(capsys, "pool", "report", "--warehouse", str(simulated.warehouse),
               "--out", str(out))[0] == 0  # fmt: skip
    page = out.read_text("utf-8")
    for allocation in ("MSC_PLACEBO", "PLACEBO_MSC", "sequence", "product", "dose_million"):
        assert allocation not in page


def test_the_pool_report_is_refused_for_another_suffix(
    simulated: Simulated, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "pool", "report", "--warehouse", str(simulated.warehouse),
                       "--out", str(tmp_path / "pool.pdf"))  # fmt: skip
    assert code == 2 and ".html" in err
    assert not (tmp_path / "pool.pdf").exists()
