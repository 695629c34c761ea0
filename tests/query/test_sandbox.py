"""`federate query`: the shared tables over current submissions, and nothing else."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.errors import UsageError
from federate.privacy.pseudonym import SiteKey
from federate.query import sandbox
from federate.query.roles import Role
from federate.query.sandbox import Limits, connect, role_files, run_query
from federate.warehouse import publish
from federate.warehouse.catalog import BLINDED, SUBMISSIONS, read_catalog
from tests.bundles import build_bundle, cli, clone_bundle, json_error, squeeze, tree_hash


@pytest.fixture
def wh(tmp_path: Path, site_key: SiteKey) -> Path:
    root = tmp_path / "wh"
    publish.add(build_bundle(tmp_path / "it", site_key), root)
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
    publish.add(danish, wh)
    result = run_query("SELECT site, count(*) AS n FROM visits GROUP BY site ORDER BY site", wh)
    assert result.to_pylist() == [{"site": "denmark", "n": 5}, {"site": "italy", "n": 5}]


def test_empty_warehouse_has_typed_empty_tables(tmp_path: Path) -> None:
    empty = tmp_path / "wh"
    empty.mkdir()
    schema = registry.schema()
    for role in Role:
        con = connect(empty, role).con
        for table in schema:
            result = con.sql(f"SELECT * FROM {table.name}").to_arrow_table()
            assert result.num_rows == 0
            want = [(f.name, f.type) for f in schema.arrow_schema(table)]
            if role is Role.BLINDED:  # the blinded role's tables have no restricted column
                want = [(n, t) for n, t in want if n not in table.restricted_columns]
            assert [(f.name, f.type) for f in result.schema] == want


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
    sub = read_catalog(wh).current_submissions()[0]
    manifest = wh / sub.path / "manifest.json"
    manifest.write_text(manifest.read_text("utf-8").replace('"rows": 5', '"rows": 6'), "utf-8")
    for role in Role:
        args = ["--warehouse", str(wh), "--role", role.value]
        code, _, err = cli(capsys, "query", "SELECT count(*) FROM mri", *args)
        assert code == 3 and "(warehouse-tampered)" in err


def test_a_tampered_blinded_copy_is_refused(wh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sub = read_catalog(wh).current_submissions()[0]
    index = wh / sub.blinded_path / "index.json"
    index.write_text(index.read_text("utf-8") + " ", "utf-8")
    code, _, err = cli(capsys, "query", "SELECT count(*) FROM mri", "--warehouse", str(wh))
    assert code == 3 and "(warehouse-tampered)" in err
    code, _, err = cli(capsys, "pool", "verify", "--warehouse", str(wh))
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
        "SELECT * FROM read_parquet('**/*.parquet')",
        "SELECT * FROM parquet_scan(['/etc/passwd'])",
        "SELECT current_setting('memory_limit') FROM duckdb_secrets()",
        "SET memory_limit = '100GB'",
        "SELECT * FROM pragma_database_list()",
        "DETACH memory",
        "CHECKPOINT",
        "VACUUM",
        "CREATE MACRO m(x) AS x",
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


@pytest.mark.parametrize("role", ["blinded", "unblinded"])
def test_every_sandbox_escape_is_refused(
    tmp_path: Path, wh: Path, capsys: pytest.CaptureFixture[str], role: str
) -> None:
    outside = tmp_path / "escaped"
    before = tree_hash(wh)
    for sql in _escapes(wh, outside):
        args = ["--warehouse", str(wh), "--format", "json", "--role", role]
        code, out, err = cli(capsys, "query", sql, *args)
        assert code == 2, f"not refused: {sql!r}\n{out}{err}"
        assert json_error(out)["code"].startswith("sql-"), (sql, out)
        assert squeeze(err).startswith("error(sql-"), (sql, err)
        assert "Traceback" not in err
    assert not outside.exists()
    assert not Path("/tmp/federate-escape").exists()
    assert tree_hash(wh) == before


def test_the_connection_itself_is_locked(wh: Path) -> None:
    """Even past the statement check, DuckDB's own settings refuse files and settings."""
    con = connect(wh).con
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


def _other_files(wh: Path, role: Role) -> list[Path]:
    """Files of the warehouse the role's session must not open: every file, for the blinded
    role those of the signed submissions (restricted columns) too, but its own tables."""
    own = {p.resolve() for paths in role_files(wh, role).values() for p in paths}
    return sorted(p for p in wh.rglob("*") if p.is_file() and p.resolve() not in own)


