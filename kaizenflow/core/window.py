"""The window a night analyses: one row a case, and the events of only the cases that changed.

A night's stages need every window case's facts (its event count, first and last time, business
attributes, cost), but the events of only the cases whose events changed since the night before;
the events of any other case are read when a stage asks for them (``events_of``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from kaizenflow.core.events import (
    CASE_ID,
    EventLog,
    case_event_counts,
    case_times,
    cases_of,
    member_of,
)


@dataclass(frozen=True)
class Window:
    """The window's cases and the changed cases' events.

    ``cases`` is indexed by case id in text order, with each case's event count (``events``) and
    its ``first`` and ``last`` time (tz-aware UTC, NaT where it has none); ``case_attributes`` and
    ``case_costs`` are indexed alike. ``changed`` holds the events of the cases that changed (all
    of the window's on a first night), with the window's attribute columns; ``reader`` reads the
    events of any other window cases, as ``changed`` has them.
    """

    cases: pd.DataFrame
    case_attributes: pd.DataFrame
    changed: EventLog
    has_timestamps: bool
    reader: Callable[[pd.Index], EventLog]
    case_costs: pd.Series | None = None
    #: events of other window cases read with the changed ones (those a night will ask for)
    preloaded: EventLog | None = None

    @property
    def case_count(self) -> int:
        return len(self.cases)

    @property
    def event_count(self) -> int:
        return int(self.cases["events"].sum())

    @property
    def latest(self) -> pd.Timestamp | None:
        """The time of the window's latest event (None without times)."""
        if not self.has_timestamps or not len(self.cases):
            return None
        return pd.Timestamp(self.cases["last"].max())

    def throughput_hours(self) -> pd.Series:
        """Hours from first to last event of each case, as ``discovery.case_throughput_hours``
        (worked out once: patterns, tasks and their KPIs all ask)."""
        return self._throughput_hours

    @cached_property
    def _throughput_hours(self) -> pd.Series:
        if not self.has_timestamps:
            return pd.Series(dtype="float64")
        hours: pd.Series = (self.cases["last"] - self.cases["first"]).dt.total_seconds() / 3600
        return hours

    def events_of(self, cases: pd.Index) -> EventLog:
        """The events of the given window cases, from ``changed`` where it has them all."""
        changed = self.changed.case_attributes.index
        inside = member_of(cases, changed)
        if inside.all():
            if len(cases) == len(changed):
                return self.changed
            return cases_of(self.changed, pd.Index(cases))
        if self.preloaded is not None:
            preloaded = self.preloaded.case_attributes.index
            if (inside | member_of(cases, preloaded)).all():
                return _joined(cases_of(self.changed, pd.Index(cases[inside])),
                               cases_of(self.preloaded, pd.Index(cases[~inside])))
        return self.reader(pd.Index(cases))

    def whole(self) -> EventLog:
        """Every event of the window (read, unless every case changed)."""
        return self.events_of(self.cases.index)


def _joined(one: EventLog, other: EventLog) -> EventLog:
    """The events of two logs of distinct cases, in case order (each keeps its cases' order)."""
    if not len(other.events):
        return one
    if not len(one.events):
        return other
    events = pd.concat([one.events, other.events], ignore_index=True)
    for column in events.columns:  # activities and resources: categories of both, in text order
        if isinstance(one.events[column].dtype, pd.CategoricalDtype):
            names = one.events[column].cat.categories.union(other.events[column].cat.categories)
            events[column] = pd.Categorical(
                pd.concat([one.events[column].astype(object), other.events[column].astype(object)],
                          ignore_index=True), categories=names.sort_values())
    order = np.argsort(events[CASE_ID].to_numpy(dtype=object), kind="stable")
    events = events.iloc[order].reset_index(drop=True)
    attributes = pd.concat([one.case_attributes, other.case_attributes]).sort_index()
    costs = None if one.case_costs is None or other.case_costs is None else \
        pd.concat([one.case_costs, other.case_costs]).sort_index()
    return EventLog(events=events, case_attributes=attributes, has_timestamps=one.has_timestamps,
                    case_costs=costs)


def window_of_log(log: EventLog) -> Window:
    """A whole log as a window all of whose cases changed (a first night, tools and tests)."""
    counts = case_event_counts(log.events).astype("int64")
    ids = pd.Index(counts.index.astype(str), dtype=object, name=CASE_ID)
    times = case_times(log.events)
    cases = pd.DataFrame({
        "events": counts.to_numpy(dtype=np.int64),
        **{end: pd.to_datetime(times[end], utc=True).astype("datetime64[us, UTC]").array
           for end in ("first", "last")},
    }, index=ids)
    return Window(cases=cases, case_attributes=log.case_attributes, changed=log,
                  has_timestamps=log.has_timestamps, reader=lambda wanted: cases_of(log, wanted),
                  case_costs=log.case_costs)
