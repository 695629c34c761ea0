"""Simulate one national MESEMS trial, column by column (numpy; no loop over visits or scans).

The result is the truth in shared units: one Arrow table per shared table holding its own
columns plus ``PATIENT`` (row index into ``People``), and ``People``, the private facts a site's
export carries but the pooled data never may (full date of birth, the draws that pick names).
Site, pseudonym and provenance are added by ``federate.synth.truth``.

Model (DOMAIN.md §1, §6): randomised 2012-2019 in permuted blocks of 4; ~73% women; age 18-50;
disease duration 2-15 y (site maximum); visits in their windows, a few dropouts, single missed
visits and rare unscheduled (UNS) visits; one MRI per protocol visit. GEL counts are
zero-inflated negative binomial (patient frailty, structural zeros), ~60% zeros, with a
negligible treatment effect (rate ratio 0.94 while on MSC), as MESEMS found. EDSS, MSFC,
relapses, adverse events, medication and labs: see their modules.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pyarrow as pa

from federate.synth import adverse, conmeds, disability, labs, relapses
from federate.synth.base import (
    DAY,
    PATIENT,
    PROTOCOL,
    UNSCHEDULED,
    W0,
    W4,
    W12,
    W24,
    W28,
    W36,
    W48,
    WEEKS,
    Cohort,
    People,
    Schedule,
    SiteTrial,
    date32,
    days,
    years_of,
)
from federate.synth.practice import practice
from federate.synth.sites import SITES, SiteSpec, Stream, centre_counts, spec, stream

FEMALE_SHARE = 0.73
COURSES = np.array(["RRMS", "SPMS", "PPMS"])
COURSE_P = [0.62, 0.27, 0.11]
COURSE_ACTIVITY = np.array([1.0, 0.55, 0.3])  # progressive MS enhances less
MSC_RATE_RATIO = 0.94
_MISSABLE = [W4, W12, W28, W36]  # never the infusion visits nor the last one


def _local_ids(site: SiteSpec, centre: np.ndarray) -> np.ndarray:
    seq = np.zeros(len(centre), dtype=np.int64)
    for c in range(len(site.centres)):  # enrolment number within each centre
        here = centre == c
        seq[here] = np.arange(1, here.sum() + 1)
    ids = [
        site.id_format.format(c=c + 1, s=s, code=site.centres[c].code[3:])
        for c, s in zip(centre.tolist(), seq.tolist(), strict=True)
    ]
    return np.array(ids, dtype=object)


def _patients(site: SiteSpec, n: int, rng: np.random.Generator) -> tuple[Cohort, People, pa.Table]:
    start, end = (np.datetime64(d, "D") for d in site.recruitment)
    randomised = np.sort(start + rng.integers(0, (end - start) // DAY + 1, n) * DAY)
    centre = rng.permutation(
        np.repeat(np.arange(len(site.centres)), centre_counts(n, site.centres))
    )
    sex = np.where(rng.random(n) < FEMALE_SHARE, "F", "M").astype(object)

    # Age 18-50 at randomisation, both exactly and as calendar years (randomisation year minus
    # birth year), and born by 2000 (the schema's plausible range).
    age = 18 + 32 * rng.beta(2.2, 1.6, n)
    birth = randomised - days(age * 365.25)
    oldest = (randomised.astype("datetime64[Y]") - 50).astype("datetime64[D]")
    youngest = np.minimum(randomised - 6576 * DAY, np.datetime64("2000-12-31"))
    birth = np.clip(birth, oldest, youngest)

    course = rng.choice(len(COURSES), n, p=COURSE_P) if site.progressive else np.zeros(n, np.int64)
    # Disease duration 2 to the site maximum (years), diagnosed at 16 or later.
    age_years = (randomised - birth) / DAY / 365.25
    duration = 2 + (site.max_duration_years - 2) * rng.beta(1.3, 2.2, n)
    duration = np.clip(np.minimum(duration, age_years - 16), 2.01, site.max_duration_years - 0.01)
    diagnosis = randomised - days(duration * 365.25)

    starts = np.array([np.datetime64(d, "D") for d, _ in site.eligibility])
    versions = np.array([v for _, v in site.eligibility], dtype=object)
    eligibility = versions[np.searchsorted(starts, randomised, side="right") - 1]

    blocks = -(-n // 4)
    sequence = rng.permuted(np.tile([0, 0, 1, 1], (blocks, 1)), axis=1).ravel()[:n]
    w0 = randomised + rng.integers(0, 11, n) * DAY
    weight = np.where(sex == "F", rng.normal(67, 12, n), rng.normal(81, 13, n)).clip(45, 135)

    people = People(_local_ids(site, centre), sex, birth, rng.random((n, 4)))
    codes = np.array([c.code for c in site.centres], dtype=object)
    subjects = pa.table(
        {
            PATIENT: np.arange(n),
            "centre": pa.array(codes[centre], pa.string()),
            "sex": pa.array(sex, pa.string()),
            "birth_year": years_of(birth),
            "ms_course": pa.array(COURSES[course], pa.string()),
            "diagnosis_date": date32(diagnosis),
            "eligibility_version": pa.array(eligibility, pa.string()),
        }
    )
    facts = Cohort(n, centre, sequence, randomised, w0, course, weight, sex, diagnosis)
    return facts, people, subjects


def _randomisation(p: Cohort) -> pa.Table:
    return pa.table(
        {
            PATIENT: np.arange(p.n),
            "sequence": pa.array(np.array(["MSC_PLACEBO", "PLACEBO_MSC"])[p.sequence]),
            "randomisation_date": date32(p.randomised),
        }
    )


def _schedule(p: Cohort, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Visit dates (n x 8) in their windows and which visits took place."""
    n = p.n
    offset = 7 * WEEKS + rng.integers(-7, 8, (n, len(WEEKS)))
    offset[:, 0] = -rng.integers(28, 57, n)  # screening 4-8 weeks before W0
    offset[:, W0] = 0
    offset[:, W48] = 7 * WEEKS[W48] + rng.integers(-14, 15, n)
    dates = p.w0[:, None] + offset * DAY
    last = np.where(rng.random(n) < 0.07, rng.integers(2, 7, n), W48)  # dropouts
    held = np.arange(len(WEEKS))[None, :] <= last[:, None]
    missed = rng.random((n, len(WEEKS))) < 0.02
    held[:, _MISSABLE] &= ~missed[:, _MISSABLE]
    return dates, held


