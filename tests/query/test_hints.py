"""A query that names what does not exist says what does: the nearest relation to a mistyped
table, DuckDB's candidates for a column, and for a column only the unblinded role has, that."""

from __future__ import annotations

from pathlib import Path

import pytest

from federate.privacy.pseudonym import SiteKey
from federate.query.hints import explain
from federate.warehouse import publish
from tests.bundles import build_bundle, cli


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("hints")
    key = SiteKey(bytes(range(32)), root / "site.key")
    publish.add(build_bundle(root / "it", key), root / "wh")
    return root / "wh"


def test_a_mistyped_table_is_told_the_nearest(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "query", "select * from mir", "--warehouse", str(warehouse))
    assert code == 2 and out == ""
    assert "Did you mean mri?" in err


def test_a_column_of_the_unblinded_role_says_so(
    warehouse: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "select sequence from randomisation"
    code, _, err = cli(capsys, "query", sql, "--warehouse", str(warehouse))
    assert code == 2
    assert "--role unblinded" in " ".join(err.split())


def test_a_mistyped_column_keeps_duckdbs_candidates() -> None:
    message = (
        'Binder Error: Referenced column "edsss" not found in FROM clause!\n'
        'Candidate bindings: "edss", "fs_visual"\n\nLINE 1: select edsss from edss\n   ^^^^^'
    )
    text = explain(message, blinded=True)
    assert 'Candidate bindings: "edss"' in text and "LINE 1" not in text


def test_an_unblinded_user_is_not_told_to_unblind() -> None:
    message = 'Binder Error: Referenced column "sequence" not found in FROM clause!'
    assert "unblinded" not in explain(message, blinded=False)
