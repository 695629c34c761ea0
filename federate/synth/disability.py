"""Disability: EDSS (with functional systems and ambulation) and MSFC at SCR, W0, W12, W24,
W36 and W48, from one latent course per patient (DOMAIN.md §1-2).

The latent EDSS starts where the national criteria allowed (2.5-6.5; Italy 3.0-6.5) and drifts
slowly (faster in progressive MS); each rating adds rater noise and lands on a valid score (0.5
is not one). Half the day-precision relapses get an unscheduled EDSS a few days after onset,
kept only outside every visit window so the engine assigns it UNS. MSFC times lengthen with
disability; PASAT-3 has a small practice effect.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from federate.synth.base import (
    DAY,
    PATIENT,
    PROTOCOL,
    SCR,
    UNSCHEDULED,
    W0,
    W12,
    W24,
    W36,
    W48,
    Cohort,
    Schedule,
    date32,
    rank_within,
    visit_rows,
)
from federate.synth.practice import Practice
from federate.synth.relapses import Relapses
from federate.synth.windows import assessment_dates, outside_windows

VISITS = (SCR, W0, W12, W24, W36, W48)
SLOPE = np.array([0.05, 0.3, 0.35])  # EDSS points per year: RRMS, SPMS, PPMS
CODES = np.array([*PROTOCOL, UNSCHEDULED], dtype=object)  # visit index -1 is UNS
# Functional systems: (column, top grade, EDSS weight, offset), grades rising with EDSS.
FS = (
    ("fs_pyramidal", 6, 0.6, -0.4),
    ("fs_cerebellar", 5, 0.4, -0.5),
    ("fs_brainstem", 5, 0.25, -0.4),
    ("fs_sensory", 6, 0.4, -0.3),
    ("fs_bowel_bladder", 6, 0.35, -0.6),
    ("fs_visual", 6, 0.2, -0.2),
    ("fs_cerebral", 5, 0.25, -0.3),
)
# Neurostatus ambulation score by EDSS (0 while walking is unrestricted).
AMBULATION = (
    (3.5, 4.0, 4.5, 5.0, 5.5, 6.0, 6.5, 7.0, 7.5, 8.0, 8.5, 9.0, 9.5),
    (0, 1, 2, 3, 4, 6, 8, 10, 11, 12, 14, 15, 16),
)


@dataclass(frozen=True)
class Course:
    """Each patient's latent EDSS: ``baseline`` at W0, ``slope`` per year."""

    w0: np.ndarray
    baseline: np.ndarray
    slope: np.ndarray

    def at(self, patient: np.ndarray, when: np.ndarray) -> np.ndarray:
        years = (when - self.w0[patient]) / DAY / 365.25
        level: np.ndarray = self.baseline[patient] + self.slope[patient] * years
        return level


def course(cohort: Cohort, practice: Practice, rng: np.random.Generator) -> Course:
    lo, hi = practice.edss_range
    baseline = lo + (hi - lo) * rng.beta(1.8, 2.2, cohort.n)
    slope = rng.normal(SLOPE[cohort.course], 0.25)
    return Course(cohort.w0, baseline, slope)


def valid_edss(x: np.ndarray) -> np.ndarray:
    """The nearest valid score from 1.0 (a patient in the trial is never 0 nor 0.5)."""
    result: np.ndarray = np.clip(np.round(x * 2) / 2, 1.0, 9.5)
    return result


