"""Completeness by visit and the distributions, on Parquet files written here by hand."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from federate.adapters import registry
from federate.quality.profile import BINS, completeness, distributions


def _edss(path: Path, site: str, rows: list[tuple[str, str, float]]) -> Path:
    schema = registry.schema()
    table = schema.table("edss")
    data = {c: [None] * len(rows) for c in table.names}
    data["site"] = [site] * len(rows)
    data["subject_id"] = [r[0] for r in rows]
    data["visit_code"] = [r[1] for r in rows]
    data["edss"] = [r[2] for r in rows]
    pq.write_table(pa.table(data, schema=pa.schema(
        [pa.field(f.name, f.type) for f in schema.arrow_schema(table)])), path)  # fmt: skip
    return path


def _randomised(path: Path, site: str, n: int) -> Path:
    pq.write_table(pa.table({"site": [site] * n, "subject_id": [f"p{i}" for i in range(n)]}), path)
    return path


def test_completeness_counts_patients_per_visit_against_those_randomised(tmp_path: Path) -> None:
    rows = [("p0", "W0", 3.0), ("p0", "W0", 3.5), ("p1", "W0", 2.0), ("p0", "W24", 4.0)]
    edss = _edss(tmp_path / "e.parquet", "italy", rows)
    files = {"edss": [edss], "randomisation": [_randomised(tmp_path / "r.parquet", "italy", 3)]}
    visits = completeness(duckdb.connect(), files, registry.schema())
    assert visits.expected == {"italy": 3}
    assert visits.seen[("italy", "edss", "W0")] == 2  # patients, not rows
    assert visits.seen[("italy", "edss", "W24")] == 1
    assert visits.visits == ["W0", "W24"]  # in protocol order


def test_distributions_share_bins_across_sites_and_count_every_value(tmp_path: Path) -> None:
    a = _edss(tmp_path / "a.parquet", "italy", [("p0", "W0", 1.0), ("p1", "W0", 9.5)])
    b = _edss(tmp_path / "b.parquet", "uk", [("q0", "W0", 5.0)] * 3)
    (edss,) = [d for d in distributions(duckdb.connect(), {"edss": [a, b]}, registry.schema())
               if d.column == "edss"]  # fmt: skip
    assert edss.edges[0] == 1.0 and edss.edges[-1] == 9.5 and len(edss.edges) == BINS + 1
    assert sum(edss.per_site["italy"].counts) == 2 and sum(edss.per_site["uk"].counts) == 3
    assert edss.per_site["uk"].median == 5.0
    assert edss.soft == (2.5, 6.5)  # the schema's plausible range, drawn as lines


def test_one_value_alone_gets_a_bin_around_it(tmp_path: Path) -> None:
    a = _edss(tmp_path / "a.parquet", "italy", [("p0", "W0", 3.5), ("p1", "W0", 3.5)])
    (edss,) = [d for d in distributions(duckdb.connect(), {"edss": [a]}, registry.schema())
               if d.column == "edss"]  # fmt: skip
    assert edss.edges[0] == 3.0 and edss.edges[-1] == 4.0
    assert sum(edss.per_site["italy"].counts) == 2
