"""Working-time arithmetic: the Mon-Fri 08:00-17:00 UTC calendar every simulated event falls in."""

# Cases are simulated on a *working-time axis*: whole seconds of working time since a Monday
# epoch. Adding any positive duration there lands on a working moment again and keeps events of
# a case strictly ordered, which shifting calendar times to "the next 08:00" would not (ties).
# Calendar times are int64 Unix seconds (naive UTC).

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import numpy.typing as npt

IntArray = npt.NDArray[np.int64]

HOUR = 3600
DAY = 24 * HOUR
WORKDAY = 9 * HOUR  # 08:00-17:00
_DAY_START = 8 * HOUR
_UNIX = datetime(1970, 1, 1)
# A Monday 00:00, early enough for any plausible snapshot.
_EPOCH = (datetime(2000, 1, 3) - _UNIX) // timedelta(seconds=1)


def unix_seconds(moment: datetime) -> int:
    """A naive UTC datetime as whole Unix seconds (sub-second parts are dropped)."""
    return (moment - _UNIX) // timedelta(seconds=1)


def from_unix_seconds(seconds: int) -> datetime:
    return _UNIX + timedelta(seconds=int(seconds))


def to_calendar(work: npt.ArrayLike) -> IntArray:
    """Working-time seconds to calendar Unix seconds."""
    days, rest = np.divmod(np.asarray(work, dtype=np.int64), WORKDAY)
    weeks, weekday = np.divmod(days, 5)
    return _EPOCH + (weeks * 7 + weekday) * DAY + _DAY_START + rest


def _split(calendar: npt.ArrayLike) -> tuple[IntArray, IntArray, IntArray]:
    """Calendar seconds to (working-day index of that day or the next, weekday, second of day)."""
    days, second = np.divmod(np.asarray(calendar, dtype=np.int64) - _EPOCH, DAY)
    weeks, weekday = np.divmod(days, 7)
    # A weekend day maps to the index of the next Monday.
    return weeks * 5 + np.minimum(weekday, 5), weekday, second


def ceil_work(calendar: npt.ArrayLike) -> IntArray:
    """The first working moment at or after each calendar time, in working seconds."""
    day, weekday, second = _split(calendar)
    work = day * WORKDAY
    weekday_ = weekday < 5
    inside = weekday_ & (second >= _DAY_START) & (second < _DAY_START + WORKDAY)
    after = weekday_ & (second >= _DAY_START + WORKDAY)
    work = np.where(inside, work + second - _DAY_START, work)
    return np.where(after, work + WORKDAY, work)


def floor_work(calendar: npt.ArrayLike) -> IntArray:
    """The last working moment at or before each calendar time, in working seconds."""
    day, weekday, second = _split(calendar)
    work = day * WORKDAY - 1  # before 08:00 or on a weekend: the previous day's last second
    weekday_ = weekday < 5
    inside = weekday_ & (second >= _DAY_START) & (second < _DAY_START + WORKDAY)
    after = weekday_ & (second >= _DAY_START + WORKDAY)
    work = np.where(inside, day * WORKDAY + second - _DAY_START, work)
    return np.where(after, day * WORKDAY + WORKDAY - 1, work)
