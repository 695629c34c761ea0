"""A spreadsheet's cells as Arrow: text as the site sees it, and, for a typed cell, what it
holds (``CELL``). See ``federate.readers.excel`` for the rules."""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Iterator, Mapping, Sequence

import pyarrow as pa

from federate.readers.base import CELL
from federate.readers.excel_package import SHORT_DATE, Shown

Cell = int | float | str | bool | dt.date | dt.datetime | dt.time | dt.timedelta | None

# Excel's day 0: right from serial 61 (1900-03-01) on; Excel's fictitious 1900-02-29 puts
# serials 1-59 a day off, which no trial date reaches.
EPOCH_1900 = dt.datetime(1899, 12, 30)
EPOCH_1904 = dt.datetime(1904, 1, 1)  # workbooks saved with the Mac date system
_LAST_SERIAL = 2958466  # 9999-12-31 + 1
_WHOLE_LIMIT = 1e15  # beyond this Excel holds no exact whole number


def render(value: Cell) -> str | None:
    """One cell as canonical text (see the module's rules); ``None`` for an empty cell."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < _WHOLE_LIMIT:
            return str(int(value))
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return _datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return _clock(value.hour * 3600 + value.minute * 60 + value.second, value.microsecond)
    return ("-" if value < dt.timedelta(0) else "") + _clock(int(abs(value).total_seconds()), 0)


def serial_date(value: float, epoch: dt.datetime = EPOCH_1900) -> str | None:
    """An Excel serial day number as an ISO date (with the time, if it has one), or ``None``
    when it is out of Excel's date range."""
    if not 1 <= value < _LAST_SERIAL:
        return None
    return _datetime(epoch + dt.timedelta(days=value))


def _datetime(value: dt.datetime) -> str:
    # Excel stores times as fractions of a day: round the float noise away, to the second.
    value = value.replace(microsecond=0) + dt.timedelta(seconds=round(value.microsecond / 1e6))
    if value.time() == dt.time(0):
        return value.date().isoformat()
    return value.isoformat(sep=" ")


def _clock(seconds: int, microseconds: int) -> str:
    minutes, second = divmod(seconds + round(microseconds / 1e6), 60)
    hour, minute = divmod(minutes, 60)
    return f"{hour:02d}:{minute:02d}:{second:02d}"


class Shows:
    """How each date cell is shown, from its style: read row by row beside the batches."""

    def __init__(self, styled: Iterator[tuple[int, int, int]], styles: Mapping[int, Shown]):
        self._styled, self._styles = styled, styles
        self._next: tuple[int, int, int] | None = next(styled, None)

    def upto(self, last_row: int) -> dict[tuple[int, int], Shown]:
        """(row, column) -> shown, for the date-styled cells up to ``last_row``."""
        found = {}
        while self._next is not None and self._next[0] <= last_row:
            row, column, style = self._next
            found[row, column] = self._styles[style]
            self._next = next(self._styled, None)
        return found


DAY = Shown(SHORT_DATE, "day")  # a date cell whose format is not known (.xls, .ods)


def cells_of(
    values: Sequence[Cell],
    where: tuple[list[int], int, Mapping[tuple[int, int], Shown]],
    epoch: dt.datetime | None,
    short_date: str,
) -> pa.Array:
    """A column of cells as ``CELL``s (see the module's rules); ``where``: the cells' rows,
    their sheet column and how the date cells among them are shown; ``epoch``: numbers are
    serial day numbers from it; ``short_date``: how the system's short date shows."""
    rows, column, shown = where
    text: list[str | None] = []
    number: list[float | None] = []
    date: list[dt.date | None] = []
    precision: list[str | None] = []
    for value, row in zip(values, rows, strict=True):
        day: dt.date | None = None
        how = DAY
        if isinstance(value, dt.date):  # a datetime too
            how = shown.get((row, column), DAY)
            day = _lower_bound(value, how.precision)
            text.append(show_date(value, short_date if how.pattern == SHORT_DATE else how.pattern))
        else:
            text.append(render(value))
        if isinstance(value, int | float) and not isinstance(value, bool):
            stamp = serial_date(float(value), epoch) if epoch is not None else None
            day = dt.date.fromisoformat(stamp[:10]) if stamp else None
            number.append(None if day else float(value))
        else:
            number.append(None)
        date.append(day)
        precision.append(how.precision if day else None)
    arrays = [pa.array(text, pa.string()), pa.array(number, pa.float64()),
              pa.array(date, pa.date32()), pa.array(precision, pa.string())]  # fmt: skip
    return pa.StructArray.from_arrays(arrays, fields=list(CELL))


def _lower_bound(value: dt.date, precision: str) -> dt.date:
    day = value.date() if isinstance(value, dt.datetime) else value
    if precision == "month":
        return day.replace(day=1)
    return day.replace(month=1, day=1) if precision == "year" else day


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December")  # fmt: skip
_SHOW = re.compile(r"%(-?)([dmYybB%])")


@functools.lru_cache(maxsize=4096)  # a column repeats its dates: each is shown once
def show_date(value: dt.date, pattern: str) -> str:
    """``value`` as ``pattern`` shows it (strftime's %d %m %Y %y %b %B, %-d %-m unpadded), in
    English month names as Excel without a locale; platform-independent, unlike strftime."""

    def one(match: re.Match[str]) -> str:
        unpadded, token = match[1] == "-", match[2]
        parts = {
            "d": value.day, "m": value.month, "Y": f"{value.year:04d}",
            "y": f"{value.year % 100:02d}", "b": _MONTHS[value.month - 1][:3],
            "B": _MONTHS[value.month - 1], "%": "%",
        }  # fmt: skip
        part = parts[token]
        return str(part) if unpadded or not isinstance(part, int) else f"{part:02d}"

    return _SHOW.sub(one, pattern)
