"""Files in the export folder that no table and no skip rule claims: never read, never sent,
but never silently left out either. Each is listed in the manifest (its name, size and SHA-256,
skipped whole as ``not-in-spec``) and raises a warning the coordinator sees."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

from federate.adapters import registry
from federate.bundle.manifest import verify
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey
from tests.italy_export import write_italy_export

ITALY = registry.adapter("italy")


def test_a_file_no_table_claims_is_listed_and_warned(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export")
    (export / "ricadute_2014.csv").write_text("id_paziente;data_inizio\n000123;2014\n", "utf-8")
    (export / "old").mkdir()
    (export / "old" / "pazienti.csv").write_bytes(b"\x00\x01binary")
    result = ingest(ITALY, export, tmp_path / "bundle", site_key)
    assert result.exit_code == 0  # nothing quarantined: the file is not data of the trial
    manifest = verify(tmp_path / "bundle", registry.schema())
    unclaimed = {s["path"]: s for s in manifest["sources"] if s.get("skipped_whole")}
    assert set(unclaimed) == {"ricadute_2014.csv", "old/pazienti.csv"}
    entry = unclaimed["ricadute_2014.csv"]
    raw = (export / "ricadute_2014.csv").read_bytes()
    assert entry["sha256"] == hashlib.sha256(raw).hexdigest() and entry["bytes"] == len(raw)
    assert entry["skipped_whole"] == "not-in-spec" and entry["table"] == ""
    assert entry["rows_read"] == 0  # never read: what it holds is not the ingest's to say
    declared = [s for s in manifest["sources"] if not s.get("skipped_whole")]
    assert {s["skipped_whole"] for s in declared} == {None}
    warned = [w for w in result.warnings.to_pylist() if w["reason"] == "not-in-spec"]
    assert sorted(w["source_file"] for w in warned) == ["old/pazienti.csv", "ricadute_2014.csv"]
    hint = next(w for w in warned if w["source_file"] == "ricadute_2014.csv")["rule"]
    assert "not read" in hint and "ricadute.csv" in hint  # the declared file it resembles
    assert not (tmp_path / "bundle" / "ricadute_2014.csv").exists()


def test_the_summary_on_screen_names_the_file(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export")
    (export / "note.txt").write_text("promemoria\n", "utf-8")
    key = tmp_path / "k"
    key.write_text(site_key.secret.hex())
    key.chmod(0o600)
    out = ["--out", str(tmp_path / "b"), "--key-file", str(key)]
    done = subprocess.run(
        [sys.executable, "-m", "federate", "ingest", "italy", str(export), *out],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "note.txt" in done.stderr and "not-in-spec" in done.stderr
    report = json.loads((tmp_path / "b" / "report.json").read_text("utf-8"))
    assert [s["path"] for s in report["sources"] if s["skipped_whole"]] == ["note.txt"]


def test_an_identifier_in_a_file_name_is_masked(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export")
    (export / "referto RCCMNL83S18D969H.txt").write_text("...", "utf-8")
    result = ingest(ITALY, export, tmp_path / "bundle", site_key)
    text = (tmp_path / "bundle" / "manifest.json").read_text("utf-8")
    text += (tmp_path / "bundle" / "report.json").read_text("utf-8")
    assert "RCCMNL83S18D969H" not in text
    [entry] = [s for s in result.manifest["sources"] if s["skipped_whole"]]
    assert entry["path"].startswith("referto R") and entry["path"].endswith("H.txt")


def test_files_the_reader_reads_beside_a_declared_one_are_claimed(
    tmp_path: Path, site_key: SiteKey
) -> None:
    from federate.synth.run import run

    trial = run(tmp_path / "out", counts={"denmark": 4})
    result = ingest(
        registry.adapter("denmark"), trial.export_dir("denmark"), tmp_path / "b", site_key
    )
    assert [s for s in result.manifest["sources"] if s["skipped_whole"]] == []
    assert not [w for w in result.warnings.to_pylist() if w["reason"] == "not-in-spec"]
