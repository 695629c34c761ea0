"""The lookup maps each distinct value once and hands text to DuckDB as dictionaries built
without a bounds check: that is safe only while every distinct value maps to exactly one row
(the settled patients hold each patient once)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from federate.ingest.lookup import PATIENT, PATIENT_STATUS, PATIENT_W0, Lookup
from federate.ingest.mapping import LOCAL_ID, LOOKED_UP
from federate.ingest.patients import Patients
from federate.ingest.streaming import prepare
from federate.privacy.pseudonym import Pseudonymiser, SiteKey

QUERIES = {"id": [f"trim(id) AS {LOOKED_UP}{LOCAL_ID}"], "unit": [f"lower(unit) AS {LOOKED_UP}u"]}


def _lookup(
    tmp_path: Path,
) -> tuple[duckdb.DuckDBPyConnection, Lookup, Patients, pa.RecordBatch]:
    con = duckdb.connect()
    pseudonymise = Pseudonymiser(SiteKey(bytes(32), tmp_path / "k"), "it")
    prepare(con, pseudonymise)
    patients = Patients(pseudonymise)
    batch = pa.record_batch({"id": [" 1", "2", " 1", None], "unit": ["MG", "mg", None, "MG"]})
    lookup = Lookup(QUERIES, batch.schema, con, patients="id", settled=patients)
    return con, lookup, patients, batch


def test_each_row_gets_its_values_mapped(tmp_path: Path) -> None:
    con, lookup, patients, batch = _lookup(tmp_path)
    con.execute("INSERT INTO __ids VALUES ('1', 'it-one', 'ok')")
    con.execute("INSERT INTO __w0 VALUES ('it-one', DATE '2013-01-07')")
    patients.load_ids(con)
    patients.load_w0(con)
    out = lookup._mapped(batch)
    assert out.column(f"{LOOKED_UP}u").cast(pa.string()).to_pylist() == ["mg", "mg", None, "mg"]
    subjects = out.column(PATIENT).cast(pa.string()).to_pylist()
    # An id no settled patient holds gets its pseudonym; a missing id gets none.
    assert subjects[0] == subjects[2] == "it-one" and subjects[3] is None
    assert subjects[1] == patients.pseudonymise(pa.array(["2"])).to_pylist()[0]
    assert out.column(PATIENT_STATUS).cast(pa.string()).to_pylist() == ["ok", None, "ok", None]
    w0 = out.column(PATIENT_W0).to_pylist()
    assert w0[0].isoformat() == "2013-01-07" and w0[1] is None


def test_the_lookup_reads_patients_settled_after_it_was_planned(tmp_path: Path) -> None:
    con, lookup, patients, batch = _lookup(tmp_path)
    before = lookup._mapped(batch).column(PATIENT).cast(pa.string()).to_pylist()
    con.execute("INSERT INTO __ids VALUES ('1', 'it-one', 'held')")
    patients.load_ids(con)
    after = lookup._mapped(batch)
    assert before[0] != "it-one" and after.column(PATIENT).cast(pa.string())[0].as_py() == "it-one"
    assert after.column(PATIENT_STATUS).cast(pa.string())[0].as_py() == "held"


def test_a_patient_held_twice_stops_the_ingest_instead_of_misaligning_rows(
    tmp_path: Path,
) -> None:
    con, _, patients, _ = _lookup(tmp_path)
    con.execute("INSERT INTO __ids VALUES ('1', 'it-one', 'ok')")
    patients.load_ids(con)
    con.execute("INSERT INTO __w0 VALUES ('it-one', DATE '2013-01-07'), ('it-one', NULL)")
    with pytest.raises(RuntimeError, match="two W0 dates"):
        patients.load_w0(con)
    con.execute("INSERT INTO __ids VALUES ('1', 'it-uno', 'ok')")
    with pytest.raises(RuntimeError, match="held twice"):
        patients.load_ids(con)


def test_an_id_no_settled_patient_holds_gets_its_w0_by_its_pseudonym(tmp_path: Path) -> None:
    """Without a subjects table ``__ids`` is empty, and W0 is found by the patient, as the pass
    joins it."""
    con, lookup, patients, batch = _lookup(tmp_path)
    two = patients.pseudonymise(pa.array(["2"])).to_pylist()[0]
    con.execute(f"INSERT INTO __w0 VALUES ('{two}', DATE '2014-02-01')")
    patients.load_w0(con)
    w0 = lookup._mapped(batch).column(PATIENT_W0).to_pylist()
    assert w0[1].isoformat() == "2014-02-01" and w0[0] is None and w0[3] is None


def test_a_lookup_without_patients_maps_only_its_columns(tmp_path: Path) -> None:
    con, _, patients, batch = _lookup(tmp_path)
    units = Lookup({"unit": QUERIES["unit"]}, batch.schema, con, None, patients)
    out = units._mapped(batch)
    assert out.schema.names == [*batch.schema.names, f"{LOOKED_UP}u"]


def test_a_missing_local_id_never_matches_a_settled_patient(tmp_path: Path) -> None:
    con, lookup, patients, batch = _lookup(tmp_path)
    con.execute("INSERT INTO __ids VALUES (NULL, 'it-nobody', 'ok'), ('1', 'it-one', 'ok')")
    patients.load_ids(con)
    out = lookup._mapped(batch)
    assert out.column(PATIENT).cast(pa.string())[3].as_py() is None
    assert out.column(PATIENT_STATUS).cast(pa.string())[3].as_py() is None
