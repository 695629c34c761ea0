"""National identifiers: published examples are caught, in columns and inside free text;
look-alikes that fail their checks are not; the tool's own pseudonyms never trip a detector;
a hit refuses the bundle with exit 3."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from federate.privacy.identifiers import names_an_identifier, scan_values
from federate.privacy.pseudonym import SiteKey, pseudonym
from tests.italy_export import FILES, write_italy_export

PUBLISHED = {
    "dk-cpr": ["211062-5629", "2110625629"],
    "se-personnummer": ["880320-0016", "701063-2391", "19880320-0016"],
    "uk-nhs": ["943 476 5870", "9434765870"],
    "uk-chi": ["0101011237"],
    "it-codice-fiscale": ["RCCMNL83S18D969H"],
    "fr-nir": ["295109912611193", "253072B07300470"],
    "es-dni-nie": ["54362315K", "X2482300W"],
}
# Right shape, wrong check (or impossible date).
LOOK_ALIKES = [
    "943 476 5871",
    "RCCMNL83S18D969A",
    "295109912611194",
    "54362315A",
    "X2482300A",
    "880320-0017",
    "321362-5629",
]


def kinds(values: list[str], free_text: bool = True) -> set[str]:
    return {h.kind for h in scan_values(pa.array(values), free_text=free_text)}


@pytest.mark.parametrize(("kind", "examples"), PUBLISHED.items())
def test_published_examples_are_caught_alone_and_in_free_text(
    kind: str, examples: list[str]
) -> None:
    for example in examples:
        assert kind in kinds([example]), example
        assert kind in kinds([f"Pt. ({example}) lamenta cefalea"]), example


@pytest.mark.parametrize("value", LOOK_ALIKES)
def test_look_alikes_failing_their_checks_are_not_caught(value: str) -> None:
    assert kinds([value]) == set()


def test_cpr_with_a_valid_date_but_failed_checksum_is_still_a_hit() -> None:
    assert "dk-cpr" in kinds(["010190-1235"])  # post-2007 numbers need no mod-11


def test_email_and_phone_only_phone_in_free_text() -> None:
    assert kinds(["scrivere a mario.rossi@ospedale.it"]) == {"email"}
    assert kinds(["tel +39 06 4991 1234"], free_text=True) == {"phone"}
    assert kinds(["tel +39 06 4991 1234"], free_text=False) == set()


def test_own_pseudonyms_and_hashes_never_trip_a_detector() -> None:
    key = SiteKey(bytes(range(32)), Path("k"))
    names = [
        pseudonym(key, c, f"{i:06d}")
        for c in ("it", "dk", "uk", "fr", "se", "es")
        for i in range(17_000)
    ]
    hashes = [hashlib.sha256(n.encode()).hexdigest() for n in names[:20_000]]
    assert len(names) + len(hashes) > 100_000
    assert scan_values(pa.array(names + hashes), free_text=True) == []


def test_no_false_positive_on_the_cdisc_pilot(corpus: Path) -> None:
    """Every text value of every SDTM pilot dataset: none looks like an identifier."""
    import pyreadstat

    for path in sorted((corpus / "sdtm" / "cdiscpilot_update2").glob("*.xpt")):
        frame, _ = pyreadstat.read_xport(str(path), encoding="cp1252", output_format="dict")
        for column, values in frame.items():
            distinct = {v for v in values if isinstance(v, str)}
            if distinct:
                text = pa.array(sorted(distinct), pa.string())
                assert scan_values(text, free_text=True) == [], (path.name, column)


def test_column_names_that_announce_identifiers() -> None:
    for name in ("cpr", "CPR_nr", "personnummer", "nhs_no", "codice_fiscale", "NIR", "dni"):
        assert names_an_identifier(name), name
    for name in ("id_paziente", "centro", "lesioni_cua", "record_id", "concentration"):
        assert not names_an_identifier(name), name


def run_ingest(export: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    key = out.parent / "k"
    key.write_text("cd" * 32)
    key.chmod(0o600)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "federate",
            "ingest",
            "italy",
            str(export),
            "--out",
            str(out),
            "--key-file",
            str(key),
            *extra,
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_an_identifier_in_a_verbatim_term_refuses_the_bundle(tmp_path: Path) -> None:
    export = write_italy_export(tmp_path / "export")
    text = FILES["eventi_avversi.csv"].replace("cefalea", "cefalea (CF RCCMNL83S18D969H)")
    (export / "eventi_avversi.csv").write_text(text, encoding="utf-8")
    done = run_ingest(export, tmp_path / "b")
    assert done.returncode == 3, done.stderr
    assert "adverse_events.verbatim_term: it-codice-fiscale R**************H" in done.stderr
    assert "eventi_avversi.csv row 2" in done.stderr
    assert "RCCMNL83S18D969H" not in done.stderr
    assert not (tmp_path / "b").exists()

    allowed = run_ingest(
        export, tmp_path / "b", "--allow-identifier-in", "adverse_events.verbatim_term"
    )
    assert allowed.returncode == 0, allowed.stderr
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["identifier_scan"]["allowed"] == ["adverse_events.verbatim_term"]
