"""Nothing identifying leaves a site (issue 22, items 1 and 3): quarantined values pass the same
gate as accepted ones, the coordinator's unmasked copy stays beside the bundle, and the central
team scans a bundle again rather than trust the site's scan."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from federate.bundle.manifest import MANIFEST, seal, write_json
from federate.ingest.quarantine import QUARANTINE_SCHEMA
from federate.privacy.gate import LOCAL_ID_MASK, mask_identifiers, mask_records
from federate.privacy.pseudonym import SiteKey
from tests.bundles import build_bundle, cli, resign, tree_hash
from tests.italy_export import FILES

CF = "RCCMNL83S18D969H"  # DOMAIN.md's published test value
EMAIL = "anna.bianchi@example.it"


def everything_in(folder: Path) -> str:
    """The text of every file under ``folder``, decoded as a reader would see it: Parquet as
    its rows, an .xlsx as the XML inside its zip, the rest as text."""
    parts = []
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        if path.suffix == ".parquet":
            parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
        elif path.suffix == ".xlsx":
            with zipfile.ZipFile(path) as z:
                parts += [z.read(n).decode("utf-8", "replace") for n in z.namelist()]
        else:
            parts.append(path.read_bytes().decode("utf-8", "replace"))
    return "\n".join(parts)


def _with_identifiers(folder: Path, key: SiteKey) -> Path:
    """An Italian bundle where a codice fiscale was typed into a date column and an e-mail into
    an integer column."""
    pazienti = FILES["pazienti.csv"].replace("01/02/2010", CF)
    rm = FILES["rm.csv"].replace(
        "000124;SETT4;03/04/2013;3;4", f"000124;SETT4;03/04/2013;{EMAIL};4"
    )
    return build_bundle(folder, key, pazienti=pazienti, rm=rm)


def test_quarantined_identifiers_and_local_ids_stay_at_the_site(
    tmp_path: Path, site_key: SiteKey
) -> None:
    bundle = _with_identifiers(tmp_path, site_key)
    quarantine = pq.read_table(bundle / "quarantine.parquet").to_pylist()
    assert quarantine, "the bad values must be quarantined"
    leaving = everything_in(bundle)
    for secret in (CF, EMAIL):
        assert secret not in leaving, secret
    # The coordinator's own copy, beside the bundle, keeps the values as exported.
    site = bundle.with_name(bundle.name + ".site")
    names = {"quarantine.csv", "quarantine.xlsx", "report.json", "report.html"}
    assert {p.name for p in site.iterdir()} == names
    own = everything_in(site)
    for value in (CF, EMAIL):
        assert value in own, value
    # ... and is never part of the bundle: the manifest seals no file of it.
    files = json.loads((bundle / MANIFEST).read_text("utf-8"))["files"]
    assert not any(".site" in name for name in files)


def test_local_patient_ids_are_hidden_in_records_that_leave() -> None:
    """A record about the site's own id column (or the pseudonym's source) never shows the id."""
    base = {
        "site": "italy",
        "submission_id": "s",
        "table": "visits",
        "source_file": "v.csv",
        "part": None,
        "source_row": 2,
        "reason": "r",
        "rule": "r",
        "severity": "error",
    }
    records = [
        {**base, "column": "id_paziente", "shared_column": None, "value": "000999"},
        {**base, "column": "x", "shared_column": "subject_id", "value": "000998"},
        {**base, "column": "data_visita", "shared_column": "visit_date", "value": "31/02/2013"},
    ]
    table = pa.Table.from_pylist(records, schema=QUARANTINE_SCHEMA)
    masked = mask_records(table, {"id_paziente"}).column("value").to_pylist()
    assert masked == [LOCAL_ID_MASK, LOCAL_ID_MASK, "31/02/2013"]


def test_mask_identifiers_keeps_the_rest_of_a_value() -> None:
    values = pa.array([f"nato il {CF}", "12/03/2014", None, f"{EMAIL} / {CF}"])
    masked = mask_identifiers(values).to_pylist()
    assert masked[1:3] == ["12/03/2014", None]
    assert masked[0].startswith("nato il R") and CF not in masked[0]
    assert CF not in masked[3] and EMAIL not in masked[3]


def test_pool_add_scans_a_signed_bundle_again_and_refuses_an_identifier(
    tmp_path: Path, site_key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    """A site whose own scan was skipped or fooled still cannot publish a CPR in free text."""
    wh = tmp_path / "wh"
    good = build_bundle(tmp_path / "good", site_key)
    assert cli(capsys, "pool", "add", str(good), "--warehouse", str(wh))[0] == 0
    before = tree_hash(wh)
    bad = build_bundle(tmp_path / "bad", site_key)
    path = bad / "tables" / "adverse_events.parquet"
    table = pq.read_table(path)
    index = table.schema.get_field_index("verbatim_term")
    terms = [f"cefalea, paziente CPR 211062-5629 {t}" for t in table.column(index).to_pylist()]
    table = table.set_column(index, table.schema.field(index), pa.array(terms, pa.string()))
    pq.write_table(table, path)
    manifest = json.loads((bad / MANIFEST).read_text("utf-8"))
    manifest["files"] = seal(bad)
    write_json(bad / MANIFEST, manifest)
    resign(bad)  # validly signed: the site's key signed what its scan let through
    code, _, err = cli(capsys, "pool", "add", str(bad), "--warehouse", str(wh))
    assert code == 3, err
    assert "dk-cpr" in err and "211062-5629" not in err
    assert tree_hash(wh) == before
