"""Estimates a report table shows beside the counts, computed over released or to-be-released
tables, vectorised (numpy over Arrow columns):

- ``mean_ci``: the two-sided 95% confidence interval of a mean, mean ± t(0.975, n−1) · sd/√n
  (null where n < 2 or the sd is unknown), added as ``ci_low`` and ``ci_high`` after ``sd``;
- ``per_exposed``: a safety table's ``n_exposed`` (patients exposed, from the released
  exposure table, so no count is shown that that table does not release) and ``pct`` =
  100 · patients / n_exposed, added after ``patients``.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.output import MEASURE_META, SUPPRESSED
from federate.query.roles import ALL


def _floats(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    return np.asarray(pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False), dtype=float)


def mean_ci(table: pa.Table, mean: str = "mean", sd: str = "sd", n: str = "patients") -> pa.Table:
    """Add ``ci_low`` and ``ci_high`` (t-based 95% CI of ``mean``) right after ``sd``."""
    from scipy.stats import t

    m, s, k = _floats(table[mean]), _floats(table[sd]), _floats(table[n])
    with np.errstate(divide="ignore", invalid="ignore"):
        half = t.ppf(0.975, k - 1) * s / np.sqrt(k)
    ok = np.isfinite(half) & np.isfinite(m) & (k >= 2)
    at = table.schema.get_field_index(sd) + 1
    low = pa.array(np.where(ok, m - half, np.nan), from_pandas=True)
    table = table.add_column(at, "ci_low", low)
    high = pa.array(np.where(ok, m + half, np.nan), from_pandas=True)
    return table.add_column(at + 1, "ci_high", high)


def per_exposed(table: pa.Table, exposure: pa.Table, *, by_arm: bool) -> pa.Table:
    """Add ``n_exposed`` and ``pct`` after ``patients``. ``by_arm``: N is the row's own arm's
    (treatment-emergent events, by the product given at onset); otherwise the scope's patients
    exposed at all. Both are measures: null on a suppressed row, and null where the exposure
    table suppressed its cell."""
    shown = (
        exposure.filter(pc.invert(exposure[SUPPRESSED]))
        if SUPPRESSED in exposure.column_names
        else exposure
    )
    arm = "arm" in shown.column_names
    n_of = {
        (r["scope"], r["arm"] if arm else ALL): r["patients"]
        for r in shown.select(["scope", *(["arm"] if arm else []), "patients"]).to_pylist()
    }
    scopes = table["scope"].to_pylist()
    arms = (
        table["arm"].to_pylist() if by_arm and "arm" in table.column_names else [ALL] * len(scopes)
    )
    n = np.array([n_of.get(key) for key in zip(scopes, arms, strict=True)], dtype=object)
    hidden = (
        np.asarray(table[SUPPRESSED].to_numpy(zero_copy_only=False), dtype=bool)
        if SUPPRESSED in table.column_names
        else np.zeros(table.num_rows, dtype=bool)
    )
    n[hidden] = None
    n_exposed = pa.array(n.tolist(), pa.int64())
    with np.errstate(divide="ignore", invalid="ignore"):
        pct = 100.0 * _floats(table["patients"]) / _floats(n_exposed)
    at = table.schema.get_field_index("patients") + 1
    table = table.add_column(
        at, pa.field("n_exposed", pa.int64(), metadata=MEASURE_META), n_exposed
    )
    pct_array = pa.array(np.where(np.isfinite(pct), pct, np.nan), from_pandas=True)
    return table.add_column(at + 1, pa.field("pct", pa.float64(), metadata=MEASURE_META), pct_array)
