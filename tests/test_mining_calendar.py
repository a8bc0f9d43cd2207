"""Working time between timestamps: weekends, holidays, time zones and daylight saving, exactly."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaizenflow.mining.calendar import ROUND_THE_CLOCK, BusinessCalendar, working_hours

OFFICE = BusinessCalendar()  # Mon–Fri 08–18 UTC


def hours(start: str, end: str, calendar: BusinessCalendar = OFFICE) -> float:
    return float(working_hours(pd.Series(pd.to_datetime([start], utc=True)),
                               pd.Series(pd.to_datetime([end], utc=True)), calendar)[0])


def test_a_friday_evening_to_monday_morning_hand_over_counts_working_hours_not_the_weekend() -> None:
    # Friday 17:00-18:00 and Monday 08:00-09:00: two working hours, where the clock says 64
    assert hours("2024-01-05T17:00:00Z", "2024-01-08T09:00:00Z") == pytest.approx(2.0)
    assert hours("2024-01-05T17:30:00Z", "2024-01-08T08:30:00Z") == pytest.approx(1.0)


def test_holidays_do_not_count() -> None:
    closed_monday = BusinessCalendar(holidays=frozenset({date(2024, 1, 8)}))
    assert hours("2024-01-05T17:00:00Z", "2024-01-09T09:00:00Z", closed_monday) == pytest.approx(2.0)


def test_working_hours_are_those_of_the_calendars_time_zone() -> None:
    berlin = BusinessCalendar(timezone="Europe/Berlin")
    # 07:00-17:00 UTC is 08:00-18:00 in Berlin in winter: all of it is working time there
    assert hours("2024-01-08T07:00:00Z", "2024-01-08T17:00:00Z", berlin) == pytest.approx(10.0)
    assert hours("2024-01-08T07:00:00Z", "2024-01-08T17:00:00Z") == pytest.approx(9.0)


def test_working_hours_follow_the_wall_clock_across_daylight_saving() -> None:
    berlin = BusinessCalendar(timezone="Europe/Berlin")
    # Friday 17:00 CET to Monday 09:00 CEST, over the night the clocks went forward
    assert hours("2024-03-29T16:00:00Z", "2024-04-01T07:00:00Z", berlin) == pytest.approx(2.0)


def test_an_end_before_its_start_counts_zero_and_a_missing_timestamp_nothing() -> None:
    start = pd.Series([pd.Timestamp("2024-01-08T12:00:00Z"), pd.NaT], dtype="datetime64[us, UTC]")
    end = pd.Series(pd.to_datetime(["2024-01-08T10:00:00Z", "2024-01-08T10:00:00Z"], utc=True))
    found = working_hours(start, end, OFFICE)
    assert found[0] == 0.0 and np.isnan(found[1])


def test_round_the_clock_equals_calendar_time() -> None:
    assert hours("2024-01-05T17:00:00Z", "2024-01-08T09:00:00Z", ROUND_THE_CLOCK) == pytest.approx(64.0)


def test_a_calendar_with_impossible_hours_is_refused() -> None:
    with pytest.raises(ValueError, match="working hours"):
        BusinessCalendar(hours=(18.0, 8.0))


instants = st.datetimes(min_value=datetime(2020, 1, 1), max_value=datetime(2026, 1, 1),
                        timezones=st.just(UTC))
calendars = st.builds(
    BusinessCalendar,
    timezone=st.sampled_from(["UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata"]),
    weekdays=st.frozensets(st.integers(0, 6), min_size=1),
    hours=st.tuples(st.integers(0, 12), st.integers(13, 24)).map(lambda h: (float(h[0]), float(h[1]))),
)


@settings(max_examples=200, deadline=None)
@given(moments=st.lists(instants, min_size=3, max_size=3), calendar=calendars)
def test_working_time_adds_up_over_consecutive_intervals_and_never_exceeds_calendar_time(
    moments: list[datetime], calendar: BusinessCalendar
) -> None:
    first, middle, last = sorted(moments)

    def worked(a: datetime, b: datetime) -> float:
        return float(working_hours(pd.Series([pd.Timestamp(a)]), pd.Series([pd.Timestamp(b)]), calendar)[0])

    assert worked(first, last) == pytest.approx(worked(first, middle) + worked(middle, last), abs=1e-6)
    assert worked(first, last) <= (last - first) / timedelta(hours=1) + 1.0  # +1: a DST hour at most
