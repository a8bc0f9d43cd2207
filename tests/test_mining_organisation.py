"""Organisation: who does which activity, who hands work to whom, workload over days and weeks."""

from __future__ import annotations

import pandas as pd
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.organisation import (
    resource_handovers,
    resources_per_activity,
    team_handovers,
    workload,
)

ROWS = [
    ("c1", "a", "2024-01-08T09:00:00Z", "ann"), ("c1", "b", "2024-01-08T10:00:00Z", "bob"),
    ("c1", "c", "2024-01-09T10:00:00Z", "bob"),
    ("c2", "a", "2024-01-08T11:00:00Z", "ann"), ("c2", "b", "2024-01-15T10:00:00Z", "cy"),
    ("c3", "a", "2024-01-08T12:00:00Z", "ann"), ("c3", "b", "2024-01-08T13:00:00Z", "bob"),
]


def test_resources_are_counted_per_activity_busiest_first() -> None:
    found = {a.activity: a for a in resources_per_activity(log_from_rows(ROWS))}
    assert found["b"].resources == {"bob": 2, "cy": 1}
    assert found["b"].events == 3


def test_hand_overs_are_directly_follows_on_resources() -> None:
    found = [(h.source, h.target, h.count, h.cases) for h in resource_handovers(log_from_rows(ROWS))]
    assert found == [("ann", "bob", 2, 2), ("ann", "cy", 1, 1), ("bob", "bob", 1, 1)]


def test_hand_overs_between_teams_map_resources_and_keep_the_unmapped_apart() -> None:
    found = team_handovers(log_from_rows(ROWS), {"ann": "front", "bob": "back"})
    assert [(h.source, h.target, h.count) for h in found] == [
        ("front", "back", 2), ("back", "back", 1), ("front", "unassigned", 1)
    ]


def test_events_without_a_resource_are_left_out() -> None:
    log = log_from_rows(ROWS)
    events = log.events.copy()
    events.loc[events["activity"] == "a", "resource"] = pd.NA
    found = resource_handovers(EventLog(events=events, case_attributes=log.case_attributes))
    assert [(h.source, h.target) for h in found] == [("bob", "bob")]


def test_workload_counts_events_and_cases_per_resource_per_week() -> None:
    found = [(w.resource, w.period_start, w.events, w.cases) for w in workload(log_from_rows(ROWS), "week")]
    assert found == [
        ("ann", "2024-01-08", 3, 3), ("bob", "2024-01-08", 3, 2), ("cy", "2024-01-15", 1, 1)
    ]


def test_workload_per_day_uses_the_local_date() -> None:
    log = log_from_rows(ROWS)
    in_utc = [(w.period_start, w.events) for w in workload(log, "day") if w.resource == "bob"]
    in_auckland = [(w.period_start, w.events) for w in workload(log, "day", timezone="Pacific/Auckland")
                   if w.resource == "bob"]  # UTC+13 in January: 13:00 UTC is 02:00 the next day
    assert in_utc == [("2024-01-08", 2), ("2024-01-09", 1)]
    assert in_auckland == [("2024-01-08", 1), ("2024-01-09", 2)]
