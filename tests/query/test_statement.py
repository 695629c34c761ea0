"""What a query may be, and a refusal in the words of the SQL the user wrote (issue 23,
finding 7: a PIVOT was refused as "not MULTI", DuckDB's internal name)."""

from __future__ import annotations

from pathlib import Path

import pytest

from federate.errors import UsageError
from federate.privacy.pseudonym import SiteKey
from federate.query.sandbox import run_query
from federate.query.statement import parse_select
from federate.warehouse import publish
from tests.bundles import build_bundle

# DuckDB's internal kind names, which say nothing to the person who wrote the SQL.
_INTERNAL = ("MULTI", "COPY_DATABASE", "CREATE_FUNC", "VARIABLE_SET", "StatementType")


def _refusal(sql: str) -> str:
    with pytest.raises(UsageError) as refused:
        parse_select(sql)
    assert refused.value.code == "sql-refused"
    return str(refused.value)


def test_a_pivot_without_its_values_is_refused_as_a_pivot() -> None:
    for sql in (
        "PIVOT mri ON visit_code USING count(*)",
        "SELECT * FROM (PIVOT mri ON visit_code USING count(*))",
    ):
        message = _refusal(sql)
        assert "PIVOT" in message and "IN (" in message, message
        assert not any(word in message for word in _INTERNAL), message


@pytest.mark.parametrize(
    ("sql", "words"),
    [
        ("COPY mri TO 'x.csv'", "COPY"),
        ("EXPORT DATABASE 'x'", "EXPORT"),
        ("CREATE MACRO m(x) AS x", "CREATE"),
        ("SET VARIABLE x = 1", "SET"),
        ("-- a note\n/* and another */ ATTACH ':memory:' AS other", "ATTACH"),
        ("SET memory_limit = '1GB'", "SET"),
        ("BEGIN TRANSACTION", "BEGIN"),
        ("INSTALL httpfs", "INSTALL"),  # DuckDB files it as LOAD
        ("INSERT INTO mri SELECT * FROM mri", "INSERT"),
    ],
)
def test_every_refused_kind_is_named_as_written_with_what_is_allowed(sql: str, words: str) -> None:
    message = _refusal(sql)
    assert message.startswith(f"{words}"), message
    assert "only a SELECT" in message and "not allowed" in message
    assert not any(word in message for word in _INTERNAL), message


def test_a_pivot_that_lists_its_values_runs(tmp_path: Path, site_key: SiteKey) -> None:
    wh = tmp_path / "wh"
    publish.add(build_bundle(tmp_path / "it", site_key), wh)
    sql = "PIVOT mri ON visit_code IN ('W0', 'W4') USING count(*) GROUP BY site"
    assert run_query(sql, wh).to_pylist() == [{"site": "italy", "W0": 2, "W4": 2}]
