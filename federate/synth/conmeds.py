"""Concomitant medication (DOMAIN.md §2): earlier MS treatments stopped before screening,
long-term drugs started years before the trial (some in the 1990s, often remembered only to the
month or year, mostly ongoing), short courses during it, and the methylprednisolone of treated
relapses. Each centre codes with its ATC index year, so old exports keep the codes WHO has since
moved (dimethyl fumarate in 2019, the MS immunosuppressants in 2024)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from federate.synth import partial
from federate.synth.base import DAY, PATIENT, Cohort, Schedule
from federate.synth.catalogues import DRUGS, pick_names
from federate.synth.codes import ATC_CROSSWALK
from federate.synth.practice import Practice
from federate.synth.relapses import Relapses

YEAR = 365.25
EARLIEST = np.datetime64("1988-01-01")
# Year WHO moved an old code; the others moved in 2024.
MOVED_IN = {"N07XX09": 2019}

Rows = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]
# (patient, drug index, start, start precision, end, end missing)


def _kind(kind: str) -> np.ndarray:
    return np.array([i for i, d in enumerate(DRUGS) if d.kind == kind])


def _uniform(rng: np.random.Generator, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    result: np.ndarray = lo + (rng.random(len(lo)) * ((hi - lo) // DAY + 1)).astype(np.int64) * DAY
    return result


def _earlier_treatments(cohort: Cohort, scr: np.ndarray, rng: np.random.Generator) -> Rows:
    drugs = _kind("dmt")
    share = np.array([DRUGS[i].share for i in drugs])
    relapsing = np.where(cohort.course == 0, 1.0, 0.5)
    patient, which = np.nonzero(rng.random((cohort.n, len(drugs))) < share * relapsing[:, None])
    drug = drugs[which]
    market = np.array([f"{d.since}-01-01" for d in DRUGS], dtype="datetime64[D]")
    lo = np.maximum(cohort.diagnosis[patient], market[drug])
    hi = scr[patient] - 120 * DAY  # stopped for the washout before screening
    ok = hi > lo
    patient, drug, lo, hi = patient[ok], drug[ok], lo[ok], hi[ok]
    start = _uniform(rng, lo, hi)
    taken = (rng.uniform(0.5, 4, len(start)) * YEAR).astype(np.int64) * DAY
    end = np.minimum(start + taken, scr[patient] - 60 * DAY)
    precision = partial.precisions(rng, len(start), month=0.35, year=0.15)
    return patient, drug, start, precision, end, np.zeros(len(start), bool)


def _long_term(
    cohort: Cohort, schedule: Schedule, birth: np.ndarray, rng: np.random.Generator
) -> Rows:
    scr = schedule.dates[:, 0]
    drugs = _kind("chronic")
    share = np.array([DRUGS[i].share for i in drugs])
    patient, which = np.nonzero(rng.random((cohort.n, len(drugs))) < share)
    drug = drugs[which]
    years = np.minimum(0.2 + rng.exponential(4.5, len(drug)), 28)
    start = scr[patient] - (years * YEAR).astype(np.int64) * DAY
    teen = (birth[patient].astype("datetime64[Y]") + 14).astype("datetime64[D]")
    start = np.maximum(start, np.maximum(teen, EARLIEST))
    long_ago = years > 3
    precision = np.where(
        long_ago,
        partial.precisions(rng, len(drug), month=0.4, year=0.25),
        partial.precisions(rng, len(drug), month=0.15, year=0.05),
    ).astype(object)
    end = _uniform(rng, cohort.w0[patient], schedule.last[patient])
    return patient, drug, start, precision, end, rng.random(len(drug)) < 0.8  # mostly ongoing


def _courses(cohort: Cohort, schedule: Schedule, rng: np.random.Generator) -> Rows:
    scr = schedule.dates[:, 0]
    drugs = _kind("acute")
    years = (schedule.last - scr) / DAY / YEAR
    rate = np.array([DRUGS[i].share for i in drugs])
    counts = rng.poisson(years[:, None] * rate[None, :])
    patient = np.repeat(np.repeat(np.arange(cohort.n), len(drugs)), counts.ravel())
    drug = np.repeat(np.tile(drugs, cohort.n), counts.ravel())
    start = _uniform(rng, scr[patient], schedule.last[patient])
    end = start + rng.integers(0, 10, len(drug)) * DAY
    precision = partial.precisions(rng, len(drug), month=0.04, year=0.0)
    return patient, drug, start, precision, end, rng.random(len(drug)) < 0.05


def _steroids(relapses: Relapses, rng: np.random.Generator) -> Rows:
    patient = relapses.patient[relapses.steroids]
    start = relapses.onset[relapses.steroids] + rng.integers(0, 6, len(patient)) * DAY
    end = start + rng.integers(2, 5, len(patient)) * DAY  # a 3-5 day IV course
    drug = np.full(len(patient), _kind("relapse")[0])
    day = np.full(len(patient), "day", dtype=object)
    return patient, drug, start, day, end, np.zeros(len(patient), bool)


def exported_codes(drug: np.ndarray, version: np.ndarray) -> np.ndarray:
    """The ATC code as a centre coding with index year ``version`` wrote it."""
    old_of = {new: old for old, new in ATC_CROSSWALK.items()}
    current = np.array([d.atc for d in DRUGS], dtype=object)
    old = np.array([old_of.get(d.atc, d.atc) for d in DRUGS], dtype=object)
    moved = np.array([MOVED_IN.get(old_of.get(d.atc, ""), 2024) for d in DRUGS])
    codes: np.ndarray = np.where(version < moved[drug], old[drug], current[drug])
    return codes


def simulate(
    cohort: Cohort,
    schedule: Schedule,
    practice: Practice,
    relapses: Relapses,
    birth: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    parts = [
        _earlier_treatments(cohort, schedule.dates[:, 0], rng),
        _long_term(cohort, schedule, birth, rng),
        _courses(cohort, schedule, rng),
        _steroids(relapses, rng),
    ]
    patient, drug, start, precision, end, ongoing = (
        np.concatenate(c) for c in zip(*parts, strict=True)
    )
    order = np.lexsort((drug, start, patient))
    patient, drug, start, precision, end, ongoing = (
        a[order] for a in (patient, drug, start, precision, end, ongoing)
    )
    verbatim = pick_names([d.atc for d in DRUGS], practice.language, drug, rng.random(len(drug)))
    # One row per (patient, verbatim, start as written): a repeat is the same course.
    lower = partial.lower_bound(start, precision).astype(np.int64)
    level = np.searchsorted(partial.PRECISIONS, precision)
    names = np.unique(verbatim, return_inverse=True)[1]
    _, first = np.unique(np.stack([patient, names, lower, level]), axis=1, return_index=True)
    keep = np.sort(first)
    patient, drug, start, precision, end, ongoing, verbatim = (
        a[keep] for a in (patient, drug, start, precision, end, ongoing, verbatim)
    )
    m = len(patient)

    versions = np.array(practice.atc_versions, dtype=object)
    version = versions[cohort.centre[patient] % len(versions)]
    codes = exported_codes(drug, version.astype(np.int64))
    uncoded = rng.random(m) < 0.03
    vaguer = (precision != "day") & (rng.random(m) < 0.5)  # an old course, vaguely recalled
    end_precision = np.where(vaguer, "month", "day").astype(object)
    return pa.table(
        {
            PATIENT: patient,
            "medication_verbatim": pa.array(verbatim, pa.string()),
            "atc_code": pa.array(codes, pa.string(), mask=uncoded),
            "atc_version": pa.array(version, pa.string(), mask=uncoded),
            **partial.columns("start_date", start, precision),
            **partial.columns("end_date", end, end_precision, missing=ongoing),
        }
    )
