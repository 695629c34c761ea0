"""Adverse events (DOMAIN.md §2): several per patient, verbatims in the site's language coded to
MedDRA with the site's dictionary version. Three sources: the bone-marrow harvest (every patient
is harvested, whatever the arm), the infusions, and background events over follow-up. Serious
in a small share, always with a criterion; CTCAE grade mostly 1-2 (severe is not serious);
events reported late are known only to the month or year."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from federate.synth import partial
from federate.synth.base import DAY, PATIENT, W0, W24, Cohort, Schedule, pick, rank_within
from federate.synth.catalogues import TERMS, pick_names
from federate.synth.practice import Practice

RELATEDNESS = ("NOT", "UNLIKELY", "POSSIBLE", "PROBABLE", "DEFINITE")
# Relatedness to (product, harvest) by the source of the event.
RELATED = {
    "background": ([0.55, 0.3, 0.12, 0.03, 0.0], [0.9, 0.08, 0.02, 0.0, 0.0]),
    "harvest": ([0.8, 0.2, 0.0, 0.0, 0.0], [0.0, 0.0, 0.1, 0.3, 0.6]),
    "infusion": ([0.0, 0.0, 0.4, 0.45, 0.15], [0.85, 0.15, 0.0, 0.0, 0.0]),
}
OUTCOMES = ("RECOVERED", "RECOVERING", "NOT_RECOVERED", "RECOVERED_WITH_SEQUELAE", "UNKNOWN")
CRITERIA = {  # seriousness criterion -> chance among serious events (no deaths simulated)
    "sae_death": 0.0,
    "sae_life_threatening": 0.04,
    "sae_hospitalisation": 0.85,
    "sae_disability": 0.04,
    "sae_congenital_anomaly": 0.0,
    "sae_other_important": 0.25,
}
BACKGROUND_RATE = 3.2  # events per patient-year


def _of_kind(kind: str, rng: np.random.Generator, n: int) -> np.ndarray:
    """Indices into TERMS of n events of one kind, by weight."""
    index = np.array([i for i, t in enumerate(TERMS) if t.kind == kind])
    weights = np.array([TERMS[i].weight for i in index])
    result: np.ndarray = index[rng.choice(len(index), n, p=weights / weights.sum())]
    return result


def _events(
    cohort: Cohort, schedule: Schedule, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(patient, onset, term) of every event, unordered."""
    n = cohort.n
    # Harvest 2-5 weeks before W0, after screening: pain or bruising in about a third.
    scr = schedule.dates[:, 0]
    earliest, latest = scr + 3 * DAY, cohort.w0 - 14 * DAY
    harvest = earliest + (rng.random(n) * ((latest - earliest) // DAY + 1)).astype(np.int64) * DAY
    h_patient = np.flatnonzero(rng.random(n) < 0.35)
    h_onset = harvest[h_patient] + rng.integers(0, 2, len(h_patient)) * DAY
    # Infusion reactions on the day of either infusion (or the next).
    given = np.concatenate([np.arange(n), np.flatnonzero(schedule.held[:, W24])])
    day = np.concatenate([schedule.dates[:, W0], schedule.dates[given[n:], W24]])
    reacted = rng.random(len(given)) < 0.12
    i_patient = given[reacted]
    i_onset = day[reacted] + rng.integers(0, 2, len(i_patient)) * DAY
    # Background events from shortly before W0 to four weeks after the last visit.
    start = cohort.w0 - 20 * DAY
    span = (schedule.last + 28 * DAY - start) // DAY
    count = rng.poisson(BACKGROUND_RATE * span / 365.25 * rng.gamma(3.0, 1 / 3.0, n))
    b_patient = np.repeat(np.arange(n), count)
    b_onset = (
        start[b_patient] + (rng.random(len(b_patient)) * span[b_patient]).astype(np.int64) * DAY
    )
    patient = np.concatenate([h_patient, i_patient, b_patient])
    onset = np.concatenate([h_onset, i_onset, b_onset])
    term = np.concatenate(
        [
            _of_kind("harvest", rng, len(h_patient)),
            _of_kind("infusion", rng, len(i_patient)),
            _of_kind("background", rng, len(b_patient)),
        ]
    )
    return patient, onset, term


def _related(kind: np.ndarray, which: int, rng: np.random.Generator) -> np.ndarray:
    """Relatedness to the product (which=0) or the harvest (1), by the source of each event."""
    related = np.empty(len(kind), dtype=object)
    for source, chances in RELATED.items():
        at = kind == source
        related[at] = pick(rng, RELATEDNESS, chances[which], int(at.sum()))
    return related


def simulate(
    cohort: Cohort, schedule: Schedule, practice: Practice, rng: np.random.Generator
) -> pa.Table:
    patient, onset, term = _events(cohort, schedule, rng)
    order = np.lexsort((term, onset, patient))
    patient, onset, term = patient[order], onset[order], term[order]
    m = len(patient)
    kind = np.array([t.kind for t in TERMS], dtype=object)[term]
    background = kind == "background"

    serious = rng.random(m) < np.array([t.serious for t in TERMS])[term]
    grade = np.where(
        serious,
        rng.choice([2, 3, 4], m, p=[0.25, 0.55, 0.2]),
        rng.choice([1, 2, 3, 4], m, p=[0.62, 0.3, 0.07, 0.01]),
    )
    criteria = {c: serious & (rng.random(m) < p) for c, p in CRITERIA.items()}
    none = serious & ~np.any(list(criteria.values()), axis=0)
    criteria["sae_hospitalisation"] |= none  # a serious event meets at least one criterion
    outcome = pick(rng, OUTCOMES, [0.8, 0.06, 0.06, 0.03, 0.05], m)
    ended = np.isin(outcome, ["RECOVERED", "RECOVERED_WITH_SEQUELAE"]) & (rng.random(m) >= 0.05)

    precision = np.where(
        background, partial.precisions(rng, m, month=0.08, year=0.02), "day"
    ).astype(object)
    lasted = np.where(
        background,
        np.exp(rng.normal(np.log(5), 0.9, m)).clip(0, 120),
        rng.integers(0, 6, m),
    )
    end = onset + lasted.astype(np.int64) * DAY
    end_precision = np.where(precision == "day", "day", "month").astype(object)
    ended &= precision != "year"

    product, harvest = (_related(kind, which, rng) for which in (0, 1))
    pt = np.array([t.pt for t in TERMS], dtype=object)[term]
    soc = np.array([t.soc for t in TERMS], dtype=object)[term]
    uncoded = rng.random(m) < 0.02  # not yet coded when exported
    return pa.table(
        {
            PATIENT: patient,
            "ae_number": rank_within(patient) + 1,
            "verbatim_term": pa.array(
                pick_names([t.pt for t in TERMS], practice.language, term, rng.random(m)),
                pa.string(),
            ),
            "meddra_pt_code": pa.array(pt, pa.string(), mask=uncoded),
            "meddra_soc_code": pa.array(soc, pa.string(), mask=uncoded),
            "meddra_version": pa.array(
                np.full(m, practice.meddra_version, dtype=object), pa.string(), mask=uncoded
            ),
            **partial.columns("onset_date", onset, precision),
            **partial.columns("end_date", end, end_precision, missing=~ended),
            "serious": serious,
            **{c: pa.array(flag, pa.bool_(), mask=~serious) for c, flag in criteria.items()},
            "ctcae_grade": grade.astype(np.int64),
            "relatedness_product": pa.array(product, pa.string()),
            "relatedness_harvest": pa.array(harvest, pa.string(), mask=rng.random(m) < 0.03),
            "outcome": pa.array(outcome, pa.string()),
        }
    )
