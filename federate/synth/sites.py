"""The six national trials as simulated: enrolment share, centres, criteria and id habits.

Facts from DOMAIN.md §1 and §6; the centre lists, recruitment windows and id formats are
plausible inventions. Each site draws from its own random stream (``stream``), seeded from the
run's seed and a stable CRC-32 of the site name, so adding or resizing a country never changes
another country's patients.
"""

from __future__ import annotations

import datetime as dt
import zlib
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

DEFAULT_PATIENTS = 144


class Stream(IntEnum):
    """What a site's random numbers are for: each purpose has its own stream, so that turning
    on error injection, say, never moves a single truth value."""

    TRUTH = 0
    EXPORT = 1
    ERRORS = 2


@dataclass(frozen=True)
class Centre:
    code: str  # [A-Z]{2}-[A-Z]{3}
    weight: float  # share of the site's patients


@dataclass(frozen=True)
class SiteSpec:
    name: str  # registered site name
    country: str  # ISO 3166 alpha-2, lower case (pseudonym prefix when no adapter is registered)
    share: int  # patients out of DEFAULT_PATIENTS
    centres: tuple[Centre, ...]
    recruitment: tuple[dt.date, dt.date]
    # (first randomisation date it applies to, version): criteria changed over time at some sites
    eligibility: tuple[tuple[dt.date, str], ...]
    id_format: str  # local id from {c} centre number (1-based), {s} sequence, {code} centre code
    progressive: bool = True  # enrolled SPMS/PPMS (Copenhagen did not)
    max_duration_years: int = 15  # disease duration criterion (Italy registered 2-10 y)


def _d(text: str) -> dt.date:
    return dt.date.fromisoformat(text)


SITES: tuple[SiteSpec, ...] = (
    SiteSpec(
        "italy",
        "it",
        30,
        (Centre("IT-GEN", 0.45), Centre("IT-MIL", 0.30), Centre("IT-ROM", 0.25)),
        (_d("2012-03-01"), _d("2016-12-20")),
        ((_d("2012-01-01"), "IT-2012"),),
        "{c:02d}{s:04d}",  # six digits with a leading zero, which Excel strips
        max_duration_years=10,
    ),
    SiteSpec(
        "denmark",
        "dk",
        25,
        (Centre("DK-CPH", 0.75), Centre("DK-AAR", 0.25)),
        (_d("2012-09-01"), _d("2017-06-30")),
        ((_d("2012-01-01"), "DK-2011"),),
        "{code}{s:03d}",
        progressive=False,
    ),
    SiteSpec(
        "uk",
        "gb",
        13,
        (Centre("UK-LON", 0.6), Centre("UK-CAM", 0.4)),
        (_d("2013-01-15"), _d("2018-12-14")),
        ((_d("2012-01-01"), "UK-2012"), (_d("2015-07-01"), "UK-2015")),
        "MSC{c:02d}-{s:03d}",
    ),
    SiteSpec(
        "france",
        "fr",
        24,
        (Centre("FR-PAR", 0.45), Centre("FR-LYO", 0.30), Centre("FR-TOU", 0.25)),
        (_d("2013-06-01"), _d("2019-06-28")),
        ((_d("2013-01-01"), "FR-2013"),),
        "{c:02d}{s:04d}",
    ),
    SiteSpec(
        "sweden",
        "se",
        22,
        (Centre("SE-STO", 0.6), Centre("SE-GOT", 0.4)),
        (_d("2012-06-01"), _d("2018-03-30")),
        ((_d("2012-01-01"), "SE-2012"),),
        "{code}-{s:03d}",
    ),
    SiteSpec(
        "spain",
        "es",
        30,
        (Centre("ES-SEV", 0.4), Centre("ES-BCN", 0.3), Centre("ES-MAD", 0.3)),
        (_d("2013-01-10"), _d("2019-10-31")),
        ((_d("2013-01-01"), "ES-2013"), (_d("2016-03-01"), "ES-2016")),
        "{c:02d}{s:03d}",
    ),
)


def spec(name: str) -> SiteSpec:
    for site in SITES:
        if site.name == name:
            return site
    raise KeyError(f"no simulated site {name!r}")


def site_counts(patients: int = DEFAULT_PATIENTS) -> dict[str, int]:
    """Every site scaled from its MESEMS share, rounded, at least one patient each."""
    return {s.name: max(1, round(s.share * patients / DEFAULT_PATIENTS)) for s in SITES}


def centre_counts(n: int, centres: tuple[Centre, ...]) -> np.ndarray:
    """Split n patients over the centres: 5 each first when there are enough (MESEMS centres
    enrolled 5-30), the rest by weight with largest remainders."""
    k = len(centres)
    floor = min(5, n // k)
    weights = np.array([c.weight for c in centres])
    rest = n - floor * k
    exact = rest * weights / weights.sum()
    counts = np.floor(exact).astype(np.int64)
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[: rest - int(counts.sum())]] += 1
    result: np.ndarray = counts + floor
    return result


def crc(text: str) -> int:
    return zlib.crc32(text.encode("utf-8"))


def stream(seed: int, site: str, purpose: Stream, part: str = "") -> np.random.Generator:
    """The random stream of one site and purpose (and optionally one part, e.g. a file)."""
    entropy = [seed, crc(site), int(purpose), *([crc(part)] if part else [])]
    return np.random.default_rng(np.random.SeedSequence(entropy))
