"""Rework: cases repeating an activity, and the extra time it costs against doing it once."""

from __future__ import annotations

import pandas as pd
import pytest
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.rework import analyse_rework


def log_of(traces: dict[str, tuple[str, int]]) -> EventLog:
    """Case -> (trace, throughput hours); one event per activity, the last at the given hour."""
    rows = []
    for case, (trace, hours) in traces.items():
        activities = trace.split()
        for i, activity in enumerate(activities):
            at = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=hours * i / (len(activities) - 1))
            rows.append((case, activity, at.isoformat(), "u"))
    return log_from_rows(rows)


TRACES = {"c1": ("a b b c", 10), "c2": ("a b c", 4), "c3": ("a b c", 6), "c4": ("a c a", 8)}


def test_the_share_of_cases_repeating_an_activity() -> None:
    found = {a.activity: a for a in analyse_rework(log_of(TRACES)).activities}
    assert (found["b"].cases_with_activity, found["b"].cases_repeating) == (3, 1)
    assert found["b"].share == pytest.approx(1 / 4)
    assert found["b"].share_of_cases_with_activity == pytest.approx(1 / 3)
    assert found["c"].cases_repeating == 0


def test_repeating_costs_the_median_difference_against_doing_it_once() -> None:
    found = {a.activity: a for a in analyse_rework(log_of(TRACES)).activities}
    assert found["b"].median_hours_repeating == pytest.approx(10.0)
    assert found["b"].median_hours_once == pytest.approx(5.0)
    assert found["b"].extra_median_hours == pytest.approx(5.0)


def test_activities_are_listed_most_repeated_first() -> None:
    found = analyse_rework(log_of(TRACES)).activities
    assert [a.activity for a in found] == ["a", "b", "c"]


def test_cases_with_any_rework_are_compared_with_cases_without() -> None:
    found = analyse_rework(log_of(TRACES))
    assert (found.cases, found.cases_with_rework) == (4, 2)
    assert found.median_hours_with_rework == pytest.approx(9.0)
    assert found.median_hours_without_rework == pytest.approx(5.0)
    assert found.extra_median_hours == pytest.approx(4.0)


def test_without_timestamps_rework_is_counted_but_not_timed() -> None:
    log = log_of(TRACES)
    missing = pd.Series(pd.NaT, index=log.events.index, dtype="datetime64[us, UTC]")
    untimed = EventLog(events=log.events.assign(timestamp=missing), case_attributes=log.case_attributes,
                       has_timestamps=False)
    found = analyse_rework(untimed)
    assert found.cases_with_rework == 2 and found.extra_median_hours is None
    assert all(a.extra_median_hours is None for a in found.activities)