def _rows(
    cohort: Cohort, schedule: Schedule, rng: np.random.Generator, not_done: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    patient, visit = visit_rows(schedule.held, VISITS)
    done = rng.random(len(patient)) >= not_done
    patient, visit = patient[done], visit[done]
    when = assessment_dates(cohort.w0[patient], schedule.dates[patient, visit], visit, rng)
    return patient, visit, when


def edss(
    cohort: Cohort,
    schedule: Schedule,
    practice: Practice,
    latent: Course,
    relapses: Relapses,
    rng: np.random.Generator,
) -> pa.Table:
    patient, visit, when = _rows(cohort, schedule, rng, not_done=0.02)
    score = latent.at(patient, when) + rng.normal(0, 0.3, len(patient))
    # Eligibility was judged on the screening EDSS.
    lo, hi = practice.edss_range
    score = np.where(visit == SCR, np.clip(score, lo, hi), score)

    # Unscheduled ratings at relapse: worse than the latent course, outside every window.
    known = (relapses.precision == "day") & (rng.random(len(relapses.patient)) < 0.5)
    r_patient = relapses.patient[known]
    r_when = relapses.onset[known] + rng.integers(2, 11, len(r_patient)) * DAY
    ok = outside_windows((r_when - cohort.w0[r_patient]) // DAY) & (
        r_when <= schedule.last[r_patient]
    )
    r_patient, r_when = r_patient[ok], r_when[ok]
    r_score = latent.at(r_patient, r_when) + rng.uniform(0.5, 1.5, len(r_patient))

    patient = np.concatenate([patient, r_patient])
    visit = np.concatenate([visit, np.full(len(r_patient), -1)])
    when = np.concatenate([when, r_when])
    score = valid_edss(np.concatenate([score, r_score]))
    order = np.lexsort((when, patient))
    patient, visit, when, score = patient[order], visit[order], when[order], score[order]
    m = len(patient)

    offsets = rng.normal(0, 0.5, (cohort.n, len(FS)))
    systems = {
        name: np.clip(
            np.round(weight * score + shift + offsets[patient, i] + rng.normal(0, 0.35, m)),
            0,
            top,
        ).astype(np.int64)
        for i, (name, top, weight, shift) in enumerate(FS)
    }
    steps = np.where(score >= 4.5, rng.integers(-1, 2, m), 0)
    ambulation = np.clip(np.interp(score, *AMBULATION, left=0) + steps, 0, 16).astype(np.int64)
    return pa.table(
        {
            PATIENT: patient,
            "visit_code": pa.array(CODES[visit], pa.string()),
            "assessment_date": date32(when),
            "edss": score,
            **systems,
            "ambulation_score": pa.array(ambulation, pa.int64(), mask=rng.random(m) < 0.04),
            "rater_blinded": rng.random(m) < 0.94,
        }
    )


def _trials(
    mean: np.ndarray, cap: float, rng: np.random.Generator, missing: np.ndarray
) -> tuple[pa.Array, pa.Array]:
    """Two timed trials around ``mean`` seconds, to 0.1 s, capped as the protocol caps them."""
    trial = [np.round(np.clip(mean * np.exp(rng.normal(0, 0.06, len(mean))), 1, cap), 1)]
    trial.append(np.round(np.clip(mean * np.exp(rng.normal(0, 0.06, len(mean))), 1, cap), 1))
    first, second = (pa.array(t, pa.float64(), mask=missing) for t in trial)
    return first, second


def msfc(cohort: Cohort, schedule: Schedule, latent: Course, rng: np.random.Generator) -> pa.Table:
    patient, visit, when = _rows(cohort, schedule, rng, not_done=0.04)
    m = len(patient)
    level = latent.at(patient, when)
    walk = 4.5 * np.exp(0.25 * (level - 2.5) + rng.normal(0, 0.15, cohort.n)[patient])
    hand = 19.0 * np.exp(0.09 * (level - 2.5) + rng.normal(0, 0.12, cohort.n)[patient])
    pasat = (
        rng.normal(46, 8, cohort.n)[patient]
        - 1.2 * (level - 2.5)
        + 0.8 * np.minimum(rank_within(patient), 4)  # practice effect
        + rng.normal(0, 3, m)
    )
    t25 = _trials(walk, 180.0, rng, rng.random(m) < 0.03)
    dominant = _trials(hand, 300.0, rng, rng.random(m) < 0.02)
    other = _trials(hand * 1.07, 300.0, rng, rng.random(m) < 0.02)
    return pa.table(
        {
            PATIENT: patient,
            "visit_code": pa.array(CODES[visit], pa.string()),
            "assessment_date": date32(when),
            "t25fw_trial1_s": t25[0],
            "t25fw_trial2_s": t25[1],
            "nhpt_dominant_trial1_s": dominant[0],
            "nhpt_dominant_trial2_s": dominant[1],
            "nhpt_nondominant_trial1_s": other[0],
            "nhpt_nondominant_trial2_s": other[1],
            "pasat3": pa.array(
                np.clip(np.round(pasat), 0, 60).astype(np.int64),
                pa.int64(),
                mask=rng.random(m) < 0.04,
            ),
        }
    )
