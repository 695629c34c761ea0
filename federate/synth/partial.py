"""Partial dates: a date known to the day, the month or only the year, stored as its lower
bound, its precision and the text as exported (``schema.partial_date``)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

PRECISIONS = np.array(["day", "month", "year"], dtype=object)


def precisions(rng: np.random.Generator, n: int, month: float, year: float) -> np.ndarray:
    """Precision of n dates: a share known to the month, a share only to the year."""
    return PRECISIONS[rng.choice(3, n, p=[1 - month - year, month, year])]


def lower_bound(dates: np.ndarray, precision: np.ndarray) -> np.ndarray:
    """The first day each date can be, given its precision."""
    month = dates.astype("datetime64[M]").astype("datetime64[D]")
    year = dates.astype("datetime64[Y]").astype("datetime64[D]")
    result: np.ndarray = np.where(
        precision == "year", year, np.where(precision == "month", month, dates)
    )
    return result


def columns(
    name: str, dates: np.ndarray, precision: np.ndarray, missing: np.ndarray | None = None
) -> dict[str, pa.Array]:
    """NAME and NAME_precision (NAME_raw is written with the truth, in the site's notation)."""
    mask = np.zeros(len(dates), bool) if missing is None else missing
    return {
        name: pa.array(
            lower_bound(dates, precision).astype("datetime64[D]"), pa.date32(), mask=mask
        ),
        f"{name}_precision": pa.array(precision, pa.string(), mask=mask),
    }


def render(dates: pa.Array, precision: pa.Array, formats: tuple[str, str, str]) -> pa.Array:
    """The text of partial dates in a site's formats (day, month, year)."""
    stamps = pc.cast(dates, pa.timestamp("s"))
    texts = [pc.strftime(stamps, format=f) for f in formats]
    levels = [pc.equal(precision, level) for level in PRECISIONS.tolist()]
    return pc.case_when(pc.make_struct(*levels), *texts)
