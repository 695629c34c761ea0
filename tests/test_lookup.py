"""The lookup maps each distinct value once and hands text to DuckDB as dictionaries built
without a bounds check: that is safe only while every distinct value maps to exactly one row."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from federate.lookup import PATIENT, PATIENT_W0, Lookup
from federate.mapping import LOCAL_ID, LOOKED_UP
from federate.pseudonym import Pseudonymiser, SiteKey
from federate.streaming import prepare

QUERIES = {"id": [f"trim(id) AS {LOOKED_UP}{LOCAL_ID}"], "unit": [f"lower(unit) AS {LOOKED_UP}u"]}


def _lookup(tmp_path: Path) -> tuple[duckdb.DuckDBPyConnection, Lookup, pa.RecordBatch]:
    con = duckdb.connect()
    pseudonymise = Pseudonymiser(SiteKey(bytes(32), tmp_path / "k"), "it")
    prepare(con, pseudonymise)
    batch = pa.record_batch({"id": [" 1", "2", " 1", None], "unit": ["MG", "mg", None, "MG"]})
    lookup = Lookup(QUERIES, batch.schema, con, patients="id")
    return con, lookup, batch


def test_each_row_gets_its_values_mapped(tmp_path: Path) -> None:
    con, lookup, batch = _lookup(tmp_path)
    con.execute("INSERT INTO __ids VALUES ('1', 'it-one', 'ok')")
    con.execute("INSERT INTO __w0 VALUES ('it-one', DATE '2013-01-07')")
    out = lookup._mapped(batch)
    assert out.column(f"{LOOKED_UP}u").cast(pa.string()).to_pylist() == ["mg", "mg", None, "mg"]
    patients = out.column(PATIENT).cast(pa.string()).to_pylist()
    assert patients[0] == patients[2] == "it-one" and patients[1].startswith("it-")
    assert out.column(PATIENT_W0).to_pylist()[0].isoformat() == "2013-01-07"


def test_a_patient_held_twice_stops_the_lookup_instead_of_misaligning_rows(
    tmp_path: Path,
) -> None:
    con, lookup, batch = _lookup(tmp_path)
    con.execute("INSERT INTO __ids VALUES ('1', 'it-one', 'ok')")
    con.execute("INSERT INTO __w0 VALUES ('it-one', DATE '2013-01-07'), ('it-one', NULL)")
    with pytest.raises(RuntimeError, match="holds a patient twice"):
        lookup._mapped(batch)
