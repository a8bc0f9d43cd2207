"""Rework: how often each activity is repeated within a case, and what the repetition costs in time.

The cost is measured against cases that did the same activity exactly once, not against all
other cases: a case that never reached the activity took another path, and comparing with it
would mix the cost of repeating with the cost of the path.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaizenflow.core.events import ACTIVITY, EventLog, case_codes
from kaizenflow.mining.discovery import case_throughput_hours


@dataclass(frozen=True)
class ActivityRework:
    """Cases doing ``activity`` more than once, and their extra median throughput time.

    ``share`` is of all cases; ``share_of_cases_with_activity`` of the cases doing it at all.
    ``extra_median_hours`` = median throughput of repeating cases minus that of cases doing it once.
    """

    activity: str
    cases_with_activity: int
    cases_repeating: int
    share: float
    share_of_cases_with_activity: float
    median_hours_repeating: float | None
    median_hours_once: float | None
    extra_median_hours: float | None


@dataclass(frozen=True)
class Rework:
    """Rework over the whole log (cases repeating any activity) and per activity, most repeated first."""

    cases: int
    cases_with_rework: int
    share: float
    median_hours_with_rework: float | None
    median_hours_without_rework: float | None
    extra_median_hours: float | None
    activities: tuple[ActivityRework, ...]


def analyse_rework(log: EventLog) -> Rework:
    """Per activity and overall, from one count of events per (case, activity)."""
    events = log.events
    case_of_event, case_ids = case_codes(events)
    activity_codes, activities = pd.factorize(events[ACTIVITY])
    width = max(len(activities), 1)
    keys, counts = np.unique(case_of_event.astype(np.int64) * width + activity_codes, return_counts=True)
    pairs = pd.DataFrame({"case": keys // width, "activity": keys % width, "repeated": counts > 1})
    hours = case_throughput_hours(log)
    case_hours = hours.reindex(case_ids).to_numpy() if len(hours) else np.full(len(case_ids), np.nan)
    pairs["hours"] = case_hours[pairs["case"].to_numpy()]

    medians = pairs.groupby(["activity", "repeated"])["hours"].median()
    with_activity = np.bincount(pairs["activity"], minlength=len(activities))
    repeating = np.bincount(pairs["activity"], weights=pairs["repeated"], minlength=len(activities))
    total = len(case_ids)
    found = []
    for code, name in enumerate(activities):
        repeated_hours = _median(medians, (code, True), log)
        once_hours = _median(medians, (code, False), log)
        found.append(ActivityRework(
            activity=str(name), cases_with_activity=int(with_activity[code]),
            cases_repeating=int(repeating[code]), share=float(repeating[code]) / total,
            share_of_cases_with_activity=float(repeating[code]) / int(with_activity[code]),
            median_hours_repeating=repeated_hours, median_hours_once=once_hours,
            extra_median_hours=_difference(repeated_hours, once_hours),
        ))

    reworked = np.zeros(total, dtype=bool)
    reworked[pairs.loc[pairs["repeated"], "case"].to_numpy()] = True
    with_rework = _series_median(case_hours[reworked], log)
    without_rework = _series_median(case_hours[~reworked], log)
    return Rework(
        cases=total, cases_with_rework=int(reworked.sum()),
        share=float(reworked.mean()) if total else 0.0,
        median_hours_with_rework=with_rework, median_hours_without_rework=without_rework,
        extra_median_hours=_difference(with_rework, without_rework),
        activities=tuple(sorted(found, key=lambda a: (-a.cases_repeating, a.activity))),
    )


def _median(medians: pd.Series, key: tuple[int, bool], log: EventLog) -> float | None:
    if not log.has_timestamps or key not in medians.index:
        return None
    value = medians.loc[key]
    return None if pd.isna(value) else float(value)


def _series_median(values: np.ndarray, log: EventLog) -> float | None:
    if not log.has_timestamps or not len(values):
        return None
    return float(np.median(values))


def _difference(first: float | None, second: float | None) -> float | None:
    return None if first is None or second is None else first - second