@pytest.mark.parametrize("role", list(Role))
def test_only_the_roles_files_are_allowed_and_scanned_natively(wh: Path, role: Role) -> None:
    con = connect(wh, role).con
    own = sorted(str(p) for paths in role_files(wh, role).values() for p in paths)
    ((allowed,),) = con.sql("SELECT current_setting('allowed_paths')").fetchall()
    assert sorted(allowed) == own
    area = SUBMISSIONS if role is Role.UNBLINDED else BLINDED
    assert all(Path(p).is_relative_to((wh / area).resolve()) for p in own)
    # DuckDB's own Parquet scan (statistics, filters pushed into it), not a Python dataset.
    plan = "\n".join(
        r[1] for r in con.sql("EXPLAIN SELECT * FROM mri WHERE gel_count > 1").fetchall()
    )
    assert "READ_PARQUET" in plan and "ARROW" not in plan.upper()


@pytest.mark.parametrize("role", list(Role))
def test_the_locked_connection_refuses_every_other_file(
    tmp_path: Path, wh: Path, role: Role
) -> None:
    """Past the statement check too: DuckDB opens no file but the role's own."""
    con = connect(wh, role).con
    others = _other_files(wh, role)
    assert others and any(p.suffix == ".parquet" for p in others)
    if role is Role.BLINDED:  # the unblinded area is among them
        assert any(SUBMISSIONS in p.parts and p.suffix == ".parquet" for p in others)
    outside = tmp_path / "outside.csv"
    outside.write_text("a\n1\n", "utf-8")
    tries = [f"SELECT * FROM read_parquet('{p}')" for p in others if p.suffix == ".parquet"]
    tries += [f"SELECT * FROM read_csv('{p}')" for p in (*others, outside)]
    tries += [f"SELECT * FROM read_blob('{p}')" for p in others]
    tries += [
        f"SELECT * FROM read_parquet('{wh}/**/*.parquet')",
        f"SELECT * FROM read_parquet('{wh.resolve()}/submissions/*/*/tables/*.parquet')",
        f"SELECT * FROM glob('{wh}/**')",
        f"COPY (SELECT 1 AS a) TO '{tmp_path / 'written.csv'}'",
        f"COPY (SELECT 1 AS a) TO '{wh / 'written.parquet'}' (FORMAT parquet)",
    ]
    for sql in tries:
        with pytest.raises(duckdb.PermissionException, match="disabled by configuration"):
            con.sql(sql).fetchall()
    assert not (tmp_path / "written.csv").exists() and not (wh / "written.parquet").exists()


@pytest.mark.parametrize("role", list(Role))
def test_any_file_by_sql_is_refused_even_the_roles_own(
    tmp_path: Path, wh: Path, role: Role, capsys: pytest.CaptureFixture[str]
) -> None:
    """The statement check: a query reads relations, never a file by its name - not one of
    the role's own files either (DuckDB's allowed_paths would let it write those)."""
    own = next(p for paths in role_files(wh, role).values() for p in paths)
    others = _other_files(wh, role)
    before = tree_hash(wh)
    tries = [f"SELECT * FROM read_parquet('{p}')" for p in (own, *others) if p.suffix == ".parquet"]
    tries += [f"SELECT * FROM read_csv('{p}')" for p in (own, *others)]
    tries += [
        f"SELECT * FROM '{own}'",
        f'SELECT * FROM "{own}"',
        f"SELECT * FROM read_blob('{own}')",
        f"SELECT * FROM read_text('{own}')",
        f"SELECT * FROM parquet_metadata('{own}')",
        f"SELECT * FROM parquet_schema('{own}')",
        f"SELECT * FROM system.main.read_parquet('{own}')",
        f"SELECT * FROM query_table('{own}')",
        f"SELECT * FROM query('SELECT * FROM read_parquet(''{own}'')')",
        f"SELECT (SELECT count(*) FROM read_parquet('{own}')) AS n",
        f"SELECT * FROM mri WHERE subject_id IN (SELECT subject_id FROM '{own}')",
        f"DESCRIBE '{own}'",
        f"SUMMARIZE '{own}'",
        f"SELECT * FROM read_parquet('{wh}/**/*.parquet')",
        f"SELECT * FROM glob('{wh}/*')",
        f"COPY (SELECT 1 AS a) TO '{own}' (FORMAT parquet, USE_TMP_FILE false)",
    ]
    for sql in tries:
        args = ["--warehouse", str(wh), "--format", "json", "--role", role.value]
        code, out, err = cli(capsys, "query", sql, *args)
        assert code == 2, f"not refused: {sql!r}\n{out}{err}"
        assert json_error(out)["code"] == "sql-refused", (sql, out)
        assert "(sql-refused)" in squeeze(err), (sql, err)
    assert tree_hash(wh) == before
    # Relations, table functions that open no file, and the session's catalogue still run.
    session = connect(wh, role)
    assert session.run("SELECT count(*) AS n FROM range(3), mri").to_pylist() == [{"n": 15}]
    assert session.run("SELECT count(*) > 0 AS t FROM duckdb_views()").to_pylist() == [{"t": True}]
    assert session.run("DESCRIBE mri").num_rows > 0


