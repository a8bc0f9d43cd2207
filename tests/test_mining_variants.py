"""Grouping near-identical variants under their collapsed sequence."""

from __future__ import annotations

import pandas as pd
import pytest
from eventlogs import log_from_rows
from hypothesis import given
from hypothesis import strategies as st

from kaizenflow.core.events import EventLog
from kaizenflow.mining.variants import collapse_repeats, group_variants


def log_of(traces: dict[str, tuple[str, int]]) -> EventLog:
    """Case -> (trace, throughput hours); events spread evenly from 2024-01-01 00:00."""
    rows = []
    for case, (trace, hours) in traces.items():
        activities = trace.split()
        for i, activity in enumerate(activities):
            at = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=hours * i / (len(activities) - 1))
            rows.append((case, activity, at.isoformat(), "u"))
    return log_from_rows(rows)


def test_consecutive_repeats_collapse() -> None:
    assert collapse_repeats(("a", "b", "b", "b", "c")) == ("a", "b", "c")


def test_loops_of_length_two_collapse_only_when_asked() -> None:
    assert collapse_repeats(("a", "b", "c", "b", "c", "d")) == ("a", "b", "c", "b", "c", "d")
    assert collapse_repeats(("a", "b", "c", "b", "c", "d"), loops=True) == ("a", "b", "c", "d")
    assert collapse_repeats(("b", "a", "b", "a", "b"), loops=True) == ("b", "a", "b")


@given(st.lists(st.sampled_from("abc"), max_size=12), st.booleans())
def test_collapsing_twice_changes_nothing(activities: list[str], loops: bool) -> None:
    once = collapse_repeats(activities, loops)
    assert collapse_repeats(once, loops) == once


TRACES = {
    "c1": ("a b c", 2), "c2": ("a b b c", 4), "c3": ("a b b b c", 6), "c4": ("a c", 10),
    "c5": ("a b c b c", 8),
}


def test_variants_differing_by_repeats_are_counted_under_one_representative() -> None:
    found = group_variants(log_of(TRACES))
    assert [(g.representative, g.cases) for g in found] == [
        (("a", "b", "c"), 3), (("a", "b", "c", "b", "c"), 1), (("a", "c"), 1)
    ]
    assert found[0].share == pytest.approx(3 / 5)
    assert found[0].median_throughput_hours == pytest.approx(4.0)  # the median case, not of member medians


def test_members_keep_the_detail_of_each_grouped_variant() -> None:
    main = group_variants(log_of(TRACES))[0]
    assert [" ".join(m.activities) for m in main.members] == ["a b b b c", "a b b c", "a b c"]
    assert all(m.cases == 1 and m.share == pytest.approx(1 / 5) for m in main.members)


def test_with_loops_a_back_and_forth_joins_its_main_path() -> None:
    found = group_variants(log_of(TRACES), loops=True)
    assert [(g.representative, g.cases) for g in found] == [(("a", "b", "c"), 4), (("a", "c"), 1)]


def test_a_log_without_timestamps_groups_without_throughput() -> None:
    log = log_of(TRACES)
    missing = pd.Series(pd.NaT, index=log.events.index, dtype="datetime64[us, UTC]")
    untimed = EventLog(events=log.events.assign(timestamp=missing), case_attributes=log.case_attributes,
                       has_timestamps=False)
    found = group_variants(untimed)
    assert found[0].cases == 3 and found[0].median_throughput_hours is None
