"""The schema's derived columns, computed for the truth the way the engine's DuckDB SQL computes
them, operation for operation, so the floats agree to the last bit: the MSFC z-score against the
Task Force reference, the ATC crosswalk, and the harmonised lab value and unit.

One DuckDB subtlety is reproduced on purpose: ``pasat3 - 45.0311`` is BIGINT minus a DECIMAL
literal, which DuckDB evaluates exactly in DECIMAL before converting to DOUBLE.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from federate.synth.codes import ATC_CROSSWALK, LAB_ANALYTES, MSFC_TASK_FORCE

Columns = Mapping[str, pa.Array]


def _floats(values: pa.Array) -> np.ndarray:
    result: np.ndarray = pc.cast(values, pa.float64()).to_numpy(zero_copy_only=False)
    return result


def _int_minus_literal(values: np.ndarray, literal: float) -> np.ndarray:
    """BIGINT - DECIMAL literal, exact, then DOUBLE (as DuckDB does)."""
    text = Decimal(repr(literal))
    scale = -int(text.as_tuple().exponent)
    unit = 10**scale
    result: np.ndarray = (values * unit - int(text.scaleb(scale))) / unit
    return result


def msfc_z(cols: Columns) -> pa.Array:
    ref = MSFC_TASK_FORCE
    t1, t2, d1, d2, n1, n2 = (
        _floats(cols[c])
        for c in (
            "t25fw_trial1_s",
            "t25fw_trial2_s",
            "nhpt_dominant_trial1_s",
            "nhpt_dominant_trial2_s",
            "nhpt_nondominant_trial1_s",
            "nhpt_nondominant_trial2_s",
        )
    )
    pasat = cols["pasat3"]
    missing = np.isnan(t1 + t2 + d1 + d2 + n1 + n2) | pc.is_null(pasat).to_numpy(
        zero_copy_only=False
    )
    t25 = (t1 + t2) / 2
    nhpt = (1 / ((d1 + d2) / 2) + 1 / ((n1 + n2) / 2)) / 2
    correct = pc.fill_null(pasat, 0).to_numpy(zero_copy_only=False).astype(np.int64)
    with np.errstate(invalid="ignore"):
        z = (
            (nhpt - ref.nhpt_inverse_mean) / ref.nhpt_inverse_sd
            - (t25 - ref.t25fw_mean) / ref.t25fw_sd
            + _int_minus_literal(correct, ref.pasat_mean) / ref.pasat_sd
        ) / 3
    return pa.array(np.where(missing, 0.0, z), pa.float64(), mask=missing)


def msfc_reference(cols: Columns) -> pa.Array:
    n = len(next(iter(cols.values())))
    return pa.repeat(pa.scalar(MSFC_TASK_FORCE.name, pa.string()), n)


def atc_current(cols: Columns) -> pa.Array:
    codes = cols["atc_code"]
    old = pa.array(list(ATC_CROSSWALK), pa.string())
    new = pa.array(list(ATC_CROSSWALK.values()), pa.string())
    moved = pc.take(new, pc.index_in(codes, value_set=old))
    return pc.coalesce(moved, codes)


def lab_value(cols: Columns) -> pa.Array:
    analyte = cols["analyte"].to_numpy(zero_copy_only=False)
    unit = cols["unit_reported"].to_numpy(zero_copy_only=False)
    factor = np.full(len(analyte), np.nan)
    for code, spec in LAB_ANALYTES.items():
        for u, f in spec.factors.items():
            factor[(analyte == code) & (unit == u)] = f
    value = _floats(cols["value_reported"]) * factor
    return pa.array(value, pa.float64(), mask=np.isnan(value))


def lab_unit(cols: Columns) -> pa.Array:
    codes = pa.array(list(LAB_ANALYTES), pa.string())
    units = pa.array([a.unit for a in LAB_ANALYTES.values()], pa.string())
    return pc.take(units, pc.index_in(cols["analyte"], value_set=codes))


# (table, column) -> how the truth computes it; every Derived the schema declares is here.
DERIVED: dict[tuple[str, str], Callable[[Columns], pa.Array]] = {
    ("msfc", "msfc_z"): msfc_z,
    ("msfc", "msfc_reference"): msfc_reference,
    ("conmeds", "atc_code_current"): atc_current,
    ("labs", "value"): lab_value,
    ("labs", "unit"): lab_unit,
}
