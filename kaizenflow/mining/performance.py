"""Performance figures in calendar and working time: throughput, waiting versus processing, waits per edge.

Calendar time is what a customer experiences; working time is what the organisation could
have acted on. Both are reported so that a slow case over a holiday is not mistaken for a
slow team. Processing time needs the start of each activity instance: without a
``start_timestamp`` column it is reported as unavailable rather than guessed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaizenflow.core.events import ACTIVITY, EventLog, case_codes, case_times, value_counts
from kaizenflow.mining.calendar import BusinessCalendar, working_hours
from kaizenflow.mining.discovery import throughput
from kaizenflow.mining.steps import processing_hours, steps
from kaizenflow.mining.types import Throughput

NO_TIMESTAMPS = "the log has no timestamps: no timing figures"
NO_START_TIMES = "the events have no start_timestamp: processing time cannot be told from waiting"


@dataclass(frozen=True)
class EdgeWaiting:
    """Working time between the completion of ``source`` and the pick-up of ``target``."""

    source: str
    target: str
    frequency: int
    median_hours: float | None
    p90_hours: float | None
    total_hours: float | None


@dataclass(frozen=True)
class ActivityTiming:
    """Working time spent on an activity (needs start times) and waiting before it."""

    activity: str
    events: int
    median_processing_hours: float | None
    mean_processing_hours: float | None
    median_wait_before_hours: float | None


@dataclass(frozen=True)
class WaitingAndProcessing:
    """Per case, working hours worked on versus waited; ``processing_share`` is the flow efficiency."""

    cases: int
    median_processing_hours: float
    median_waiting_hours: float
    total_processing_hours: float
    total_waiting_hours: float
    processing_share: float | None


@dataclass(frozen=True)
class Performance:
    """Throughput in both clocks, and the working-time figures of ``calendar``.

    ``unavailable`` says which figures could not be computed and why.
    """

    calendar: BusinessCalendar
    calendar_throughput: Throughput
    working_throughput: Throughput
    waiting_and_processing: WaitingAndProcessing | None
    activities: tuple[ActivityTiming, ...]
    edges: tuple[EdgeWaiting, ...]
    unavailable: tuple[str, ...]


def case_working_hours(log: EventLog, calendar: BusinessCalendar) -> pd.Series:
    """Working hours from first to last event of each case; empty when the log has no timestamps."""
    if not log.has_timestamps:
        return pd.Series(dtype="float64")
    spans = case_times(log.events)
    return pd.Series(working_hours(spans["first"], spans["last"], calendar), index=spans.index)


def analyse_performance(log: EventLog, calendar: BusinessCalendar | None = None) -> Performance:
    """All performance figures of the log; ``calendar`` defaults to Mon–Fri 08–18 UTC."""
    calendar = calendar or BusinessCalendar()
    unavailable: list[str] = []
    if not log.has_timestamps:
        unavailable.append(NO_TIMESTAMPS)
    processing = processing_hours(log, calendar)
    if log.has_timestamps and processing is None:
        unavailable.append(NO_START_TIMES)
    waits = steps(log, calendar)
    return Performance(
        calendar=calendar,
        calendar_throughput=throughput(log),
        working_throughput=_distribution(case_working_hours(log, calendar), log.case_count),
        waiting_and_processing=_waiting_and_processing(log, waits, processing),
        activities=_activities(log, waits, processing),
        edges=_edges(waits, log.has_timestamps),
        unavailable=tuple(unavailable),
    )


def _distribution(hours: pd.Series, cases: int) -> Throughput:
    if hours.empty:
        return Throughput(cases=cases, median_hours=None, p90_hours=None, mean_hours=None)
    return Throughput(
        cases=len(hours), median_hours=float(hours.median()), p90_hours=float(hours.quantile(0.9)),
        mean_hours=float(hours.mean()),
    )


def _waiting_and_processing(
    log: EventLog, waits: pd.DataFrame, processing: pd.Series | None
) -> WaitingAndProcessing | None:
    """Case totals: the waits of its steps, and the processing of its events (no start: none).

    Parallel work of one case can overlap; processing then counts each activity in full and
    the overlap counts as no wait, so the two add up to more than the case's duration.
    """
    if processing is None:
        return None
    case, cases = case_codes(log.events)
    worked = np.bincount(case, weights=processing.fillna(0.0).to_numpy(), minlength=len(cases))
    step_case = case[waits["target_position"].to_numpy()]
    waited = np.bincount(step_case, weights=waits["wait_hours"].to_numpy(), minlength=len(cases))
    total_worked, total_waited = float(worked.sum()), float(waited.sum())
    busy = total_worked + total_waited
    return WaitingAndProcessing(
        cases=len(cases),
        median_processing_hours=float(np.median(worked)),
        median_waiting_hours=float(np.median(waited)),
        total_processing_hours=total_worked,
        total_waiting_hours=total_waited,
        processing_share=total_worked / busy if busy > 0 else None,
    )


def _activities(
    log: EventLog, waits: pd.DataFrame, processing: pd.Series | None
) -> tuple[ActivityTiming, ...]:
    events = log.events
    table = pd.DataFrame({"events": value_counts(events[ACTIVITY])})
    table["wait"] = waits.groupby("target")["wait_hours"].median()
    table["median"] = table["mean"] = float("nan")
    if processing is not None:
        by_activity = processing.groupby(events[ACTIVITY])
        table["median"], table["mean"] = by_activity.median(), by_activity.mean()
    found = [
        ActivityTiming(
            activity=str(activity), events=int(count), median_processing_hours=_value(median),
            mean_processing_hours=_value(mean), median_wait_before_hours=_value(wait),
        )
        for activity, count, wait, median, mean in table.itertuples(name=None)
    ]
    return tuple(sorted(found, key=lambda a: (-a.events, a.activity)))


def _edges(waits: pd.DataFrame, timed: bool) -> tuple[EdgeWaiting, ...]:
    grouped = waits.groupby(["source", "target"], sort=True, observed=True)["wait_hours"]
    table = pd.DataFrame({
        "frequency": grouped.size(), "median": grouped.median(), "p90": grouped.quantile(0.9),
        "total": grouped.sum(),
    })
    return tuple(
        EdgeWaiting(
            source=str(source), target=str(target), frequency=int(frequency),
            median_hours=_value(median) if timed else None,
            p90_hours=_value(p90) if timed else None,
            total_hours=_value(total) if timed else None,
        )
        for (source, target), frequency, median, p90, total in table.itertuples(name=None)
    )


def _value(value: float | None) -> float | None:
    return None if value is None or pd.isna(value) else float(value)

