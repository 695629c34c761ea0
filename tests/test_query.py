"""`federate query`: the shared tables over current submissions, and nothing else."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from federate import registry, warehouse
from federate.pseudonym import SiteKey
from federate.query import connect, run_query
from tests.test_warehouse import build_bundle, cli, clone_bundle, squeeze, tree_hash


@pytest.fixture
def wh(tmp_path: Path, site_key: SiteKey) -> Path:
    root = tmp_path / "wh"
    warehouse.add(build_bundle(tmp_path / "it", site_key), root)
    return root


def test_json_output_is_only_rows_of_plain_values(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = (
        "SELECT visit_code, scan_date, gel_count, brain_volume_ml, central_read "
        "FROM mri WHERE visit_code IN ('W0', 'W4') ORDER BY scan_date"
    )
    code, out, err = cli(capsys, "query", sql, "--warehouse", str(wh), "--format", "json")
    assert code == 0, err
    assert json.loads(out) == [
        {
            "visit_code": "W0",
            "scan_date": "2013-03-05",
            "gel_count": 2,
            "brain_volume_ml": 1500.0,
            "central_read": True,
        },
        {
            "visit_code": "W0",
            "scan_date": "2013-03-06",
            "gel_count": 0,
            "brain_volume_ml": 1611.0,
            "central_read": True,
        },
        {
            "visit_code": "W4",
            "scan_date": "2013-04-02",
            "gel_count": 0,
            "brain_volume_ml": 1499.5,
            "central_read": True,
        },
        {
            "visit_code": "W4",
            "scan_date": "2013-04-03",
            "gel_count": 4,
            "brain_volume_ml": 1610.5,
            "central_read": True,
        },
    ]


def test_csv_and_table_output(wh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT sex, count(*) AS n FROM subjects GROUP BY sex ORDER BY sex"
    code, out, _ = cli(capsys, "query", sql, "--warehouse", str(wh), "--format", "csv")
    assert code == 0
    assert out.splitlines() == ['"sex","n"', '"F",2', '"M",1']
    code, out, _ = cli(capsys, "query", sql, "--warehouse", str(wh))
    assert code == 0 and "sex" in out and "│ F" in out


def test_every_site_current_submission_is_pooled(
    tmp_path: Path, wh: Path, site_key: SiteKey, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A second registered site, with the same rows under its own name.
    monkeypatch.setitem(registry.SITES, "denmark", registry.SITES["italy"])
    italian = build_bundle(tmp_path / "it2", site_key)
    danish = clone_bundle(italian, tmp_path / "dk", site="denmark", submission_id="denmark-1")
    warehouse.add(danish, wh)
    result = run_query("SELECT site, count(*) AS n FROM visits GROUP BY site ORDER BY site", wh)
    assert result.to_pylist() == [{"site": "denmark", "n": 5}, {"site": "italy", "n": 5}]


def test_empty_warehouse_has_typed_empty_tables(tmp_path: Path) -> None:
    empty = tmp_path / "wh"
    empty.mkdir()
    schema = registry.schema()
    con = connect(empty)
    for table in schema:
        result = con.sql(f"SELECT * FROM {table.name}").to_arrow_table()
        assert result.num_rows == 0
        want = schema.arrow_schema(table)
        assert [(f.name, f.type) for f in result.schema] == [(f.name, f.type) for f in want]


def test_sql_errors_exit_2_with_duckdbs_message(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = {
        "SELECT no_such_column FROM mri": "Binder Error",
        "SELEC 1": "Parser Error",
        "SELECT * FROM no_such_table": "Catalog Error",
    }
    for sql, message in cases.items():
        code, out, err = cli(capsys, "query", sql, "--warehouse", str(wh))
        assert (code, out) == (2, ""), sql
        assert message in err and "Traceback" not in err


def test_missing_warehouse_and_tampered_warehouse(
    tmp_path: Path, wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = cli(capsys, "query", "SELECT 1", "--warehouse", str(tmp_path / "nowhere"))
    assert code == 2 and "(no-warehouse)" in err
    sub = warehouse.read_catalog(wh).current_submissions()[0]
    manifest = wh / sub.path / "manifest.json"
    manifest.write_text(manifest.read_text("utf-8").replace('"rows": 5', '"rows": 6'), "utf-8")
    code, _, err = cli(capsys, "query", "SELECT count(*) FROM mri", "--warehouse", str(wh))
    assert code == 3 and "(warehouse-tampered)" in err


def _escapes(wh: Path, outside: Path) -> list[str]:
    parquet = next((wh / "submissions").rglob("mri.parquet"))
    return [
        f"COPY (SELECT * FROM subjects) TO '{outside}'",
        f"COPY subjects TO '{outside}' (FORMAT parquet)",
        "SELECT * FROM read_csv('/etc/passwd')",
        "SELECT * FROM read_text('/etc/passwd')",
        f"SELECT * FROM read_parquet('{parquet}')",
        f"SELECT * FROM '{parquet}'",
        "SELECT * FROM glob('/etc/*')",
        f"ATTACH '{outside}' AS other",
        "ATTACH ':memory:' AS other",
        "INSTALL httpfs",
        "LOAD httpfs",
        "SET enable_external_access = true",
        "RESET lock_configuration",
        "PRAGMA enable_profiling",
        "CREATE TABLE t AS SELECT * FROM subjects",
        "DROP VIEW mri",
        "INSERT INTO mri SELECT * FROM mri",
        f"EXPORT DATABASE '{outside}'",
        "CALL pragma_version()",
        "EXPLAIN SELECT 1",
        "SELECT 1; SELECT 2",
        f"SELECT 1; COPY (SELECT 1) TO '{outside}'",
        "SELECT * FROM query('COPY (SELECT 1) TO ''/tmp/federate-escape''')",
        "",
    ]


def test_every_sandbox_escape_is_refused(
    tmp_path: Path, wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outside = tmp_path / "escaped"
    before = tree_hash(wh)
    for sql in _escapes(wh, outside):
        code, out, err = cli(capsys, "query", sql, "--warehouse", str(wh), "--format", "json")
        assert (code, out) == (2, ""), f"not refused: {sql!r}\n{out}{err}"
        assert squeeze(err).startswith("error(sql-"), (sql, err)
        assert "Traceback" not in err
    assert not outside.exists()
    assert not Path("/tmp/federate-escape").exists()
    assert tree_hash(wh) == before


def test_the_connection_itself_is_locked(wh: Path) -> None:
    """Even past the statement check, DuckDB's own settings refuse files and settings."""
    con = connect(wh)
    settings = dict(
        con.sql(
            "SELECT name, value FROM duckdb_settings() WHERE name IN ('enable_external_access', "
            "'lock_configuration', 'python_enable_replacements', 'autoload_known_extensions')"
        ).fetchall()
    )
    assert settings == {
        "enable_external_access": "false",
        "lock_configuration": "true",
        "python_enable_replacements": "false",
        "autoload_known_extensions": "false",
    }
    for sql in ("SELECT * FROM read_csv('/etc/passwd')", "SET lock_configuration = false"):
        with pytest.raises(duckdb.Error, match=r"disabled|locked"):
            con.sql(sql).fetchall()


def test_refusal_happens_before_the_warehouse_is_read(tmp_path: Path) -> None:
    # No warehouse at all: the statement is refused first, for what it is.
    with pytest.raises(Exception, match="only a SELECT"):
        run_query("DROP VIEW mri", tmp_path / "nowhere")
