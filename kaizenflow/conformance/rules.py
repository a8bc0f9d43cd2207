"""Rules beside the model: service levels, durations, duties, required and forbidden work, attributes."""

from __future__ import annotations

import math
import re
from collections.abc import Sequence, Set
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaizenflow.conformance.types import (
    FORBIDDEN_ACTIVITY,
    MISSING_ACTIVITY,
    RULE_BREACH,
    SEGREGATION_OF_DUTIES,
    SLA_BREACH,
    Deviation,
)
from kaizenflow.core.events import (
    ACTIVITY,
    CASE_ID,
    RESOURCE,
    TIMESTAMP,
    EventLog,
    case_codes,
    case_times,
    positions_in,
)


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


@dataclass(frozen=True)
class FourEyes(SegregationOfDuties):
    """An approval (``second_activity``) by someone other than who did ``first_activity``.

    This is segregation of duties under the name approvers use, so it is checked as one and its
    breaches have the kind ``segregation_of_duties``.
    """


@dataclass(frozen=True)
class CaseDuration:
    """From a case's first event to its last, at most ``max_hours``.

    A running case already over the limit breaches it too: it can only take longer.
    """

    name: str
    max_hours: float


@dataclass(frozen=True)
class MandatoryActivity:
    """Every finished case contains ``activity``; running cases may simply not have reached it."""

    name: str
    activity: str


@dataclass(frozen=True)
class ForbiddenActivity:
    """No case ever contains ``activity`` (e.g. a manual override that should not exist)."""

    name: str
    activity: str


OPERATORS = ("==", "!=", "<=", ">=", "<", ">")


@dataclass(frozen=True)
class AttributeCondition:
    """A case attribute compared with another attribute or with a constant, e.g. payment == invoice.

    Two numbers are equal when they differ by at most ``tolerance`` (also for <= and >=, and
    never "less" within it). Two attribute values that are not both numbers compare as text, with
    == and != only. A case missing either value, with text where a number constant or < or >
    needs a number, is not judged: that is not a breach.
    """

    name: str
    attribute: str
    operator: str
    other_attribute: str | None = None
    value: float | str | None = None
    tolerance: float = 0.0

    def __post_init__(self) -> None:
        if self.operator not in OPERATORS:
            raise ValueError(f"rule {self.name}: operator {self.operator!r} is not one of "
                             f"{' '.join(OPERATORS)}")
        if (self.other_attribute is None) == (self.value is None):
            raise ValueError(f"rule {self.name}: compare with exactly one of another attribute or a value")
        if isinstance(self.value, str) and self.operator not in ("==", "!="):
            raise ValueError(f"rule {self.name}: text can only be compared with == or !=")
        if not self.tolerance >= 0:
            raise ValueError(f"rule {self.name}: the tolerance must be zero or more")

    @property
    def expression(self) -> str:
        other = self.other_attribute if self.other_attribute is not None else repr(self.value)
        return f"{self.attribute} {self.operator} {other}"


_CONDITION = re.compile(r"^\s*([A-Za-z_][\w.]*)\s*(==|!=|<=|>=|<|>)\s*(.+?)\s*$")
_NAME = re.compile(r"^[A-Za-z_][\w.]*$")


def parse_condition(name: str, expression: str, tolerance: float = 0.0) -> AttributeCondition:
    """An ``AttributeCondition`` from text such as ``payment_amount == invoice_amount``.

    The right side is a number, a quoted text ('EUR' or "EUR"), or another attribute's name.
    """
    match = _CONDITION.match(expression)
    if match is None:
        raise ValueError(f"rule {name}: {expression!r} is not 'attribute operator attribute-or-value'")
    attribute, operator, right = match.groups()
    if len(right) >= 2 and right[0] == right[-1] and right[0] in "'\"":
        return AttributeCondition(name, attribute, operator, value=right[1:-1], tolerance=tolerance)
    number = _number(right)
    if number is not None:
        return AttributeCondition(name, attribute, operator, value=number, tolerance=tolerance)
    if _NAME.match(right):
        return AttributeCondition(name, attribute, operator, other_attribute=right, tolerance=tolerance)
    raise ValueError(f"rule {name}: {right!r} is neither a number, a quoted text nor an attribute name")


