"""Ingest end to end on a hand-written Italian export: accepted rows, quarantine, accounting,
and every bad input the walking skeleton promises to handle."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from federate.adapters import registry
from federate.bundle.manifest import verify
from federate.errors import InputError, UsageError
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey, pseudonym
from federate.readers.base import ROW_COLUMN, Reject, Source
from federate.readers.csv import CsvReader
from tests.italy_export import FILES, write_italy_export

ITALY = registry.adapter("italy")


def run_cli(*args: str, key: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "federate", *args, "--key-file", str(key)],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.fixture
def key_file(tmp_path: Path, site_key: SiteKey) -> Path:
    path = tmp_path / "italy.key"
    path.write_text(site_key.secret.hex())
    path.chmod(0o600)  # a key readable by others is refused
    return path


def test_clean_export_is_accepted(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export")
    result = ingest(ITALY, export, tmp_path / "bundle", site_key, operator="tester")
    assert result.exit_code == 0, result.quarantine.to_pylist()
    manifest = verify(tmp_path / "bundle", registry.schema())
    rows = {name: info["rows"] for name, info in manifest["tables"].items()}
    assert rows == {
        "subjects": 3,
        "randomisation": 3,
        "infusions": 4,
        "visits": 5,
        "mri": 5,
        "edss": 3,
        "msfc": 2,
        "relapses": 2,
        "adverse_events": 3,
        "conmeds": 3,
        "labs": 5,
    }
    for source in manifest["sources"]:
        raw = (export / source["path"]).read_bytes()
        assert source["sha256"] == hashlib.sha256(raw).hexdigest()
        assert (
            source["rows_read"]
            == source["rows_mapped"] + source["rows_quarantined"] + source["rows_skipped"]
        )
    subjects = pq.read_table(tmp_path / "bundle" / "tables" / "subjects.parquet").to_pylist()
    # "124" lost its zeros in a spreadsheet: normalised to 000124 before hashing.
    assert subjects[1]["subject_id"] == pseudonym(site_key, "it", "000124")
    assert [s["birth_year"] for s in subjects] == [1983, 1985, 1990]  # "85" is 1985
    assert subjects[1]["diagnosis_date"].year == 2008
    assert subjects[0]["source_file"] == "pazienti.csv" and subjects[0]["source_row"] == 2
    mri = pq.read_table(tmp_path / "bundle" / "tables" / "mri.parquet").to_pylist()
    assert mri[0]["brain_volume_ml"] == 1500.0  # "1.500,0": grouping and decimal comma
    assert [m["central_read"] for m in mri] == [True, True, False, True, True]
    infusions = pq.read_table(tmp_path / "bundle" / "tables" / "infusions.parquet").to_pylist()
    assert infusions[1]["dose_million_cells_per_kg"] is None
    assert infusions[0]["lot_id"] == "L-001"
    assert (
        pq.read_metadata(tmp_path / "bundle" / "tables" / "mri.parquet").metadata[
            b"federate.schema_version"
        ]
        == registry.schema().version.encode()
    )


def test_no_identifier_reaches_the_bundle(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export")
    ingest(ITALY, export, tmp_path / "bundle", site_key)
    forbidden = [
        "RCCMNL83S18D969H",
        "BNCNNA85C41H501X",
        "Emanuele",
        "Ricci",
        "Bianchi",
        "18/11/1983",
        "1983-11-18",
        "000123",
    ]
    for path in (tmp_path / "bundle").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            for text in forbidden:
                assert text.encode() not in data, f"{text} leaked into {path.name}"
    for path in (tmp_path / "bundle" / "tables").glob("*.parquet"):
        assert not {"codice_fiscale", "nome", "cognome", "data_nascita"} & set(
            pq.read_schema(path).names
        )


def test_impossible_date_and_unknown_visit_are_quarantined(tmp_path: Path, key_file: Path) -> None:
    rm = (
        FILES["rm.csv"]
        .replace("02/04/2013;3;0", "31/02/2020;3;0")
        .replace("000124;SETT4", "000124;SETT99")
    )
    export = write_italy_export(tmp_path / "export", rm=rm)
    done = run_cli("ingest", "italy", str(export), "--out", str(tmp_path / "b"), key=key_file)
    assert done.returncode == 1, done.stderr
    quarantine = pq.read_table(tmp_path / "b" / "quarantine.parquet").to_pylist()
    found = {
        (q["source_file"], q["source_row"], q["column"], q["value"], q["reason"])
        for q in quarantine
    }
    assert found == {
        ("rm.csv", 3, "data_rm", "31/02/2020", "invalid-date"),
        ("rm.csv", 6, "visita", "SETT99", "unknown-code"),
    }
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    rm_source = next(s for s in manifest["sources"] if s["path"] == "rm.csv")
    assert (rm_source["rows_read"], rm_source["rows_mapped"], rm_source["rows_quarantined"]) == (
        5,
        3,
        2,
    )
    assert "rm.csv, column 'data_rm'" in done.stderr and "record 3: '31/02/2020'" in done.stderr
    assert (tmp_path / "b" / "quarantine.csv").read_text().count("\n") == 3


@pytest.mark.parametrize(
    ("case", "make", "message"),
    [
        (
            "missing column",
            lambda e: (e / "rm.csv").write_text(
                FILES["rm.csv"].replace("lesioni_gd;", "").replace(";2;1;3;", ";1;3;"),
                encoding="utf-8",
            ),
            "missing column(s) 'lesioni_gd'",
        ),
        ("empty file", lambda e: (e / "visite.csv").write_bytes(b""), "visite.csv"),
        (
            "truncated file",
            lambda e: (e / "rm.csv").write_bytes(FILES["rm.csv"].encode()[:-40]),
            "truncated",
        ),
        (
            "wrong encoding",
            lambda e: (e / "rm.csv").write_bytes(FILES["rm.csv"].encode("utf-16")),
            "UTF-16",
        ),
        ("missing file", lambda e: (e / "visite.csv").unlink(), "has no visite.csv"),
    ],
)
def test_unreadable_input_exits_2_and_writes_nothing(
    tmp_path: Path, key_file: Path, case: str, make: object, message: str
) -> None:
    export = write_italy_export(tmp_path / "export")
    make(export)  # type: ignore[operator]
    done = run_cli("ingest", "italy", str(export), "--out", str(tmp_path / "b"), key=key_file)
    assert done.returncode == 2, (case, done.stderr)
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "b").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".b")] == []


def test_failed_run_leaves_previous_bundle_untouched(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export")
    ingest(ITALY, export, tmp_path / "b", site_key)
    before = {p: p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    (export / "rm.csv").write_bytes(b"")
    with pytest.raises(InputError):
        ingest(ITALY, export, tmp_path / "b", site_key)
    after = {p: p.read_bytes() for p in (tmp_path / "b").rglob("*") if p.is_file()}
    assert before == after


def test_never_writes_into_the_export(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export")
    with pytest.raises(UsageError, match="inside the export folder"):
        ingest(ITALY, export, export / "bundle", site_key)
    export.chmod(0o555)
    try:
        ingest(ITALY, export, tmp_path / "b", site_key)  # a read-only export is fine
    finally:
        export.chmod(0o755)


def test_cp1252_export_is_transcoded(tmp_path: Path, site_key: SiteKey) -> None:
    export = write_italy_export(tmp_path / "export", encoding="cp1252")
    result = ingest(ITALY, export, tmp_path / "b", site_key)
    assert result.exit_code == 0
    encodings = {s["path"]: s["facts"]["encoding"] for s in result.manifest["sources"]}
    assert encodings["pazienti.csv"] == "cp1252"  # accented names; pure ASCII reads as UTF-8


def test_unknown_site_suggests(tmp_path: Path, key_file: Path) -> None:
    done = run_cli("ingest", "itlay", str(tmp_path), "--out", str(tmp_path / "b"), key=key_file)
    assert done.returncode == 2
    assert "Did you mean 'italy'" in done.stderr


def test_zero_padding_restores_zeros_and_never_truncates() -> None:
    import duckdb

    from federate.adapters.declaration import LocalId

    sql = LocalId("id", zero_pad=6).sql("id")
    rows = duckdb.sql(
        f"SELECT {sql} FROM (VALUES ('124'), ('000124'), ('1234567'), (' ab12 ')) t(id)"
    ).fetchall()
    assert [r[0] for r in rows] == ["000124", "000124", "1234567", "AB12"]


def test_ingest_uses_arrows_jemalloc_pool_unless_the_user_chose_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import pyarrow as pa

    from federate.ingest.run import use_jemalloc

    try:
        pa.jemalloc_memory_pool()
    except NotImplementedError:
        pytest.skip("this pyarrow has no jemalloc")
    before = pa.default_memory_pool()
    try:
        pa.set_memory_pool(pa.system_memory_pool())
        monkeypatch.setenv("ARROW_DEFAULT_MEMORY_POOL", "system")
        use_jemalloc()
        assert pa.default_memory_pool().backend_name == "system"  # the user's choice stands
        monkeypatch.delenv("ARROW_DEFAULT_MEMORY_POOL")
        use_jemalloc()
        assert pa.default_memory_pool().backend_name == "jemalloc"
    finally:
        pa.set_memory_pool(before)


class _DeletingReader(CsvReader):
    """A reader that, like OpenClinica or REDCap, exports a record its system deleted: the
    visits of patient 000124 are marked deleted rather than yielded."""

    def batches(self, source: Source, rejects: list[Reject]) -> Iterator[pa.RecordBatch]:
        for batch in super().batches(source, rejects):
            if "visite" not in source.relpath:
                yield batch
                continue
            gone = pc.equal(batch.column("id_paziente"), "000124")
            for row in pc.filter(batch.column(ROW_COLUMN), gone).to_pylist():
                rejects.append(Reject(row, "removed-in-source", "deleted", deleted=True))
            yield batch.filter(pc.invert(gone))


def test_records_the_source_deleted_are_skipped_with_their_reason(
    tmp_path: Path, site_key: SiteKey
) -> None:
    italian = ITALY.reader
    assert isinstance(italian, CsvReader)
    reader = _DeletingReader(delimiter=italian.delimiter, encodings=italian.encodings)
    adapter = dataclasses.replace(ITALY, reader=reader)
    export = write_italy_export(tmp_path / "export")
    result = ingest(adapter, export, tmp_path / "bundle", site_key, operator="tester")
    assert result.exit_code == 0, result.quarantine.to_pylist()
    manifest = verify(tmp_path / "bundle", registry.schema())
    visits = next(s for s in manifest["sources"] if s["path"] == "visite.csv")
    assert (visits["rows_read"], visits["rows_mapped"], visits["rows_skipped"]) == (5, 3, 2)
    assert visits["skipped_reasons"] == {"removed-in-source": 2}
    assert visits["rows_quarantined"] == 0