def _infusions(
    site: SiteSpec, p: Cohort, dates: np.ndarray, held: np.ndarray, rng: np.random.Generator
) -> pa.Table:
    patient = np.concatenate([np.arange(p.n), np.flatnonzero(held[:, W24])])
    period = np.repeat([1, 2], [p.n, int(held[:, W24].sum())])
    order = np.lexsort((period, patient))
    patient, period = patient[order], period[order]
    when = np.where(period == 1, dates[patient, W0], dates[patient, W24])
    msc = (p.sequence[patient] == 0) == (period == 1)
    m = len(patient)
    dose = np.round(np.clip(rng.normal(1.55, 0.22, m), 1.0, 2.0), 2)
    viability = np.round(np.clip(rng.normal(93, 3, m), 75, 99.9), 1)
    change = np.where(period == 2, rng.normal(0, 1.5, m), 0)
    weight = np.round((p.weight[patient] + change).clip(45, 135), 1)
    # Autologous product: one harvested lot per patient, named by centre, year and number.
    harvest = years_of(p.w0 - 30 * DAY) % 100
    lots = np.array(
        [
            f"{site.centres[c].code[3:]}-{y:02d}-{i + 1:04d}"
            for i, (c, y) in enumerate(zip(p.centre.tolist(), harvest.tolist(), strict=True))
        ],
        dtype=object,
    )
    return pa.table(
        {
            PATIENT: patient,
            "period": period.astype(np.int64),
            "infusion_date": date32(when),
            "product": pa.array(np.where(msc, "MSC", "PLACEBO").astype(object), pa.string()),
            "dose_million_cells_per_kg": pa.array(dose, pa.float64(), mask=~msc),
            "body_weight_kg": weight,
            "viability_pct": pa.array(viability, pa.float64(), mask=~msc),
            "lot_id": pa.array(lots[patient], pa.string(), mask=~msc),
        }
    )