RuleSpec = (
    Sla | SegregationOfDuties | CaseDuration | MandatoryActivity | ForbiddenActivity | AttributeCondition
)


def check_rules(
    log: EventLog, rules: Sequence[RuleSpec], open_cases: Set[str] = frozenset()
) -> list[Deviation]:
    """Breaches of every rule; ``open_cases`` (may still be running) are spared mandatory checks."""
    deviations: list[Deviation] = []
    for rule in rules:
        if isinstance(rule, Sla):
            deviations.extend(check_sla(log, rule))
        elif isinstance(rule, SegregationOfDuties):
            deviations.extend(check_segregation(log, rule))
        elif isinstance(rule, CaseDuration):
            deviations.extend(check_case_duration(log, rule))
        elif isinstance(rule, MandatoryActivity):
            deviations.extend(check_mandatory(log, rule, open_cases))
        elif isinstance(rule, ForbiddenActivity):
            deviations.extend(check_forbidden(log, rule))
        else:
            deviations.extend(check_attribute_condition(log, rule))
    return deviations


def check_sla(log: EventLog, rule: Sla) -> list[Deviation]:
    """Breaches of a service level; a log without timestamps cannot breach one (not checkable)."""
    if not log.has_timestamps:
        return []
    events = log.events
    # Paired on integer case codes: joining on the text ids made Python strings of every end event
    # (the night's peak memory, on a million events).
    case_of_event, case_ids = case_codes(events)
    times = events[TIMESTAMP].array
    is_start = (events[ACTIVITY] == rule.from_activity).to_numpy(dtype=bool)
    is_end = (events[ACTIVITY] == rule.to_activity).to_numpy(dtype=bool)
    first_start = pd.Series(times[is_start]).groupby(case_of_event[is_start]).min()
    end_cases, end_times = case_of_event[is_end], times[is_end]
    after = np.asarray(end_times >= first_start.reindex(end_cases).array, dtype=bool)  # NaT: False
    first_end = pd.Series(end_times[after]).groupby(end_cases[after]).min()
    took = (first_end - first_start.reindex(first_end.index)).dt.total_seconds() / 3600
    paired = pd.Index(case_ids.take(first_end.index.to_numpy()), name=CASE_ID)
    hours = pd.Series(took.to_numpy(), index=paired)
    if rule.max_hours is not None:
        limit = pd.Series(rule.max_hours, index=hours.index, dtype="float64")
    else:
        assert rule.max_days_attribute is not None
        if rule.max_days_attribute not in log.case_attributes.columns:
            raise ValueError(
                f"rule {rule.name}: case attribute {rule.max_days_attribute!r} is not extracted "
                f"(known: {', '.join(log.case_attributes.columns) or 'none'})"
            )
        # a few distinct terms over many cases: each converted to a number once
        codes, terms = pd.factorize(log.case_attributes[rule.max_days_attribute])
        days = np.append(pd.to_numeric(pd.Series(terms.astype(object)), errors="coerce").to_numpy(
            dtype="float64"), np.nan)  # code -1, a case without the attribute or its row: no limit
        rows = positions_in(hours.index, log.case_attributes.index)
        limit = pd.Series(days[np.where(rows >= 0, codes[rows], -1)] * 24, index=hours.index)
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
    events = log.events  # selected by activity first: the log is not copied whole
    known = events[RESOURCE].notna()
    first = events.loc[known & (events[ACTIVITY] == rule.first_activity), [CASE_ID, RESOURCE]]
    second = events.loc[known & (events[ACTIVITY] == rule.second_activity), [CASE_ID, RESOURCE]]
    both = first.drop_duplicates().merge(second.drop_duplicates(), on=[CASE_ID, RESOURCE])
    both = both.drop_duplicates(CASE_ID).sort_values(CASE_ID)
    return [
        Deviation(
            case_id=str(case_id), kind=SEGREGATION_OF_DUTIES, activity=rule.name,
            detail=f"{resource} did both {rule.first_activity} and {rule.second_activity}",
        )
        for case_id, resource in zip(both[CASE_ID], both[RESOURCE], strict=True)
    ]


