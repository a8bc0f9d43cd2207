"""Performance figures: calendar and working throughput, waiting versus processing, waits per edge."""

from __future__ import annotations

import pandas as pd
import pytest
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.calendar import BusinessCalendar
from kaizenflow.mining.performance import NO_START_TIMES, NO_TIMESTAMPS, analyse_performance

# Rows in case and completion order; STARTS gives each its start time (same order).
ROWS = [
    ("c1", "a", "2024-01-08T09:00:00Z", "u"), ("c1", "b", "2024-01-08T12:00:00Z", "v"),  # Monday
    ("c2", "a", "2024-01-05T17:00:00Z", "u"), ("c2", "b", "2024-01-08T10:00:00Z", "v"),  # Friday -> Monday
]
STARTS = ["2024-01-08T08:00:00Z", "2024-01-08T10:00:00Z", "2024-01-05T16:00:00Z", "2024-01-08T09:00:00Z"]
OFFICE = BusinessCalendar()


def with_starts(log: EventLog, starts: list[str]) -> EventLog:
    start = pd.to_datetime(pd.Series(starts), utc=True).astype("datetime64[us, UTC]")
    return EventLog(events=log.events.assign(start_timestamp=start.to_numpy()),
                    case_attributes=log.case_attributes)


def untimed(log: EventLog) -> EventLog:
    """The same events as a source that knows only their order."""
    missing = pd.Series(pd.NaT, index=log.events.index, dtype="datetime64[us, UTC]")
    return EventLog(events=log.events.assign(timestamp=missing), case_attributes=log.case_attributes,
                    has_timestamps=False)


def test_throughput_is_reported_in_calendar_and_in_working_time() -> None:
    found = analyse_performance(log_from_rows(ROWS), OFFICE)
    assert found.calendar_throughput.median_hours == pytest.approx((3 + 65) / 2)
    assert found.working_throughput.median_hours == pytest.approx(3.0)  # c2: Fri 17-18, Mon 08-10


def test_waiting_and_processing_are_told_apart_with_start_times() -> None:
    found = analyse_performance(with_starts(log_from_rows(ROWS), STARTS), OFFICE).waiting_and_processing
    assert found is not None
    # c1: worked 1 h + 2 h, waited 09-10; c2: worked 1 h + 1 h, waited Fri 17-18 and Mon 08-09
    assert (found.median_processing_hours, found.median_waiting_hours) == pytest.approx((2.5, 1.5))
    assert found.total_processing_hours == pytest.approx(5.0)
    assert found.processing_share == pytest.approx(5 / 8)


def test_edge_waits_end_when_the_target_started() -> None:
    found = analyse_performance(with_starts(log_from_rows(ROWS), STARTS), OFFICE)
    (edge,) = found.edges
    assert (edge.source, edge.target, edge.frequency) == ("a", "b", 2)
    assert edge.median_hours == pytest.approx(1.5) and edge.total_hours == pytest.approx(3.0)


def test_processing_time_per_activity_needs_start_times() -> None:
    timed = analyse_performance(with_starts(log_from_rows(ROWS), STARTS), OFFICE)
    found = {a.activity: a for a in timed.activities}
    assert found["a"].median_processing_hours == pytest.approx(1.0)
    assert found["b"].median_processing_hours == pytest.approx(1.5)
    assert found["b"].median_wait_before_hours == pytest.approx(1.5)


def test_without_start_times_processing_is_unavailable_and_waits_run_to_completion() -> None:
    found = analyse_performance(log_from_rows(ROWS), OFFICE)
    assert found.waiting_and_processing is None
    assert found.unavailable == (NO_START_TIMES,)
    assert all(a.median_processing_hours is None for a in found.activities)
    assert found.edges[0].total_hours == pytest.approx(3.0 + 3.0)  # c1 09-12, c2 Fri 17-18 + Mon 08-10


def test_a_log_without_timestamps_reports_no_timing_at_all() -> None:
    found = analyse_performance(untimed(log_from_rows(ROWS)), OFFICE)
    assert found.unavailable == (NO_TIMESTAMPS,)
    assert found.calendar_throughput.median_hours is None and found.working_throughput.median_hours is None
    assert found.edges[0].frequency == 2 and found.edges[0].median_hours is None
