"""Assessment dates and the protocol's visit windows (days from W0, ``VISIT_WINDOWS``).

Exports that carry no visit column leave the visit to the engine, which assigns it from the
date by window: a scheduled assessment must fall inside its visit's window and an unscheduled
one outside every window, or the truth and the pooled data would disagree.
"""

from __future__ import annotations

import numpy as np

from federate.synth.base import DAY, PROTOCOL, W0
from federate.synth.codes import VISIT_WINDOWS

LOW = np.array([VISIT_WINDOWS[v][0] for v in PROTOCOL])
HIGH = np.array([VISIT_WINDOWS[v][1] for v in PROTOCOL])
# Assessed on the infusion day or before it, never after.
ASSESS_HIGH = np.where(np.arange(len(PROTOCOL)) == W0, 0, HIGH)


def outside_windows(day: np.ndarray) -> np.ndarray:
    """Days from W0 that no visit window holds."""
    inside = (day[:, None] >= LOW[None, :]) & (day[:, None] <= HIGH[None, :])
    result: np.ndarray = np.logical_not(inside.any(axis=1))
    return result


def assessment_dates(
    w0: np.ndarray,
    visit_dates: np.ndarray,
    visit: np.ndarray,
    rng: np.random.Generator,
    moved: float = 0.12,
) -> np.ndarray:
    """Mostly the visit day; a share a few days off, kept inside the visit's window."""
    day = (visit_dates - w0) // DAY
    shift = np.where(rng.random(len(day)) < moved, rng.integers(-3, 4, len(day)), 0)
    day = np.clip(day + shift, LOW[visit], ASSESS_HIGH[visit])
    result: np.ndarray = w0 + day * DAY
    return result
