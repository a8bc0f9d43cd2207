"""Rules beside the model: service levels between activities and segregation of duties."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from conformance.types import SEGREGATION_OF_DUTIES, SLA_BREACH, Deviation
from kaizenflow.events import ACTIVITY, CASE_ID, RESOURCE, TIMESTAMP, EventLog


@dataclass(frozen=True)
class Sla:
    """From the first ``from_activity`` to the first ``to_activity`` after it, at most a limit.

    The limit is ``max_hours``, or per case the business attribute ``max_days_attribute`` in days.
    """

    name: str
    from_activity: str
    to_activity: str
    max_hours: float | None = None
    max_days_attribute: str | None = None


@dataclass(frozen=True)
class SegregationOfDuties:
    """No resource performs both activities in the same case."""

    name: str
    first_activity: str
    second_activity: str


RuleSpec = Sla | SegregationOfDuties


def check_rules(log: EventLog, rules: Sequence[RuleSpec]) -> list[Deviation]:
    deviations: list[Deviation] = []
    for rule in rules:
        if isinstance(rule, Sla):
            deviations.extend(check_sla(log, rule))
        else:
            deviations.extend(check_segregation(log, rule))
    return deviations


def check_sla(log: EventLog, rule: Sla) -> list[Deviation]:
    """Breaches of a service level; a log without timestamps cannot breach one (not checkable)."""
    if not log.has_timestamps:
        return []
    events = log.events
    starts = (
        events.loc[events[ACTIVITY] == rule.from_activity]
        .groupby(CASE_ID, observed=True)[TIMESTAMP].min().rename("start")
    )
    ends = events.loc[events[ACTIVITY] == rule.to_activity, [CASE_ID, TIMESTAMP]].merge(
        starts, left_on=CASE_ID, right_index=True
    )
    ends = ends.loc[ends[TIMESTAMP] >= ends["start"]]
    pairs = ends.groupby(CASE_ID, observed=True).agg(start=("start", "first"), end=(TIMESTAMP, "min"))
    hours = (pairs["end"] - pairs["start"]).dt.total_seconds() / 3600
    if rule.max_hours is not None:
        limit = pd.Series(rule.max_hours, index=pairs.index, dtype="float64")
    else:
        assert rule.max_days_attribute is not None
        if rule.max_days_attribute not in log.case_attributes.columns:
            raise ValueError(
                f"rule {rule.name}: case attribute {rule.max_days_attribute!r} is not extracted "
                f"(known: {', '.join(log.case_attributes.columns) or 'none'})"
            )
        days = pd.to_numeric(log.case_attributes[rule.max_days_attribute], errors="coerce")
        limit = days.reindex(pairs.index) * 24
    breached = ((hours > limit) & limit.notna()).to_numpy()
    return [
        Deviation(
            case_id=str(case_id), kind=SLA_BREACH, activity=rule.name,
            detail=f"{rule.from_activity} → {rule.to_activity}: {took / 24:.1f} d, "
                   f"limit {allowed / 24:.1f} d",
        )
        for case_id, took, allowed in sorted(
            zip(hours.index[breached], hours.to_numpy()[breached], limit.to_numpy()[breached],
                strict=True)
        )
    ]


def check_segregation(log: EventLog, rule: SegregationOfDuties) -> list[Deviation]:
    events = log.events.loc[log.events[RESOURCE].notna()]
    first = events.loc[events[ACTIVITY] == rule.first_activity, [CASE_ID, RESOURCE]]
    second = events.loc[events[ACTIVITY] == rule.second_activity, [CASE_ID, RESOURCE]]
    both = first.drop_duplicates().merge(second.drop_duplicates(), on=[CASE_ID, RESOURCE])
    both = both.drop_duplicates(CASE_ID).sort_values(CASE_ID)
    return [
        Deviation(
            case_id=str(case_id), kind=SEGREGATION_OF_DUTIES, activity=rule.name,
            detail=f"{resource} did both {rule.first_activity} and {rule.second_activity}",
        )
        for case_id, resource in zip(both[CASE_ID], both[RESOURCE], strict=True)
    ]
