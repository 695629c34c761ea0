"""report.html and the checks in report.json, from an export written by hand with known faults:
each fault is counted by its check, named once as a cause with the value as the site wrote it,
and the bundle's copy (which leaves the site) holds no local patient id."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federate.adapters import registry
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import SiteKey
from tests.bundles import cli
from tests.italy_export import write_italy_export
from tests.quality.faulty import write_faulty_export


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    root = tmp_path_factory.mktemp("faulty")
    key = SiteKey(bytes(range(32)), root / "site.key")
    export = write_faulty_export(root / "export")
    return ingest(registry.adapter("italy"), export, root / "bundle", key)


def _key_file(folder: Path) -> Path:
    key = folder / "site.key"
    key.write_text(bytes(range(32)).hex(), "ascii")
    key.chmod(0o600)  # a key anyone else can read is refused
    return key


def _check(result: IngestResult, table: str, column: str, reason: str) -> dict[str, object]:
    found = [
        c
        for c in result.report["quality"]["checks"]
        if (c["table"], c["column"], c["reason"]) == (table, column, reason)
    ]
    assert len(found) == 1, (table, column, reason)
    return found[0]


def test_each_fault_fails_its_own_check(faulty: IngestResult) -> None:
    date = _check(faulty, "edss", "assessment_date", "invalid-date")
    assert (date["rows_failing"], date["passed"], date["category"]) == (1, False, "conformance")
    conflict = _check(faulty, "subjects", "subject_id", "conflicting-key")
    assert (conflict["rows_failing"], conflict["category"]) == (2, "plausibility")
    visit = _check(faulty, "visits", "visit_code", "unknown-code")
    assert visit["rows_failing"] == 1
    assert _check(faulty, "labs", "unit_reported", "unknown-code")["rows_failing"] == 1


def test_a_declared_check_that_nothing_broke_passes_with_its_counts(faulty: IngestResult) -> None:
    sex = _check(faulty, "subjects", "sex", "not-in-code-list")
    assert sex["rows_failing"] == 0 and sex["passed"] is True
    assert sex["rows_checked"] == 5  # five patient rows read, none skipped with a reason
    assert sex["threshold_pct"] == 0.0


def test_causes_keep_the_values_as_written_in_the_site_copy(faulty: IngestResult) -> None:
    causes = {(c["source_file"], c["reason"]): c for c in faulty.site_report["quality"]["causes"]}
    assert causes[("edss.csv", "invalid-date")]["examples"][0]["value"] == "31/02/2013"
    assert causes[("visite.csv", "unknown-code")]["examples"][0]["value"] == "BASALEE"
    assert causes[("esami.csv", "unknown-code")]["examples"][0]["value"] == "mg%"
    conflict = causes[("pazienti.csv", "conflicting-key")]
    assert conflict["column"] == "id_paziente"  # the site's own column
    assert "sesso" in conflict["rule"]  # which of the site's columns disagree
    assert {e["value"] for e in conflict["examples"]} == {"000124"}  # the patient


def test_no_cause_line_is_a_follow_on(faulty: IngestResult) -> None:
    reasons = {c["reason"] for c in faulty.report["quality"]["causes"]}
    assert "parent-quarantined" not in reasons
    assert faulty.report["quality"]["follow_on_rows"] > 0


def test_a_visit_warning_shows_the_date_as_written(faulty: IngestResult) -> None:
    windows = faulty.warnings.filter(
        faulty.warnings.column("reason").to_numpy(zero_copy_only=False) == "no-baseline-visit"
    )
    assert windows.num_rows
    assert all("/" in v for v in windows.column("value").to_pylist())  # dd/mm/yyyy, not ISO


def test_no_warning_on_a_quarantined_row(faulty: IngestResult) -> None:
    held = set(zip(*faulty.quarantine.select(["source_file", "source_row"]).to_pydict().values(),
                   strict=True))  # fmt: skip
    warned = set(zip(*faulty.warnings.select(["source_file", "source_row"]).to_pydict().values(),
                     strict=True))  # fmt: skip
    assert warned and not (held & warned)


def test_the_bundles_report_holds_no_local_patient_id(faulty: IngestResult) -> None:
    leaving = (faulty.bundle / "report.html").read_text("utf-8")
    own = (faulty.site_copy / "report.html").read_text("utf-8")
    assert "000124" in own and "BASALEE" in own
    for local in ("000123", "000124", "000125", "RCCMNL83S18D969H", "Bianchi"):
        assert local not in leaving
        assert local not in json.dumps(faulty.report)


def test_the_page_is_self_contained(faulty: IngestResult) -> None:
    page = (faulty.bundle / "report.html").read_text("utf-8")
    for fetched in ("<script", "http://", "https://", "<link", "@import", "url("):
        assert fetched not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "default-src 'none'" in page


def test_the_report_is_sealed_in_the_bundle(faulty: IngestResult) -> None:
    assert "report.html" in faulty.manifest["files"]


def test_the_summary_names_the_causes_before_the_file_table(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = write_faulty_export(tmp_path / "export")
    key = _key_file(tmp_path)
    code, _, err = cli(capsys, "ingest", "italy", str(export), "--out", str(tmp_path / "b"),
                       "--key-file", str(key))  # fmt: skip
    assert code == 1
    causes, table = err.index("Causes"), err.index("Bundle ")
    assert causes < table
    for written in ("'31/02/2013'", "'BASALEE'", "'mg%'", "sesso"):
        assert written in err[causes:table]
    assert "report.html" in err


def test_previous_says_what_changed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    key = _key_file(tmp_path)
    first = write_italy_export(tmp_path / "first")
    second = write_faulty_export(tmp_path / "second")
    run = ("--key-file", str(key), "--format", "json")
    assert cli(capsys, "ingest", "italy", str(first), "--out", str(tmp_path / "b1"), *run)[0] == 0
    code, out, _ = cli(capsys, "ingest", "italy", str(second), "--out", str(tmp_path / "b2"),
                       "--previous", str(tmp_path / "b1"), *run)  # fmt: skip
    assert code == 1
    changes = {c["table"]: c for c in json.loads(out)["quality"]["changes"]}
    # The conflicting patient 000124 is quarantined now: their subjects row is gone.
    assert changes["subjects"]["removed"] == 1 and changes["subjects"]["added"] == 0
    # EDSS: 000124's record is gone (its date does not exist, and the patient is held), and
    # 000123's two lost their visit (W0 is quarantined, so they fall to UNS): keyed on the
    # visit, they are two keys removed and two added.
    assert (changes["edss"]["removed"], changes["edss"]["added"]) == (3, 2)
    assert changes["adverse_events"] == {**changes["adverse_events"], "changed": 0}
    page = (tmp_path / "b2" / "report.html").read_text("utf-8")
    assert "keys removed" in page
