"""Who does the work: resources per activity, hand-overs between resources and teams, workload over time.

Events without a resource are left out of every count here (an automated step, or a source
that does not record who acted); hand-overs to or from them are left out too, rather than
attributed to a made-up "unknown" person.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from kaizenflow.core.events import ACTIVITY, CASE_ID, RESOURCE, TIMESTAMP, EventLog, case_codes
from kaizenflow.mining.steps import distinct_per_case, step_positions


@dataclass(frozen=True)
class ActivityResources:
    """Events of ``activity`` per resource, busiest first."""

    activity: str
    events: int
    resources: dict[str, int]


@dataclass(frozen=True)
class Handover:
    """Work passed from ``source`` to ``target`` (resources or teams) between consecutive events of a case.

    ``source == target`` counts work the same resource (or team) kept: directly-follows on
    resources, as pm4py's handover-of-work network counts it.
    """

    source: str
    target: str
    count: int
    cases: int


@dataclass(frozen=True)
class Workload:
    """Events done and distinct cases touched by ``resource`` in the day or week from ``period_start``."""

    resource: str
    period_start: str
    events: int
    cases: int


def resources_per_activity(log: EventLog) -> tuple[ActivityResources, ...]:
    """For each activity the resources doing it, with event counts, most frequent activity first."""
    events = log.events.loc[log.events[RESOURCE].notna(), [ACTIVITY, RESOURCE]]
    table = events.groupby([ACTIVITY, RESOURCE], observed=True).size().rename("events").reset_index()
    table = table.sort_values(["events", RESOURCE], ascending=[False, True])
    found = [
        ActivityResources(
            activity=str(activity), events=int(rows["events"].sum()),
            resources=dict(zip(rows[RESOURCE].astype(str).tolist(), rows["events"].tolist(), strict=True)),
        )
        for activity, rows in table.groupby(ACTIVITY, observed=True, sort=False)
    ]
    return tuple(sorted(found, key=lambda a: (-a.events, a.activity)))


def resource_handovers(log: EventLog) -> tuple[Handover, ...]:
    """Directly-follows on resources within each case, most frequent first."""
    codes, names = pd.factorize(log.events[RESOURCE])
    return _handovers(log, codes, [str(name) for name in names])


def team_handovers(
    log: EventLog, teams: Mapping[str, str], unassigned: str = "unassigned"
) -> tuple[Handover, ...]:
    """Directly-follows on teams: each resource mapped by ``teams``, others to ``unassigned``."""
    codes, resources = pd.factorize(log.events[RESOURCE])
    team_of = [teams.get(str(resource), unassigned) for resource in resources]
    team_codes, team_names = pd.factorize(pd.Series(team_of, dtype="object"))
    lookup = np.append(team_codes, -1)  # an event without resource (code -1) gets the last entry: -1
    return _handovers(log, lookup[codes], [str(name) for name in team_names])


def workload(
    log: EventLog, period: Literal["day", "week"] = "week", timezone: str = "UTC"
) -> tuple[Workload, ...]:
    """Events and cases per resource per local day, or per week starting Monday; empty without timestamps."""
    if not log.has_timestamps:
        return ()
    events = log.events.loc[log.events[RESOURCE].notna()]
    local = events[TIMESTAMP].dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    if period == "week":
        local = local - pd.to_timedelta(local.dt.day_of_week, unit="D")
    frame = pd.DataFrame({"resource": events[RESOURCE], "period": local, "case": events[CASE_ID]})
    table = frame.groupby(["resource", "period"], observed=True).agg(
        events=("case", "size"), cases=("case", "nunique")
    )
    return tuple(
        Workload(resource=str(resource), period_start=pd.Timestamp(start).date().isoformat(),
                 events=int(n_events), cases=int(n_cases))
        for (resource, start), n_events, n_cases in table.itertuples(name=None)
    )


def _handovers(log: EventLog, actor: np.ndarray, names: list[str]) -> tuple[Handover, ...]:
    """Hand-overs from integer actor codes per event (-1: no actor, left out)."""
    source, target = step_positions(log.events)
    case, _ = case_codes(log.events)
    known = (actor[source] >= 0) & (actor[target] >= 0)
    width = max(len(names), 1)
    pair = actor[source][known].astype(np.int64) * width + actor[target][known]
    counted = distinct_per_case(case[target][known], pair)
    found = [
        Handover(source=names[code // width], target=names[code % width], count=int(n), cases=int(c))
        for code, n, c in zip(counted.codes.tolist(), counted.occurrences, counted.cases, strict=True)
    ]
    return tuple(sorted(found, key=lambda h: (-h.count, h.source, h.target)))