def check_case_duration(log: EventLog, rule: CaseDuration) -> list[Deviation]:
    """Cases longer than the limit; a log without timestamps has no durations (not checkable)."""
    if not log.has_timestamps:
        return []
    spans = case_times(log.events)
    hours = (spans["last"] - spans["first"]).dt.total_seconds() / 3600
    late = hours[hours > rule.max_hours]
    return [
        Deviation(case_id=str(case_id), kind=SLA_BREACH, activity=rule.name,
                  detail=f"case took {_duration(float(took))}, limit {_duration(rule.max_hours)}")
        for case_id, took in sorted(zip(late.index.astype(str), late.to_numpy(), strict=True))
    ]


def check_mandatory(log: EventLog, rule: MandatoryActivity, open_cases: Set[str]) -> list[Deviation]:
    events = log.events
    cases = set(events[CASE_ID].astype(str))
    having = set(events.loc[events[ACTIVITY] == rule.activity, CASE_ID].astype(str))
    return [
        Deviation(case_id=case_id, kind=MISSING_ACTIVITY, activity=rule.name,
                  detail=f"finished without {rule.activity}")
        for case_id in sorted(cases - having - set(open_cases))
    ]


def check_forbidden(log: EventLog, rule: ForbiddenActivity) -> list[Deviation]:
    events = log.events
    counts = events.loc[events[ACTIVITY] == rule.activity].groupby(CASE_ID, observed=True).size()
    return [
        Deviation(case_id=case_id, kind=FORBIDDEN_ACTIVITY, activity=rule.name,
                  detail=f"{rule.activity} occurred" + (f" {count} times" if count > 1 else ""))
        for case_id, count in sorted(zip(counts.index.astype(str), counts.to_numpy(), strict=True))
        if count > 0
    ]


def check_attribute_condition(log: EventLog, rule: AttributeCondition) -> list[Deviation]:
    attributes = log.case_attributes
    needed = [rule.attribute] + ([rule.other_attribute] if rule.other_attribute is not None else [])
    for column in needed:
        if column not in attributes.columns:
            raise ValueError(f"rule {rule.name}: case attribute {column!r} is not extracted "
                             f"(known: {', '.join(attributes.columns) or 'none'})")
    left = attributes[rule.attribute]
    right = attributes[rule.other_attribute] if rule.other_attribute is not None else None
    deviations = []
    for position, case_id in enumerate(attributes.index.astype(str)):
        this = _present(left.iloc[position])
        other = _present(right.iloc[position]) if right is not None else rule.value
        if this is None or other is None or _holds(this, other, rule) is not False:
            continue
        shown = f"{this}" if right is None else f"{this}, {rule.other_attribute} = {other}"
        tolerance = f" (tolerance {rule.tolerance:g})" if rule.tolerance else ""
        deviations.append(Deviation(
            case_id=case_id, kind=RULE_BREACH, activity=rule.name,
            detail=f"expected {rule.expression}{tolerance}, but {rule.attribute} = {shown}",
        ))
    return sorted(deviations, key=lambda d: d.case_id)


def _holds(this: str | float, other: str | float, rule: AttributeCondition) -> bool | None:
    """Whether the comparison holds; None when it cannot be judged (text where numbers are needed)."""
    left, right = _number(this), _number(other)
    if left is not None and right is not None:
        slack = rule.tolerance + 1e-9 * max(abs(left), abs(right), 1.0)  # absorb float rounding
        sign = 0 if abs(left - right) <= slack else (-1 if left < right else 1)
    elif rule.operator in ("==", "!=") and (rule.other_attribute is not None or isinstance(rule.value, str)):
        sign = 0 if str(this) == str(other) else 1
    else:
        return None
    return {"==": sign == 0, "!=": sign != 0, "<": sign < 0, "<=": sign <= 0, ">": sign > 0,
            ">=": sign >= 0}[rule.operator]


def _present(value: object) -> str | None:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    text = str(value).strip()
    return text or None


def _number(value: str | float) -> float | None:
    if isinstance(value, float | int):
        return float(value)
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _duration(hours: float) -> str:
    return f"{hours:.1f} h" if hours < 48 else f"{hours / 24:.1f} d"
