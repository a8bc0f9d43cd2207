"""Bottlenecks: where the total wait sits, and how waiting grows with the work in progress."""

from __future__ import annotations

import pandas as pd
import pytest
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.bottlenecks import cases_in_progress, find_bottlenecks
from kaizenflow.mining.calendar import ROUND_THE_CLOCK
from kaizenflow.mining.performance import NO_TIMESTAMPS


def at(hour: int) -> str:
    return (pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=hour)).isoformat()


# c1..c4 do a then b; the later a case arrives, the more cases are in progress and the longer b waits.
LOADED = [
    ("c1", "a", at(0), "u"), ("c1", "b", at(1), "u"),
    ("c2", "a", at(10), "u"), ("c2", "b", at(14), "u"),
    ("c3", "a", at(11), "u"), ("c3", "b", at(16), "u"),
    ("c4", "a", at(12), "u"), ("c4", "b", at(18), "u"),
]

# Every case waits 1 h for b and 5 h for c: c is where the time goes.
SLOW_C = [(f"k{i}", activity, at(10 * i + hour), "u") for i in range(4)
          for activity, hour in (("a", 0), ("b", 1), ("c", 6))]


def test_the_activity_with_most_waiting_before_it_ranks_first_with_its_share() -> None:
    found = find_bottlenecks(log_from_rows(SLOW_C), ROUND_THE_CLOCK)
    assert found.total_wait_hours == pytest.approx(24.0)
    assert [(a.target, a.total_hours) for a in found.activities] == [("c", 20.0), ("b", 4.0)]
    assert found.activities[0].share == pytest.approx(20 / 24)


def test_hand_overs_are_ranked_by_their_total_wait() -> None:
    found = find_bottlenecks(log_from_rows(SLOW_C), ROUND_THE_CLOCK)
    assert [(h.source, h.target, h.steps, h.median_hours) for h in found.handovers] == [
        ("b", "c", 4, 5.0), ("a", "b", 4, 1.0)
    ]


def test_load_counts_the_cases_started_and_not_yet_finished() -> None:
    log = log_from_rows(LOADED)
    moments = pd.Series(pd.to_datetime([at(0), at(10), at(11), at(12), at(18)], utc=True))
    assert list(cases_in_progress(log, moments)) == [1, 1, 2, 3, 0]


def test_waiting_is_reported_per_load_bucket() -> None:
    found = find_bottlenecks(log_from_rows(LOADED), ROUND_THE_CLOCK, buckets=2)
    assert [(b.low_load, b.high_load, b.steps, b.median_wait_hours) for b in found.load_buckets] == [
        (1, 1, 2, 2.5), (2, 3, 2, 5.5)
    ]
    assert found.load_correlation is not None and found.load_correlation > 0


def test_a_log_without_timestamps_has_no_bottlenecks_to_report() -> None:
    log = log_from_rows(SLOW_C)
    missing = pd.Series(pd.NaT, index=log.events.index, dtype="datetime64[us, UTC]")
    untimed = EventLog(events=log.events.assign(timestamp=missing), case_attributes=log.case_attributes,
                       has_timestamps=False)
    found = find_bottlenecks(untimed)
    assert found.unavailable == (NO_TIMESTAMPS,)
    assert found.total_wait_hours is None and found.activities == ()
