"""`federate ingest`'s summary names what the coordinator must find in the export: the file
and the site's own column (issue 23, finding 7: an unknown column was "relapses.None")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from federate.privacy.pseudonym import SiteKey
from tests.bundles import cli
from tests.italy_export import FILES, write_italy_export


def test_an_unknown_column_is_named_as_the_export_names_it(
    tmp_path: Path, site_key: SiteKey, capsys: pytest.CaptureFixture[str]
) -> None:
    relapses = (
        FILES["ricadute.csv"]
        .replace("steroidi\n", "steroidi;Note libere;codice_extra\n")
        .replace("sì\n", "sì;x;1\n")
        .replace("no\n", "no;;2\n")
    )
    export = write_italy_export(tmp_path / "export", ricadute=relapses)
    site_key.path.write_bytes(bytes(range(32)).hex().encode())
    site_key.path.chmod(0o600)
    args = ["ingest", "italy", str(export), "--out", str(tmp_path / "b")]
    code, _, err = cli(capsys, *args, "--key-file", str(site_key.path))
    assert code == 0, err
    causes = [line for line in err.splitlines() if line.startswith("  warning: ricadute.csv")]
    assert [c.split(":")[1] for c in causes] == [
        " ricadute.csv, column 'Note libere'",
        " ricadute.csv, column 'codice_extra'",
    ], err
    lines = [line for line in err.splitlines() if line.startswith("  relapses (")]
    assert lines == [
        "  relapses (ricadute.csv, column 'Note libere'): unknown-column × 1",
        "  relapses (ricadute.csv, column 'codice_extra'): unknown-column × 1",
    ], err
    assert "None" not in err
    report = json.loads((tmp_path / "b" / "report.json").read_text("utf-8"))
    named = [
        (w["source_file"], w["column"])
        for w in report["warnings"]["examples"]
        if w["reason"] == "unknown-column"
    ]
    assert named == [("ricadute.csv", "Note libere"), ("ricadute.csv", "codice_extra")]