def _visits(
    p: Cohort, dates: np.ndarray, held: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All visits in date order per patient: (patient, visit index or -1 for UNS, date)."""
    patient, visit = np.nonzero(held)
    when = dates[patient, visit]
    # Unscheduled visits (relapses): rare, between W0 and the last visit held.
    extra = rng.poisson(0.2, p.n)
    last = np.max(np.where(held, dates - p.w0[:, None], 0 * DAY), axis=1) // DAY
    u_patient = np.repeat(np.arange(p.n), extra)
    u_when = p.w0[u_patient] + rng.integers(1, np.maximum(last[u_patient], 2)) * DAY
    pairs = np.unique(np.stack([u_patient, u_when.astype(np.int64)]), axis=1)
    patient = np.concatenate([patient, pairs[0]])
    visit = np.concatenate([visit, np.full(pairs.shape[1], -1)])
    when = np.concatenate([when, pairs[1].astype("datetime64[D]")])
    order = np.lexsort((visit, when, patient))
    return patient[order], visit[order], when[order]


def _visit_table(patient: np.ndarray, visit: np.ndarray, when: np.ndarray) -> pa.Table:
    codes = np.array([*PROTOCOL, UNSCHEDULED], dtype=object)
    return pa.table(
        {
            PATIENT: patient,
            "visit_code": pa.array(codes[visit], pa.string()),
            "week": pa.array(WEEKS[visit], pa.int64(), mask=visit < 0),
            "visit_date": date32(when),
        }
    )


def _mri(
    site: SiteSpec,
    p: Cohort,
    visits: tuple[np.ndarray, np.ndarray, np.ndarray],
    dates: np.ndarray,
    held: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    patient, visit, when = visits
    keep = (visit >= 0) | (rng.random(len(visit)) < 0.35)  # MRI is optional at UNS visits
    patient, visit, when = patient[keep], visit[keep], when[keep]
    m = len(patient)
    # Most scans on the visit day, some a few days off; at W0 before the infusion; UNS same day.
    shift = np.where(rng.random(m) < 0.7, 0, rng.integers(-3, 4, m))
    shift = np.where(visit == W0, -np.abs(shift), np.where(visit < 0, 0, shift))
    scan = when + shift * DAY

    # GEL: patient frailty (lognormal mean) x course, structural zeros, gamma-Poisson counts.
    n = p.n
    mean = np.exp(rng.normal(np.log(1.4), 0.9, n)) * COURSE_ACTIVITY[p.course]
    inactive = rng.beta(1.0, 3.5, n)
    second = np.where(held[:, W24], dates[:, W24], np.datetime64("2100-01-01"))
    on_msc = np.where(
        p.sequence[patient] == 0,
        (scan > p.w0[patient]) & (scan < second[patient]),
        scan > second[patient],
    )
    mu = mean[patient] * np.where(on_msc, MSC_RATE_RATIO, 1.0)
    rate = rng.gamma(0.8, mu / 0.8)
    gel = np.where(rng.random(m) < inactive[patient], 0, rng.poisson(rate)).clip(0, 60)
    # New/enlarging T2 and CUA need a previous scan: none at screening.
    first = visit == 0
    non_enhancing = rng.poisson(0.3 * rate + 0.05)
    new_t2 = rng.binomial(gel, 0.65) + non_enhancing
    cua = gel + non_enhancing

    years = (scan - p.w0[patient]) / DAY / 365.25
    t2_base = np.exp(rng.normal(np.log(8), 0.9, n)).clip(0.3, 70)
    growth = rng.normal(0.02, 0.03, n)
    t2 = t2_base[patient] * np.exp(growth[patient] * years + rng.normal(0, 0.03, m))
    brain_base = rng.normal(1500, 70, n).clip(1320, 1680)
    brain = brain_base[patient] * (1 - 0.005 * years) + rng.normal(0, 4, m)
    # Each centre has its scanner; a few scans elsewhere.
    three_t = rng.random(len(site.centres)) < 0.45
    on_3t = three_t[p.centre[patient]] ^ (rng.random(m) < 0.05)

    codes = np.array([*PROTOCOL, UNSCHEDULED], dtype=object)
    return pa.table(
        {
            PATIENT: patient,
            "visit_code": pa.array(codes[visit], pa.string()),
            "scan_date": date32(scan),
            "field_strength_t": np.where(on_3t, 3.0, 1.5),
            "gel_count": gel.astype(np.int64),
            "new_t2_count": pa.array(new_t2.astype(np.int64), pa.int64(), mask=first),
            "cua_count": pa.array(cua.astype(np.int64), pa.int64(), mask=first),
            "t2_volume_ml": np.round(t2.clip(0, 80), 2),
            "brain_volume_ml": np.round(brain.clip(1300, 1700), 1),
            "central_read": rng.random(m) < 0.95,
        }
    )


def simulate_site(site: SiteSpec, n: int, seed: int) -> SiteTrial:
    """One national trial of n patients; depends only on (seed, site name, n)."""
    rng = stream(seed, site.name, Stream.TRUTH)
    p, people, subjects = _patients(site, n, rng)
    dates, held = _schedule(p, rng)
    visits = _visits(p, dates, held, rng)
    tables = {
        "subjects": subjects,
        "randomisation": _randomisation(p),
        "infusions": _infusions(site, p, dates, held, rng),
        "visits": _visit_table(*visits),
        "mri": _mri(site, p, visits, dates, held, rng),
        **_outcomes(site, p, people, Schedule(dates, held), seed),
    }
    return SiteTrial(site, people, tables)


def _outcomes(
    site: SiteSpec, cohort: Cohort, people: People, schedule: Schedule, seed: int
) -> dict[str, pa.Table]:
    """Assessments and safety, each table from its own stream: adding or changing one never
    moves another's draws, nor those of the tables above."""

    def rng(part: str) -> np.random.Generator:
        return stream(seed, site.name, Stream.TRUTH, part)

    local = practice(site.name)
    latent = disability.course(cohort, local, rng("disability"))
    relapsed = relapses.simulate(cohort, schedule, rng("relapses"))
    return {
        "edss": disability.edss(cohort, schedule, local, latent, relapsed, rng("edss")),
        "msfc": disability.msfc(cohort, schedule, latent, rng("msfc")),
        "relapses": relapsed.table,
        "adverse_events": adverse.simulate(cohort, schedule, local, rng("adverse_events")),
        "conmeds": conmeds.simulate(
            cohort, schedule, local, relapsed, people.birth_date, rng("conmeds")
        ),
        "labs": labs.simulate(cohort, schedule, local, rng("labs")),
    }


def simulate(seed: int, counts: Mapping[str, int]) -> dict[str, SiteTrial]:
    """Every site in ``counts`` (site name -> patients), in the fixed site order."""
    unknown = set(counts) - {s.name for s in SITES}
    if unknown:
        raise KeyError(f"no simulated site(s) {', '.join(sorted(unknown))}")
    return {
        s.name: simulate_site(spec(s.name), counts[s.name], seed) for s in SITES if s.name in counts
    }
