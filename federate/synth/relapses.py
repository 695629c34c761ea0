"""Relapses: new or worsening symptoms for 24 h or more, 30 days or more after the previous
one (DOMAIN.md §2). An annualised rate of ~0.4 (lower in progressive MS, patient frailty),
onsets between W0 and the last visit; some reported later, known only to the month or year."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from federate.synth import partial
from federate.synth.base import DAY, PATIENT, Cohort, Schedule, pick, rank_within

RATE = 0.5  # relapses per patient-year in RRMS
COURSE_RATE = np.array([1.0, 0.5, 0.2])  # RRMS, SPMS, PPMS
MIN_GAP_DAYS = 30
STEROIDS_BY_SEVERITY = {"MILD": 0.3, "MODERATE": 0.75, "SEVERE": 0.95}


@dataclass(frozen=True)
class Relapses:
    """What other tables follow from: unscheduled EDSS, steroid courses."""

    patient: np.ndarray
    onset: np.ndarray  # the true onset day
    precision: np.ndarray  # how well the onset is known
    steroids: np.ndarray
    table: pa.Table


def simulate(cohort: Cohort, schedule: Schedule, rng: np.random.Generator) -> Relapses:
    n = cohort.n
    followup = (schedule.last - cohort.w0) // DAY
    rate = RATE * rng.gamma(2.0, 0.5, n) * COURSE_RATE[cohort.course]
    count = rng.poisson(rate * followup / 365.25)
    patient = np.repeat(np.arange(n), count)
    onset = (
        cohort.w0[patient]
        + (1 + rng.random(len(patient)) * followup[patient]).astype(np.int64) * DAY
    )
    order = np.lexsort((onset, patient))
    patient, onset = patient[order], onset[order]
    # The 30-day rule: a worsening sooner after the previous onset is the same relapse.
    gap = np.diff(onset, prepend=onset[:1]) // DAY if len(onset) else np.zeros(0, np.int64)
    keep = (rank_within(patient) == 0) | (gap >= MIN_GAP_DAYS)
    patient, onset = patient[keep], onset[keep]
    m = len(patient)

    precision = partial.precisions(rng, m, month=0.1, year=0.04)
    # Two onsets known to the same month (or year) would share a key: the later one is
    # known to the day.
    lower = partial.lower_bound(onset, precision).astype(np.int64)
    level = np.searchsorted(partial.PRECISIONS, precision)  # day < month < year
    _, first_rows = np.unique(np.stack([patient, lower, level]), axis=1, return_index=True)
    first = np.zeros(m, bool)
    first[first_rows] = True
    precision = np.where(first, precision, "day").astype(object)

    duration = (10 + rng.gamma(2.0, 14.0, m)).astype(np.int64)
    end = onset + duration * DAY
    end_precision = np.where(
        precision == "day", np.where(rng.random(m) < 0.05, "month", "day"), "month"
    ).astype(object)
    no_end = (rng.random(m) < 0.12) | (precision == "year")
    severity = pick(rng, ("MILD", "MODERATE", "SEVERE"), [0.35, 0.5, 0.15], m)
    recovery = pick(rng, ("COMPLETE", "PARTIAL", "NONE"), [0.57, 0.36, 0.07], m)
    steroid_p = np.select(
        [severity == s for s in STEROIDS_BY_SEVERITY], list(STEROIDS_BY_SEVERITY.values())
    )
    steroids = rng.random(m) < steroid_p
    table = pa.table(
        {
            PATIENT: patient,
            **partial.columns("onset_date", onset, precision),
            **partial.columns("end_date", end, end_precision, missing=no_end),
            "severity": pa.array(severity, pa.string()),
            "recovery": pa.array(recovery, pa.string(), mask=rng.random(m) < 0.03),
            "steroids": steroids,
        }
    )
    return Relapses(patient, onset, precision, steroids, table)
