"""The quarantine as the coordinator opens it: a CSV in the dialect of the site's own Excel
(Italy: ";" and a byte-order mark), and a workbook with a summary of the causes first, then one
sheet per file of the site's export, named after it."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest

from federate.adapters import registry
from federate.ingest.run import IngestResult, ingest
from federate.privacy.pseudonym import SiteKey
from tests.quality.faulty import write_faulty_export


@pytest.fixture(scope="module")
def faulty(tmp_path_factory: pytest.TempPathFactory) -> IngestResult:
    root = tmp_path_factory.mktemp("faulty")
    key = SiteKey(bytes(range(32)), root / "site.key")
    return ingest(registry.adapter("italy"), write_faulty_export(root / "x"), root / "b", key)


def test_the_csv_opens_in_an_italian_excel(faulty: IngestResult) -> None:
    raw = (faulty.site_copy / "quarantine.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8, said so
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig")), delimiter=";"))
    assert len(rows) == faulty.quarantine.num_rows
    assert {"value": "BASALEE", "column": "visita"}.items() <= next(
        r for r in rows if r["value"] == "BASALEE"
    ).items()


def test_the_uk_csv_keeps_the_comma() -> None:
    assert registry.adapter("uk").spreadsheet.delimiter == ","


def test_the_workbook_sums_up_the_causes_then_names_the_sites_files(
    faulty: IngestResult,
) -> None:
    book = openpyxl.load_workbook(faulty.site_copy / "quarantine.xlsx", read_only=True)
    assert book.sheetnames[0] == "Summary"
    assert {"visite.csv", "edss.csv", "esami.csv", "pazienti.csv"} <= set(book.sheetnames)
    assert book.sheetnames[-1] == "warnings"
    summary = [r for r in book["Summary"].iter_rows(values_only=True) if any(r)]
    causes = {(r[1], r[4]): r for r in summary[3:]}
    assert causes[("visite.csv", "unknown-code")][-1] == "record 3: 'BASALEE'"
    assert causes[("edss.csv", "invalid-date")][6] == 1
    visits = [r for r in book["visite.csv"].iter_rows(values_only=True)]
    assert visits[0] == ("source_row", "column", "value", "reason", "rule")
    assert any(r[2] == "BASALEE" for r in visits[1:])
