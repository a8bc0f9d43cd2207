"""The canonical event schema that every stage speaks, and the in-memory event log it fills."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EVENT_ID = "event_id"
CASE_ID = "case_id"
ACTIVITY = "activity"
TIMESTAMP = "timestamp"
RESOURCE = "resource"
SOURCE = "source"
ATTRIBUTES = "attributes"

#: Columns of the events frame handed to mining and conformance, in this order.
LOG_COLUMNS = [EVENT_ID, CASE_ID, ACTIVITY, TIMESTAMP, RESOURCE]


@dataclass(frozen=True)
class EventLog:
    """Events of one process, ordered by case and time, plus one row of business attributes a case.

    ``events`` has the columns of ``LOG_COLUMNS``; ``timestamp`` is tz-aware UTC, or all NaT
    when the source only knows the order of events (``has_timestamps`` is then False and timing
    figures are reported as unavailable, never invented). ``case_attributes`` is indexed by
    case id, one string column per business attribute (supplier, plant, ...).
    """

    events: pd.DataFrame
    case_attributes: pd.DataFrame
    has_timestamps: bool = True

    @property
    def case_count(self) -> int:
        return int(self.events[CASE_ID].nunique())

    @property
    def event_count(self) -> int:
        return len(self.events)


def case_sequences(events: pd.DataFrame) -> pd.Series:
    """The activity sequence of each case as a tuple (hashable), indexed by case id, sorted."""
    case_codes, case_ids = pd.factorize(events[CASE_ID], sort=True)
    activity_codes, activities = pd.factorize(events[ACTIVITY])
    order = np.argsort(case_codes, kind="stable")  # keeps each case's events in their order
    labels = np.asarray(activities, dtype=object)[activity_codes[order]].tolist()
    if not labels:
        return pd.Series(index=pd.Index(case_ids, name=CASE_ID), dtype="object")
    bounds = [0, *(np.flatnonzero(np.diff(case_codes[order])) + 1).tolist(), len(labels)]
    sequences = pd.Series(index=pd.Index(case_ids, name=CASE_ID), dtype="object")
    # List slices, not np.split: one small array a case costs ten times more at 100,000 cases.
    sequences[:] = [tuple(labels[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return sequences
