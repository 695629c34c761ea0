"""What every part of the simulated trial shares: the protocol, the cohort's facts, the visit
schedule, and date helpers. Tables are built from these, one module per clinical domain."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from federate.synth.sites import SiteSpec

PATIENT = "__patient"
# Protocol visits and nominal weeks; UNS visits have no week (schemas/mesems_v1.VISIT_WEEKS).
PROTOCOL = ("SCR", "W0", "W4", "W12", "W24", "W28", "W36", "W48")
WEEKS = np.array([-6, 0, 4, 12, 24, 28, 36, 48])
UNSCHEDULED = "UNS"
SCR, W0, W4, W12, W24, W28, W36, W48 = range(len(PROTOCOL))
DAY = np.timedelta64(1, "D")


@dataclass(frozen=True)
class People:
    """Private facts per patient: the site's export carries them, the pooled data never does."""

    local_id: np.ndarray  # normalised local ids (str)
    sex: np.ndarray  # "F" / "M"
    birth_date: np.ndarray  # datetime64[D]
    draws: np.ndarray  # (n, 4) uniforms that pick names, birthplace and id serials

    def __len__(self) -> int:
        return len(self.local_id)

    def take(self, rows: np.ndarray) -> People:
        return People(self.local_id[rows], self.sex[rows], self.birth_date[rows], self.draws[rows])


@dataclass(frozen=True)
class SiteTrial:
    site: SiteSpec
    people: People
    tables: dict[str, pa.Table]  # shared table -> own columns + PATIENT, in export order


@dataclass(frozen=True)
class Cohort:
    """The randomised patients' facts, one entry per patient."""

    n: int
    centre: np.ndarray  # index into site.centres
    sequence: np.ndarray  # 0 MSC_PLACEBO, 1 PLACEBO_MSC
    randomised: np.ndarray
    w0: np.ndarray
    course: np.ndarray  # index into COURSES
    weight: np.ndarray
    sex: np.ndarray  # "F" / "M"
    diagnosis: np.ndarray


@dataclass(frozen=True)
class Schedule:
    """The protocol visits: their dates (n x 8, in their windows) and which took place."""

    dates: np.ndarray
    held: np.ndarray

    @property
    def last(self) -> np.ndarray:
        """Date of each patient's last visit held (follow-up ends there)."""
        last: np.ndarray = np.max(np.where(self.held, self.dates, self.dates[:, :1]), axis=1)
        return last


def years_of(dates: np.ndarray) -> np.ndarray:
    years: np.ndarray = dates.astype("datetime64[Y]").astype(np.int64) + 1970
    return years


def days(values: np.ndarray) -> np.ndarray:
    """Whole days (rounded) as timedelta64."""
    out: np.ndarray = np.rint(values).astype(np.int64) * DAY
    return out


def date32(values: np.ndarray) -> pa.Array:
    return pa.array(values.astype("datetime64[D]"), pa.date32())


def visit_rows(held: np.ndarray, visits: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """(patient, visit index) of each of ``visits`` held, by patient then visit."""
    patient, at = np.nonzero(held[:, list(visits)])
    return patient, np.asarray(visits)[at]


def rank_within(groups: np.ndarray) -> np.ndarray:
    """0, 1, 2... within each run of equal values (rows sorted by group)."""
    n = len(groups)
    start = np.ones(n, bool)
    start[1:] = groups[1:] != groups[:-1]
    first = np.maximum.accumulate(np.where(start, np.arange(n), 0))
    result: np.ndarray = np.arange(n) - first
    return result


def pick(rng: np.random.Generator, options: tuple[str, ...], p: list[float], n: int) -> np.ndarray:
    """n draws from ``options`` (as an object array) with probabilities ``p``."""
    result: np.ndarray = np.array(options, dtype=object)[rng.choice(len(options), n, p=p)]
    return result
