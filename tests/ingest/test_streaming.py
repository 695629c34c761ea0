"""The streaming pass: rows keep the file's order across batches, only rows that break a rule
take the careful (pandera) path, and whole-submission rules see across batches."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.ingest import streaming
from federate.ingest.mapping import TableMapper
from federate.ingest.run import ingest
from federate.ingest.writer import BackgroundWriter
from federate.privacy.pseudonym import SiteKey, load_key
from federate.synth import SynthResult, run

ITALY = registry.adapter("italy")


@pytest.fixture(scope="module")
def clean(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return run(tmp_path_factory.mktemp("clean") / "out", patients=40)


@pytest.fixture(scope="module")
def broken(tmp_path_factory: pytest.TempPathFactory) -> SynthResult:
    return run(tmp_path_factory.mktemp("broken") / "out", patients=40, inject_errors=True)


def _ingest(result: SynthResult, out: Path):  # type: ignore[no-untyped-def]
    key = load_key("italy", result.keys["italy"])
    return ingest(ITALY, result.export_dir("italy"), out, key, operator="test")


def test_many_small_batches_give_the_truth_in_file_order(
    clean: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streaming, "BATCH_ROWS", 7)
    ingested = _ingest(clean, tmp_path / "bundle")
    assert ingested.quarantine.num_rows == 0
    for tm in ITALY.tables:
        got = pq.read_table(tmp_path / "bundle" / "tables" / f"{tm.table}.parquet")
        want = pq.read_table(clean.truth[tm.table]).filter(pc.equal(pc.field("site"), "italy"))
        assert got.drop(["submission_id"]).equals(want.drop(["submission_id"])), tm.table


def test_only_rows_that_break_a_rule_reach_pandera(
    broken: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[tuple[str, int]] = []
    careful = TableMapper.map

    def counting(self: TableMapper, batch: pa.RecordBatch, *args: object) -> pa.Table:
        seen.extend((self.relpath, r) for r in batch.column("__source_row").to_pylist())
        return careful(self, batch, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(TableMapper, "map", counting)
    ingested = _ingest(broken, tmp_path / "bundle")
    rows = sum(s["rows_read"] for s in ingested.manifest["sources"])
    assert 0 < len(seen) < rows / 10
    # Every row sent there gets a record from it: the SQL flags no row that pandera passes.
    recorded = {
        (r["source_file"], r["source_row"])
        for r in [*ingested.quarantine.to_pylist(), *ingested.warnings.to_pylist()]
    }
    assert set(seen) <= recorded


def test_a_repeat_far_apart_is_found_across_batches(
    clean: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    export = tmp_path / "export"
    export.mkdir()
    for path in clean.export_dir("italy").iterdir():
        data = path.read_bytes()
        if path.name == "esami.csv":
            lines = data.splitlines(keepends=True)
            data += lines[1]  # the first record again, at the very end
        (export / path.name).write_bytes(data)
    monkeypatch.setattr(streaming, "BATCH_ROWS", 5)
    key = load_key("italy", clean.keys["italy"])
    result = ingest(ITALY, export, tmp_path / "b", key, operator="test")
    labs = next(s for s in result.manifest["sources"] if s["path"] == "esami.csv")
    assert labs["skipped_reasons"] == {"exact-duplicate": 1}
    assert labs["rows_read"] == labs["rows_mapped"] + 1
    written = pq.read_table(tmp_path / "b" / "tables" / "labs.parquet")
    assert written.num_rows == labs["rows_mapped"]
    rows = written.column("source_row").to_pylist()
    assert rows == sorted(rows)


def test_the_background_writer_raises_a_failed_write(tmp_path: Path) -> None:
    schema = pa.schema([("a", pa.int64())])
    writer = BackgroundWriter(tmp_path / "t.parquet", schema)
    writer.write_table(pa.table({"b": pa.array(["x"])}))  # not the file's schema
    with pytest.raises(ValueError, match="schema"):
        writer.close()


def test_the_ingest_connection_has_bounded_memory(tmp_path: Path) -> None:
    from federate.ingest.run import MEMORY_LIMIT, _connection

    stage = tmp_path / "stage"
    stage.mkdir()
    with _connection(stage, 2) as con:
        limit = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        spill = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
    number, unit = limit.split()
    assert float(number) * {"KiB": 2**10, "MiB": 2**20, "GiB": 2**30}[unit] <= 2**30, MEMORY_LIMIT
    assert not Path(spill).is_relative_to(stage)


def test_the_tables_staged_at_once_share_the_cores(tmp_path: Path) -> None:
    from federate.ingest.run import _connection, _cores

    stage = tmp_path / "stage"
    stage.mkdir()
    for workers in (1, 2):
        with _connection(stage, workers) as con:
            threads = con.execute("SELECT current_setting('threads')").fetchall()[0][0]
        assert int(threads) == max(1, _cores() // workers)


def test_pseudonyms_are_computed_once_per_distinct_id(tmp_path: Path) -> None:
    from federate.privacy import pseudonym

    calls = 0
    real = pseudonym.pseudonyms

    def counting(key: SiteKey, country: str, ids: list[str]) -> pa.Array:
        nonlocal calls
        calls += len(ids)
        return real(key, country, ids)

    key = SiteKey(bytes(32), tmp_path / "k")
    pseudonymise = pseudonym.Pseudonymiser(key, "it")
    pseudonym.pseudonyms = counting  # type: ignore[assignment]
    try:
        first = pseudonymise(pa.array(["1", "2", "1", None, "2"]))
        second = pseudonymise(pa.chunked_array([["2", "3"], ["1"]]))
    finally:
        pseudonym.pseudonyms = real  # type: ignore[assignment]
    assert calls == 3
    assert first[0] == first[2] and first[3].as_py() is None
    assert second[0] == first[1] and second[2] == first[0]
    assert first.to_pylist()[:2] == [pseudonym.pseudonym(key, "it", v) for v in ("1", "2")]


def test_settled_patients_pseudonyms_are_looked_up_not_cached(tmp_path: Path) -> None:
    """Once the subjects table is settled the cache (which grows with the patients) is dropped;
    a settled patient's pseudonym then comes from the settled patients, with no HMAC computed
    again."""
    import duckdb

    from federate.ingest.patients import Patients
    from federate.ingest.streaming import prepare
    from federate.privacy import pseudonym

    key = SiteKey(bytes(32), tmp_path / "k")
    pseudonymise = pseudonym.Pseudonymiser(key, "it")
    con = duckdb.connect()
    prepare(con, pseudonymise)
    known = pseudonymise(pa.array(["1", "2"])).to_pylist()
    con.execute("INSERT INTO __ids VALUES ('1', ?, 'ok'), ('2', ?, 'held')", known)
    patients = Patients(pseudonymise)
    patients.load_ids(con)
    pseudonymise.settle(patients.subjects_of)
    assert pseudonymise._cache == {}
    calls: list[str] = []
    real = pseudonym.pseudonyms

    def counting(key: SiteKey, country: str, ids: list[str]) -> pa.Array:
        calls.extend(ids)
        return real(key, country, ids)

    pseudonym.pseudonyms = counting  # type: ignore[assignment]
    try:
        got = pseudonymise.of(pa.array(["2", "9", "1", "9", None])).to_pylist()
    finally:
        pseudonym.pseudonyms = real  # type: ignore[assignment]
    assert calls == ["9"]  # only the id no settled patient has
    assert got == [known[1], pseudonym.pseudonym(key, "it", "9"), known[0], got[1], None]


def test_bulk_pseudonyms_are_the_reference_hmac(tmp_path: Path) -> None:
    from federate.privacy.pseudonym import pseudonym, pseudonyms

    key = SiteKey(bytes(range(32)), tmp_path / "k")
    ids = [f"{i:06d}" for i in range(2000)] + ["ø-1", "", "AB12", "x" * 300]
    assert pseudonyms(key, "dk", ids).to_pylist() == [pseudonym(key, "dk", v) for v in ids]
    assert pseudonyms(key, "dk", []).to_pylist() == []


def test_flagged_rows_reach_pandera_in_bulk_not_batch_by_batch(
    broken: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pandera's fixed cost is paid once per source (per CAREFUL_ROWS flagged rows), however
    many batches the flagged rows are spread over."""
    calls: dict[str, int] = {}
    careful = TableMapper.map

    def counting(self: TableMapper, batch: pa.RecordBatch, *args: object) -> pa.Table:
        calls[self.relpath] = calls.get(self.relpath, 0) + 1
        return careful(self, batch, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(streaming, "BATCH_ROWS", 7)
    monkeypatch.setattr(TableMapper, "map", counting)
    small = _ingest(broken, tmp_path / "small")
    assert calls and set(calls.values()) == {1}
    monkeypatch.setattr(streaming, "BATCH_ROWS", 1 << 17)
    big = _ingest(broken, tmp_path / "big")
    assert small.quarantine.drop(["submission_id"]).equals(big.quarantine.drop(["submission_id"]))
    assert small.warnings.drop(["submission_id"]).equals(big.warnings.drop(["submission_id"]))


def test_sql_rules_that_disagree_with_pandera_stop_the_run(
    clean: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A row the SQL holds back as breaking a hard rule but pandera accepts would be lost:
    the engine refuses to go on rather than drop or keep it silently."""
    from federate.schema import Column

    real = Column.violation_sql

    def strict(self: Column, ref: str, *, soft: bool = False) -> str | None:
        if self.name == "edss" and not soft:
            return f"{ref} >= 0"  # every real score: a rule pandera does not have
        return real(self, ref, soft=soft)

    monkeypatch.setattr(Column, "violation_sql", strict)
    with pytest.raises(RuntimeError, match="disagree"):
        _ingest(clean, tmp_path / "bundle")


def test_mapping_distinct_values_ahead_changes_nothing(
    broken: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lookup maps each batch's distinct values with the mapper's own SQL and joins each id
    with its patient: the bundle (in file order), the quarantine and the warnings are the same
    as when every row is mapped and joined in the pass."""
    from federate.ingest import lookup

    planned: list[str] = []
    plan = lookup.Lookup.plan.__func__  # type: ignore[attr-defined]

    def recording(cls: type, queries: dict[str, list[str]], *args: object) -> object:
        made = plan(cls, queries, *args)
        planned.extend(made.columns if made else [])
        return made

    monkeypatch.setattr(lookup.Lookup, "plan", classmethod(recording))
    monkeypatch.setattr(lookup, "BATCH_ROWS", 50)  # many lookups, each over a few rows
    monkeypatch.setattr(lookup, "SLICE_ROWS", 7)
    ahead = _ingest(broken, tmp_path / "ahead")
    assert {"id_paziente", "esame", "unita"} <= set(planned)
    monkeypatch.setattr(lookup.Lookup, "plan", classmethod(lambda cls, *args: None))
    inline = _ingest(broken, tmp_path / "inline")
    for tm in ITALY.tables:
        a = pq.read_table(tmp_path / "ahead" / "tables" / f"{tm.table}.parquet")
        b = pq.read_table(tmp_path / "inline" / "tables" / f"{tm.table}.parquet")
        assert a.drop(["submission_id"]).equals(b.drop(["submission_id"])), tm.table
    for got, want in ((ahead.quarantine, inline.quarantine), (ahead.warnings, inline.warnings)):
        assert got.num_rows and got.drop(["submission_id"]).equals(want.drop(["submission_id"]))


def test_a_source_read_in_many_batches_is_written_in_file_order(
    clean: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """DuckDB's parallel hash join reorders a stream: the pass joins nothing (the lookup gives
    each id its patient), so a file read in many small blocks keeps its order."""
    import dataclasses

    from federate.ingest import lookup

    monkeypatch.setattr(lookup, "BATCH_ROWS", 64)
    monkeypatch.setattr(lookup, "SLICE_ROWS", 16)
    small_blocks = dataclasses.replace(ITALY.reader, block_size=512)  # type: ignore[type-var]
    adapter = dataclasses.replace(ITALY, reader=small_blocks)
    key = load_key("italy", clean.keys["italy"])
    ingested = ingest(adapter, clean.export_dir("italy"), tmp_path / "b", key, operator="test")
    assert ingested.quarantine.num_rows == 0
    for tm in ITALY.tables:
        got = pq.read_table(tmp_path / "b" / "tables" / f"{tm.table}.parquet")
        want = pq.read_table(clean.truth[tm.table]).filter(pc.equal(pc.field("site"), "italy"))
        assert got.drop(["submission_id"]).equals(want.drop(["submission_id"])), tm.table


def test_a_wide_export_is_regrouped_by_bytes_as_well_as_rows() -> None:
    from federate.ingest import lookup

    wide = pa.record_batch({f"c{i}": pa.array(["x" * 100] * 1000) for i in range(50)})
    grouped = list(lookup._joined(iter([wide] * 20)))  # 20 batches of ~5 MB, 1,000 rows each
    assert sum(b.num_rows for b in grouped) == 20_000
    assert max(b.nbytes for b in grouped) < 2 * lookup.BATCH_BYTES
    assert len(grouped) > 1


def test_an_error_in_the_lookup_surfaces_as_itself(
    clean: SynthResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from federate.ingest import lookup

    def failing(self: object, batch: pa.RecordBatch) -> pa.RecordBatch:
        raise ValueError("lookup failed here")

    monkeypatch.setattr(lookup.Lookup, "_mapped", failing)
    with pytest.raises(ValueError, match="lookup failed here"):
        _ingest(clean, tmp_path / "bundle")


def test_a_reshaped_source_read_in_many_batches_is_written_in_file_order(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """A reshaped source (France's findings, pivoted to one row per assessment) is grouped by
    DuckDB before the pass, so its patients are joined there: the pass then sorts by record."""
    import dataclasses

    france = registry.adapter("france")
    assert any(tm.pivot is not None for tm in france.tables)
    result = run(tmp_path_factory.mktemp("fr") / "out", patients=40)
    small_chunks = dataclasses.replace(france.reader, chunk_rows=7)  # type: ignore[type-var]
    adapter = dataclasses.replace(france, reader=small_chunks)
    key = load_key("france", result.keys["france"])
    out = tmp_path_factory.mktemp("fr-bundle") / "b"
    ingest(adapter, result.export_dir("france"), out, key, operator="test")
    for table in ("edss", "msfc", "mri", "labs"):
        rows = pq.read_table(out / "tables" / f"{table}.parquet").column("source_row")
        assert rows.to_pylist() == sorted(rows.to_pylist()), table