def test_views_read_files_of_older_layouts_as_the_schema_types(tmp_path: Path) -> None:
    """A column a file lacks is NULL, one it adds is not shown, a narrower type is cast."""
    old, new = tmp_path / "old.parquet", tmp_path / "new.parquet"
    pq.write_table(pa.table({"a": pa.array([1], pa.int32()), "gone": ["x"]}), old)
    pq.write_table(pa.table({"a": pa.array([2], pa.int64()), "b": ["y"]}), new)
    con = duckdb.connect()
    shape = [("a", "BIGINT"), ("b", "VARCHAR"), ("c", "DATE")]
    layouts = list(sandbox._file_columns(con, [old, new]).values())
    con.execute(sandbox._table_view("t", shape, [old, new], layouts))
    got = con.sql("SELECT * FROM t ORDER BY a").to_arrow_table()
    assert got.schema == pa.schema([("a", pa.int64()), ("b", pa.string()), ("c", pa.date32())])
    assert got.to_pylist() == [{"a": 1, "b": None, "c": None}, {"a": 2, "b": "y", "c": None}]


def test_refusal_happens_before_the_warehouse_is_read(tmp_path: Path) -> None:
    # No warehouse at all: the statement is refused first, for what it is.
    with pytest.raises(Exception, match="only a SELECT"):
        run_query("DROP VIEW mri", tmp_path / "nowhere")


_SLOW = "SELECT sum(a.range * b.range) FROM range(200000) AS a, range(200000) AS b"


def test_a_query_past_the_time_limit_is_interrupted(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    started = time.monotonic()
    with pytest.raises(UsageError, match="time limit") as caught:
        run_query(_SLOW, wh, limits=Limits(seconds=0.3))
    assert caught.value.code == "sql-timeout"
    assert time.monotonic() - started < 10  # interrupted, not waited for
    code, out, err = cli(capsys, "query", _SLOW, "--warehouse", str(wh), "--timeout", "0.3")
    assert (code, out) == (2, "") and "(sql-timeout)" in err and "Traceback" not in err
    assert len(squeeze(err).splitlines()) == 1


def test_a_query_past_the_memory_limit_is_refused(
    wh: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sql = "SELECT list(range) AS l FROM range(60000000)"
    args = ["--warehouse", str(wh), "--memory-limit", "64MB"]
    code, out, err = cli(capsys, "query", sql, *args)
    assert (code, out) == (2, "") and "(sql-memory)" in err and "Traceback" not in err
    # The session itself still works within its limit.
    assert run_query("SELECT 1 AS one", wh, limits=Limits(memory="64MB")).num_rows == 1


def test_role_relations_and_views(wh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT arm, count(*) AS n FROM allocation GROUP BY arm ORDER BY arm"
    assert run_query(sql, wh).to_pylist() == [{"arm": "ALL", "n": 3}]
    unblinded = run_query(sql, wh, role=Role.UNBLINDED).to_pylist()
    assert unblinded == [
        {"arm": "ALL", "n": 3},
        {"arm": "MSC_PLACEBO", "n": 1},
        {"arm": "PLACEBO_MSC", "n": 2},
    ]
    code, out, err = cli(
        capsys, "query", "SELECT sequence FROM randomisation", "--warehouse", str(wh)
    )
    assert (code, out) == (2, "") and "sequence" in err
    intake = run_query("SELECT table_name, rows_read FROM intake WHERE table_name = 'mri'", wh)
    assert intake.to_pylist() == [{"table_name": "mri", "rows_read": 5}]
    labels = run_query("SELECT count(*) AS n FROM code_labels WHERE column_name = 'ms_course'", wh)
    assert labels.to_pylist() == [{"n": 3}]


def test_parquet_needs_out(tmp_path: Path, wh: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sql = "SELECT visit_code, gel_count FROM mri ORDER BY ALL"
    code, out, err = cli(capsys, "query", sql, "--warehouse", str(wh), "--format", "parquet")
    assert (code, out) == (2, "") and "--out" in err
    target = tmp_path / "r.parquet"
    code, out, _ = cli(
        capsys, "query", sql, "--warehouse", str(wh), "--format", "parquet", "--out", str(target)
    )
    assert (code, out) == (0, "")
    assert pq.read_table(target).num_rows == 5
