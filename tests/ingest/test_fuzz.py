"""Property: whatever bytes an export holds, ingest either refuses it with an InputError (exit 2)
or accounts for every row — never a traceback, never a row lost."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from federate.adapters import registry
from federate.errors import FederateError
from federate.ingest.run import ingest
from federate.privacy.pseudonym import SiteKey
from tests.italy_export import FILES, write_italy_export

ITALY = registry.adapter("italy")
KEY = SiteKey(bytes(32), Path("unused"))


def check(rm_bytes: bytes) -> None:
    work = Path(tempfile.mkdtemp())
    try:
        export = write_italy_export(work / "export")
        (export / "rm.csv").write_bytes(rm_bytes)
        try:
            result = ingest(ITALY, export, work / "bundle", KEY)
        except FederateError as exc:
            assert exc.exit_code == 2
            assert not (work / "bundle").exists()
            return
        rm = next(s for s in result.manifest["sources"] if s["path"] == "rm.csv")
        assert rm["rows_read"] == rm["rows_mapped"] + rm["rows_quarantined"] + rm["rows_skipped"]
        quarantined = {
            q["source_row"] for q in result.quarantine.to_pylist() if q["source_file"] == "rm.csv"
        }
        assert len(quarantined) == rm["rows_quarantined"]
    finally:
        shutil.rmtree(work)


VALID = FILES["rm.csv"].encode("utf-8")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=400))
def test_random_bytes(data: bytes) -> None:
    check(data)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=len(VALID) - 1),
            st.sampled_from([b"", b";", b'"', b"\n", b"\r\n", b"x", b"\xe9", b"31/02", b"-1"]),
            st.integers(min_value=0, max_value=3),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_mutations_of_a_valid_export(edits: list[tuple[int, bytes, int]]) -> None:
    data = bytearray(VALID)
    for pos, insert, delete in edits:
        pos = min(pos, len(data))
        data[pos : pos + delete] = insert
    check(bytes(data))
