"""Labels in words for the people who read results (tables, CSV headers, figures, the trial
report); JSON and Parquet keep the stable snake_case keys the SQL gives.

``headed`` renames columns and writes arms and visits in words (CSV: numbers stay numbers);
``for_people`` also joins an estimate with its interval ("rate ratio (95% CI)", "mean (95%
CI)") and a count with its percentage ("n (%)"), as a report table shows them.
"""

from __future__ import annotations

import re
from typing import Any

import pyarrow as pa

from federate.output import MEASURE_META, SUPPRESSED

ARMS = {
    "MSC": "MSC",
    "PLACEBO": "placebo",
    "MSC_PLACEBO": "MSC, then placebo",
    "PLACEBO_MSC": "placebo, then MSC",
    "ALL": "all patients",
    "NONE": "no product",
}

COLUMNS = {
    "scope": "site",
    "arm": "arm",
    "visit_code": "visit",
    "week": "week",
    "patients": "patients, n",
    "n_exposed": "N exposed",
    "pct": "% of N exposed",
    "events": "events, n",
    "scans": "scans, n",
    "total_gel": "total GEL",
    "mean_gel_per_patient": "mean GEL per patient",
    "sd_gel_per_patient": "SD of GEL per patient",
    "median_gel_per_patient": "median GEL per patient",
    "gel_per_scan": "GEL per scan",
    "mean": "mean",
    "sd": "SD",
    "ci_low": "95% CI, lower",
    "ci_high": "95% CI, upper",
    "rate_ratio": "rate ratio",
    "p_value": "p-value",
    "alpha": "NB2 dispersion",
    "period_ratio": "period ratio (period 2 vs 1)",
    "note": "note",
    "breakdown": "by",
    "category": "category",
    "measure": "measure",
    "mean_baseline": "mean at baseline",
    "mean_value": "mean",
    "sd_value": "SD",
    "mean_change": "mean change from baseline",
    "sd_change": "SD of change",
    "median_change": "median change",
    "variable": "characteristic",
    "level": "level",
    "percent": "%",
    "median": "median",
    "q1": "lower quartile",
    "q3": "upper quartile",
    "period": "period",
    "relapses": "relapses, n",
    "patient_years": "patient-years",
    "annualised_rate": "annualised relapse rate",
    "expected": "expected, N",
    "present": "present, n",
    "percent_present": "% present",
    "assessment": "assessment",
    "table_name": "table",
    "rows_read": "rows read",
    "rows_mapped": "rows pooled",
    "rows_quarantined": "rows quarantined",
    "rows_parent_quarantined": "rows whose parent was quarantined",
    "rows_skipped": "rows skipped",
    "scans_period1": "scans, period 1",
    "gel_period1": "GEL, period 1",
    "scans_period2": "scans, period 2",
    "gel_period2": "GEL, period 2",
    "gel_per_scan_period1": "GEL per scan, period 1",
    "gel_per_scan_period2": "GEL per scan, period 2",
    "mean_change_gel_per_scan": "mean change in GEL per scan",
    SUPPRESSED: "suppressed",
}

_VISIT = re.compile(r"W(\d+)")


def visit(code: str | None) -> str | None:
    """W4 → 'week 4', SCR → 'screening'; any other code as it is."""
    if code is None:
        return None
    if match := _VISIT.fullmatch(code):
        return "baseline (week 0)" if match[1] == "0" else f"week {match[1]}"
    return {"SCR": "screening", "UNS": "unscheduled"}.get(code, code)


def arm(code: str | None) -> str | None:
    return None if code is None else ARMS.get(code, code)


def column(name: str) -> str:
    return COLUMNS.get(name, name.replace("_", " "))


def _words(table: pa.Table) -> pa.Table:
    for name, say in (("arm", arm), ("visit_code", visit)):
        if name in table.column_names:
            values = pa.array([say(v) for v in table[name].to_pylist()], pa.string())
            at = table.schema.get_field_index(name)
            table = table.set_column(at, table.schema.field(name).with_type(pa.string()), values)
    return table


def headed(table: pa.Table) -> pa.Table:
    """Columns named in words, arms and visits in words; values and types unchanged."""
    table = _words(table)
    return table.rename_columns([column(n) for n in table.column_names])


def _number(value: Any, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _joined(table: pa.Table, name: str, at: int, cells: list[str]) -> pa.Table:
    field = pa.field(name, pa.string(), metadata=MEASURE_META)
    return table.add_column(at, field, pa.array(cells, pa.string()))


def _interval(table: pa.Table, estimate: str, label: str, digits: int) -> pa.Table:
    rows = table.select([estimate, "ci_low", "ci_high"]).to_pylist()
    cells = [
        _number(r[estimate], digits)
        + (
            ""
            if r["ci_low"] is None or r["ci_high"] is None
            else f" ({_number(r['ci_low'], digits)} to {_number(r['ci_high'], digits)})"
        )
        for r in rows
    ]
    at = table.schema.get_field_index(estimate)
    table = table.drop_columns([estimate, "ci_low", "ci_high"])
    return _joined(table, label, at, cells)


def _n_pct(table: pa.Table) -> pa.Table:
    rows = table.select(["patients", "pct"]).to_pylist()
    cells = [
        "—"
        if r["patients"] is None
        else f"{r['patients']}" + ("" if r["pct"] is None else f" ({r['pct']:.1f})")
        for r in rows
    ]
    at = table.schema.get_field_index("patients")
    table = table.drop_columns(["patients", "pct"])
    return _joined(table, "n (%)", at, cells)


def for_people(table: pa.Table) -> pa.Table:
    """A report table: estimates with their 95% CI, n (%) of N exposed, words for names."""
    names = set(table.column_names)
    if {"ci_low", "ci_high"} <= names:
        if "rate_ratio" in names:
            table = _interval(table, "rate_ratio", "rate ratio (95% CI)", 2)
        elif "mean" in names:
            table = _interval(table, "mean", "mean (95% CI)", 2)
        elif "annualised_rate" in names:
            table = _interval(table, "annualised_rate", "annualised relapse rate (95% CI)", 3)
    if {"patients", "pct", "n_exposed"} <= names:
        table = _n_pct(table)
    if "p_value" in table.column_names:
        p = table["p_value"].to_pylist()
        cells = [None if v is None else ("<0.001" if v < 0.001 else f"{v:.3f}") for v in p]
        at = table.schema.get_field_index("p_value")
        table = table.set_column(
            at,
            pa.field("p_value", pa.string(), metadata=MEASURE_META),
            pa.array(cells, pa.string()),
        )
    return headed(table)
