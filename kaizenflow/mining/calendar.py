"""Business calendars and working time between timestamps, counted column-wise without loops.

Waiting over a weekend is not waiting anybody could have acted on: a hand-over on Friday 17:00
picked up on Monday 09:00 took two working hours with a Mon–Fri 08–18 calendar, not 64 hours.
Working time is counted on the local wall clock of the calendar's time zone, so working hours
stay 08–18 across daylight-saving changes (a working window spanning the switch itself, at
night, would be off by the hour the clock jumps).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

_DAY_US = 86_400 * 1_000_000
_HOUR_US = 3_600 * 1_000_000
_EPOCH = date(1970, 1, 1)
_EPOCH_WEEKDAY = _EPOCH.weekday()  # a Thursday: day numbers count from it

Timestamps = pd.Series | pd.DatetimeIndex | np.ndarray


@dataclass(frozen=True)
class BusinessCalendar:
    """Working weekdays (Monday = 0), one working window a day in hours, and holidays (local dates).

    One window a day keeps the count a closed formula; a lunch break changes working time by
    the same hour every day and would not change which waits are long.
    """

    timezone: str = "UTC"
    weekdays: frozenset[int] = frozenset({0, 1, 2, 3, 4})
    hours: tuple[float, float] = (8.0, 18.0)
    holidays: frozenset[date] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        ZoneInfo(self.timezone)  # raises for an unknown zone: better now than deep in a report
        opens, closes = self.hours
        if not 0 <= opens < closes <= 24:
            raise ValueError(f"working hours must satisfy 0 <= opens < closes <= 24, got {self.hours}")
        if not self.weekdays or not set(self.weekdays) <= set(range(7)):
            raise ValueError(f"weekdays must be a non-empty subset of 0..6, got {sorted(self.weekdays)}")

    @property
    def hours_per_day(self) -> float:
        return self.hours[1] - self.hours[0]


#: Every second counts: working time equals calendar time.
ROUND_THE_CLOCK = BusinessCalendar(weekdays=frozenset(range(7)), hours=(0.0, 24.0))


def working_seconds(start: Timestamps, end: Timestamps, calendar: BusinessCalendar) -> np.ndarray:
    """Working seconds from each ``start`` to the matching ``end`` (float array, NaN where either is NaT).

    Timestamps are UTC (tz-aware, or naive meaning UTC). An ``end`` before its ``start`` counts
    zero, as pm4py does: no work can be waiting for a negative time. Each timestamp is turned
    into the working time elapsed since a fixed day, so the answer is one subtraction.
    """
    start_local, start_missing = _local_microseconds(start, calendar.timezone)
    end_local, end_missing = _local_microseconds(end, calendar.timezone)
    if len(start_local) != len(end_local):
        raise ValueError(f"start and end differ in length: {len(start_local)} != {len(end_local)}")
    missing = start_missing | end_missing
    seconds = np.full(len(start_local), np.nan)
    if missing.all():
        return seconds
    present = ~missing
    begin, finish = start_local[present], end_local[present]
    first_day = int(min(begin.min(), finish.min()) // _DAY_US)
    last_day = int(max(begin.max(), finish.max()) // _DAY_US)
    elapsed = _working_clock(calendar, first_day, last_day)
    worked = np.maximum(elapsed(finish) - elapsed(begin), 0)
    seconds[present] = worked / 1_000_000
    return seconds


def working_hours(start: Timestamps, end: Timestamps, calendar: BusinessCalendar) -> np.ndarray:
    """``working_seconds`` in hours, the unit of every figure the reports show."""
    return working_seconds(start, end, calendar) / 3600


def _working_clock(
    calendar: BusinessCalendar, first_day: int, last_day: int
) -> Callable[[np.ndarray], np.ndarray]:
    """A function from local microseconds to working microseconds elapsed since ``first_day``."""
    days = np.arange(first_day, last_day + 1, dtype=np.int64)
    weekday = (days + _EPOCH_WEEKDAY) % 7
    working = np.isin(weekday, np.fromiter(calendar.weekdays, dtype=np.int64))
    if calendar.holidays:
        holiday_days = np.array([(d - _EPOCH).days for d in calendar.holidays], dtype=np.int64)
        working &= ~np.isin(days, holiday_days)
    opens = int(round(calendar.hours[0] * _HOUR_US))
    closes = int(round(calendar.hours[1] * _HOUR_US))
    window = closes - opens
    before = np.concatenate(([0], np.cumsum(working, dtype=np.int64)[:-1])) * window

    def elapsed(local: np.ndarray) -> np.ndarray:
        day = local // _DAY_US
        offset = day - first_day
        into_day = np.clip(local - day * _DAY_US - opens, 0, window)
        return np.asarray(before[offset] + np.where(working[offset], into_day, 0))

    return elapsed


def _local_microseconds(values: Timestamps, timezone: str) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock microseconds in ``timezone`` and the mask of missing values."""
    index = pd.DatetimeIndex(values)
    if index.tz is None:
        index = index.tz_localize("UTC")
    local = index.tz_convert(timezone).tz_localize(None).as_unit("us")
    return local.asi8.copy(), np.asarray(local.isna())
