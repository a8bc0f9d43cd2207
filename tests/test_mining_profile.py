"""Profiling a log for ``kaizen inspect``: sizes, attribute types, data-quality warnings, JSON shape."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.profile import profile_log

ROWS = [
    ("c1", "a", "2024-01-01T08:00:00Z", "ann"), ("c1", "b", "2024-01-01T09:00:00Z", "bob"),
    ("c1", "b", "2024-01-01T09:00:00Z", "bob"),  # recorded twice
    ("c2", "a", "2024-01-02T08:00:00Z", "ann"), ("c2", "c", "2024-01-03T08:00:00Z", "ann"),
    ("c3", "a", "2024-01-04T08:00:00Z", "ann"),  # a single event
]
ATTRIBUTES = {
    "amount": {"c1": "12.5", "c2": "7", "c3": "1e3"},
    "urgent": {"c1": "true", "c2": "False", "c3": "true"},
    "due": {"c1": "2024-02-01", "c2": "2024-02-03T10:00:00Z", "c3": "2024-02-01"},
    "plant": {"c1": "north", "c2": "north", "c3": "south"},
    "note": {"c1": "call back", "c2": "fine", "c3": "late"},
}


def test_sizes_and_time_span() -> None:
    found = profile_log(log_from_rows(ROWS))
    assert (found.cases, found.events, found.activities, found.variants, found.resources) == (3, 6, 3, 3, 2)
    assert found.first_timestamp == "2024-01-01T08:00:00+00:00"
    assert found.span_days == pytest.approx(3.0)


def test_attribute_types_are_inferred_from_their_values() -> None:
    found = {a.name: a for a in profile_log(log_from_rows(ROWS, ATTRIBUTES)).attributes}
    assert {name: a.inferred_type for name, a in found.items()} == {
        "amount": "numeric", "urgent": "boolean", "due": "datetime", "plant": "categorical", "note": "text",
        "resource": "categorical",
    }
    assert (found["plant"].cardinality, found["plant"].examples) == (2, ("north", "south"))
    assert found["resource"].level == "event"


def test_duplicate_events_and_single_event_cases_are_warned_about() -> None:
    found = {w.code: w.count for w in profile_log(log_from_rows(ROWS)).warnings}
    assert found == {"duplicate_events": 1, "single_event_cases": 1}


def test_a_log_without_timestamps_says_so_and_has_no_time_span() -> None:
    log = log_from_rows(ROWS)
    missing = pd.Series(pd.NaT, index=log.events.index, dtype="datetime64[us, UTC]")
    untimed = EventLog(events=log.events.assign(timestamp=missing), case_attributes=log.case_attributes,
                       has_timestamps=False)
    found = profile_log(untimed)
    assert found.first_timestamp is None and found.span_days is None
    assert {w.code: w.count for w in found.warnings}["missing_timestamps"] == 6


def test_the_profile_survives_a_json_round_trip_unchanged() -> None:
    as_dict = profile_log(log_from_rows(ROWS, ATTRIBUTES)).to_dict()
    assert json.loads(json.dumps(as_dict)) == as_dict
