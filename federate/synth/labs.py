"""Safety laboratory (DOMAIN.md §2): seven analytes at SCR, W0, W4, W12, W24 and W48, each
drawn in SI units around a patient's own level, then reported in the unit the centre's lab uses
(Italian creatinine in mg/dL, Danish haemoglobin in mmol/L, Swedish ALT in µkat/L...), to the
decimals that lab prints, written in the site's notation. The truth keeps the value and unit as
written and as reported; the schema derives the harmonised value."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from federate.synth.base import (
    PATIENT,
    PROTOCOL,
    SCR,
    W0,
    W4,
    W12,
    W24,
    W48,
    Cohort,
    Schedule,
    date32,
    visit_rows,
)
from federate.synth.codes import LAB_ANALYTES
from federate.synth.practice import Practice
from federate.synth.windows import assessment_dates

VISITS = (SCR, W0, W4, W12, W24, W48)
ANALYTES = ("CREAT", "HGB", "GLUC", "ALT", "AST", "LYMPH", "BILI")
# Level in the pinned unit: (median in women, in men, log-sd between patients, log-sd between a
# patient's samples): lognormal, so values stay positive and skew like ALT and bilirubin do.
LEVELS = {
    "CREAT": (65.0, 80.0, 0.14, 0.06),
    "HGB": (133.0, 148.0, 0.07, 0.03),
    "GLUC": (5.0, 5.1, 0.08, 0.08),
    "ALT": (17.0, 25.0, 0.35, 0.2),
    "AST": (19.0, 23.0, 0.25, 0.15),
    "LYMPH": (1.9, 1.8, 0.3, 0.12),
    "BILI": (8.0, 10.0, 0.4, 0.2),
}
# Decimals a lab prints, by reported unit (and, where the unit is shared, by analyte).
PLACES = {
    "umol/L": 0,
    "mg/dL": 2,
    "g/L": 0,
    "g/dL": 1,
    "mmol/L": 1,
    "U/L": 0,
    "ukat/L": 2,
    "10^9/L": 2,
    "10^3/uL": 2,
    "/mm3": -1,  # counts per mm³ to the ten
}
PLACES_BY_ANALYTE = {("GLUC", "mg/dL"): 0}  # glucose in whole mg/dL


def _places(analyte: str, unit: str) -> int:
    return PLACES_BY_ANALYTE.get((analyte, unit), PLACES[unit])


def number_text(values: np.ndarray, places: np.ndarray, decimal: str, group: str) -> np.ndarray:
    """Values as a lab prints them: fixed decimals, the site's decimal mark, thousands grouped."""
    text = np.empty(len(values), dtype="U32")
    for p in np.unique(places).tolist():
        at = places == p
        text[at] = np.char.mod(f"%.{max(p, 0)}f", values[at])
    whole, _, fraction = np.char.partition(text, ".").T
    if group:
        big = values >= 1000
        n = values.astype(np.int64)
        grouped = np.char.add(
            np.char.add(np.char.mod("%d", n // 1000), group), np.char.mod("%03d", n % 1000)
        )
        whole = np.where(big, grouped, whole)
    joined = np.char.add(np.char.add(whole, np.where(fraction == "", "", decimal)), fraction)
    result: np.ndarray = joined.astype(object)
    return result


def _by_centre(practice: Practice, centres: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reported unit, its spelling, decimals) for each analyte (rows) and centre (columns)."""
    unit = np.array(
        [[practice.by_centre(practice.lab_units[a], c) for c in range(centres)] for a in ANALYTES],
        dtype=object,
    )
    spelling = np.array(
        [[practice.by_centre(practice.spellings[u], c) for c, u in enumerate(row)] for row in unit],
        dtype=object,
    )
    places = np.array([[_places(a, u) for u in row] for a, row in zip(ANALYTES, unit, strict=True)])
    return unit, spelling, places


def simulate(
    cohort: Cohort, schedule: Schedule, practice: Practice, rng: np.random.Generator
) -> pa.Table:
    visit_patient, visit = visit_rows(schedule.held, VISITS)
    drawn = assessment_dates(
        cohort.w0[visit_patient], schedule.dates[visit_patient, visit], visit, rng, moved=0.0
    )
    k = len(ANALYTES)
    done = rng.random(len(visit) * k) >= 0.02  # a tube lost now and then
    patient = np.repeat(visit_patient, k)[done]
    visit = np.repeat(visit, k)[done]
    when = np.repeat(drawn, k)[done]
    analyte = np.tile(np.arange(k), len(visit_patient))[done]
    m = len(patient)

    level = np.array([LEVELS[a] for a in ANALYTES])  # (k, 4)
    mean = np.where(cohort.sex[:, None] == "F", level[:, 0], level[:, 1])
    own = mean * np.exp(rng.normal(0, 1, (cohort.n, k)) * level[:, 2])
    si = own[patient, analyte] * np.exp(rng.normal(0, 1, m) * level[analyte, 3])

    centres = int(cohort.centre.max()) + 1
    units, spellings, decimals = _by_centre(practice, centres)
    at = (analyte, cohort.centre[patient])
    unit, places = units[at], decimals[at]
    factor = np.array(
        [[LAB_ANALYTES[a].factors[u] for u in row] for a, row in zip(ANALYTES, units, strict=True)]
    )[at]
    reported = si / factor
    for p in np.unique(places).tolist():  # rounded to what is printed: reads back exactly
        reported[places == p] = np.round(reported[places == p], p)
    return pa.table(
        {
            PATIENT: patient,
            "visit_code": pa.array(np.array(PROTOCOL, dtype=object)[visit], pa.string()),
            "assessment_date": date32(when),
            "analyte": pa.array(np.array(ANALYTES, dtype=object)[analyte], pa.string()),
            "value_raw": pa.array(
                number_text(reported, places, practice.decimal, practice.group), pa.string()
            ),
            "unit_raw": pa.array(spellings[at], pa.string()),
            "value_reported": reported,
            "unit_reported": pa.array(unit, pa.string()),
        }
    )
