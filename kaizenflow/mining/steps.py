"""Consecutive events of a case side by side: the shared ground of timing, bottleneck and hand-over figures.

A step is an event together with the event before it in the same case, in the order of the
events frame (case, then completion time). Performance, bottlenecks, organisation, comparison
and drift all read the same steps, so they agree on what a hand-over and a wait are. (pm4py
orders an interval log by start time instead; a frame sorted that way gives pm4py's pairs.)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaizenflow.core.events import ACTIVITY, CASE_ID, TIMESTAMP, EventLog, case_codes
from kaizenflow.mining.calendar import BusinessCalendar, working_hours

#: Optional column of the events frame: when the activity instance started (tz-aware UTC).
START_TIMESTAMP = "start_timestamp"


def step_positions(events: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Positions (into ``events``) of each step's earlier and later event."""
    codes, _ = case_codes(events)
    later = np.flatnonzero(codes[1:] == codes[:-1]) + 1
    return later - 1, later


@dataclass(frozen=True)
class StepCodes:
    """Each step as integer codes: its case (into ``cases``), and its edge ``source * width + target``.

    Integer codes let the distinct edges of each case be found with one sort instead of hashing
    a million strings.
    """

    case: np.ndarray
    edge: np.ndarray
    cases: pd.Index
    activities: pd.Index

    @property
    def width(self) -> int:
        return max(len(self.activities), 1)

    def edge_name(self, code: int) -> tuple[str, str]:
        """Source and target activity of an edge code."""
        return str(self.activities[code // self.width]), str(self.activities[code % self.width])


def step_codes(events: pd.DataFrame) -> StepCodes:
    """The steps of ``events`` as case and edge codes."""
    source, target = step_positions(events)
    activity, activities = pd.factorize(events[ACTIVITY])
    case, cases = case_codes(events)
    width = max(len(activities), 1)
    edge = activity[source].astype(np.int64) * width + activity[target]
    return StepCodes(case=case[target].astype(np.int64), edge=edge, cases=pd.Index(cases),
                     activities=pd.Index(activities))


def distinct(values: np.ndarray) -> np.ndarray:
    """Sorted distinct integers by one sort: plain ``np.unique`` takes a hash path that is ten
    times slower on a million values (numpy 2.4)."""
    ordered = np.sort(values)
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]] if len(ordered) else ordered


@dataclass(frozen=True)
class PairCounts:
    """Per distinct code: how often it occurs, and in how many distinct cases."""

    codes: np.ndarray
    occurrences: np.ndarray
    cases: np.ndarray


def distinct_per_case(case: np.ndarray, code: np.ndarray) -> PairCounts:
    """Occurrences and distinct cases of each code (an edge, a hand-over), from aligned integer arrays."""
    which, codes = pd.factorize(code)
    occurrences = np.bincount(which, minlength=len(codes))
    once = distinct(case.astype(np.int64) * max(len(codes), 1) + which)
    cases = np.bincount(once % max(len(codes), 1), minlength=len(codes))
    return PairCounts(codes=codes, occurrences=occurrences, cases=cases)


def has_start_times(log: EventLog) -> bool:
    """Whether processing can be told from waiting: timestamps and at least one start time exist."""
    return (
        log.has_timestamps
        and START_TIMESTAMP in log.events.columns
        and bool(log.events[START_TIMESTAMP].notna().any())
    )


def steps(log: EventLog, calendar: BusinessCalendar) -> pd.DataFrame:
    """One row per step: case, source and target activity, when work arrived, the wait, the target's position.

    ``arrived`` is the completion of the source event: from then on the work waited for the
    target. The wait ends when the target started, if its start is known, else when it
    completed (then it includes the target's processing, as pm4py's performance DFG does). A
    start before the source's completion (overlap) counts as no wait. ``wait_hours`` is
    working time of ``calendar``; NaN throughout when the log has no timestamps.
    """
    events = log.events
    source, target = step_positions(events)
    completed = events[TIMESTAMP]
    arrived = completed.iloc[source].reset_index(drop=True)
    picked_up = completed.iloc[target].reset_index(drop=True)
    if has_start_times(log):
        started = events[START_TIMESTAMP].iloc[target].reset_index(drop=True)
        picked_up = started.where(started.notna(), picked_up)
        picked_up = picked_up.where(picked_up >= arrived, arrived)
    if log.has_timestamps:
        wait = working_hours(arrived, picked_up, calendar)
    else:
        wait = np.full(len(source), np.nan)
    return pd.DataFrame({
        CASE_ID: _take(events[CASE_ID], target),
        "source": _take(events[ACTIVITY], source),
        "target": _take(events[ACTIVITY], target),
        "arrived": arrived,
        "wait_hours": wait,
        "target_position": target,
    })


def processing_hours(log: EventLog, calendar: BusinessCalendar) -> pd.Series | None:
    """Working hours from start to completion of each event (NaN without a start); None without starts."""
    if not has_start_times(log):
        return None
    events = log.events
    hours = working_hours(events[START_TIMESTAMP], events[TIMESTAMP], calendar)
    return pd.Series(hours, index=events.index, name="processing_hours")


def _take(column: pd.Series, positions: np.ndarray) -> pd.Series:
    return column.iloc[positions].reset_index(drop=True)
