"""A profile of an event log — size, time span, attributes, data-quality warnings — behind ``kaizen inspect``.

Before anyone trusts a throughput time or a conformance rate they should see what the log
holds: how many cases and events, which attributes with which values, and what is wrong with
it (events without timestamps, the same event recorded twice, cases of a single event, which
are usually fragments cut off by the extraction window).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

import pandas as pd

from kaizenflow.core.events import ACTIVITY, CASE_ID, EVENT_ID, RESOURCE, TIMESTAMP, EventLog, value_counts
from kaizenflow.mining.discovery import case_variants
from kaizenflow.mining.steps import START_TIMESTAMP, has_start_times

_BOOLEAN_WORDS = ({"true", "false"}, {"yes", "no"})


@dataclass(frozen=True)
class AttributeProfile:
    """One case or event attribute: its inferred type, distinct values, missing values, commonest values.

    Types: numeric, boolean, datetime, categorical (values repeat, and there are at most 20
    distinct values or half as many as values), text (mostly distinct: free text, identifiers)
    or empty.
    """

    name: str
    level: Literal["case", "event"]
    inferred_type: str
    cardinality: int
    missing: int
    examples: tuple[str, ...]


@dataclass(frozen=True)
class LogWarning:
    """A data-quality finding: a stable ``code`` for machines, a ``message`` for people, how many rows."""

    code: str
    message: str
    count: int


@dataclass(frozen=True)
class LogProfile:
    """What an event log holds; ``to_dict`` gives plain JSON types for ``kaizen inspect --json``."""

    cases: int
    events: int
    activities: int
    variants: int
    resources: int
    has_timestamps: bool
    has_start_times: bool
    first_timestamp: str | None
    last_timestamp: str | None
    span_days: float | None
    attributes: tuple[AttributeProfile, ...]
    warnings: tuple[LogWarning, ...]

    def to_dict(self) -> dict[str, Any]:
        plain: dict[str, Any] = _lists(asdict(self))
        return plain


def profile_log(log: EventLog, examples: int = 3) -> LogProfile:
    events = log.events
    stamps = events[TIMESTAMP].dropna()
    first = stamps.min() if len(stamps) else None
    last = stamps.max() if len(stamps) else None
    attributes = [_attribute(str(name), "case", log.case_attributes[name], examples)
                  for name in log.case_attributes.columns]
    attributes += [_attribute(str(name), "event", events[name], examples) for name in events.columns
                   if name not in (EVENT_ID, CASE_ID, ACTIVITY, TIMESTAMP)]
    return LogProfile(
        cases=log.case_count,
        events=log.event_count,
        activities=int(events[ACTIVITY].nunique()),
        variants=len(pd.unique(case_variants(log))) if len(events) else 0,
        resources=int(events[RESOURCE].nunique()),
        has_timestamps=log.has_timestamps,
        has_start_times=has_start_times(log),
        first_timestamp=first.isoformat() if first is not None else None,
        last_timestamp=last.isoformat() if last is not None else None,
        span_days=(last - first).total_seconds() / 86400 if first is not None and last is not None else None,
        attributes=tuple(attributes),
        warnings=tuple(_warnings(log)),
    )


def _warnings(log: EventLog) -> list[LogWarning]:
    events = log.events
    found: list[LogWarning] = []
    missing = int(events[TIMESTAMP].isna().sum())
    if missing:
        found.append(LogWarning(
            "missing_timestamps", f"{missing} events have no timestamp: timing figures are unavailable",
            missing,
        ))
    duplicates = int(events.duplicated(subset=[CASE_ID, ACTIVITY, TIMESTAMP, RESOURCE]).sum())
    if duplicates:
        found.append(LogWarning(
            "duplicate_events",
            f"{duplicates} events repeat an earlier event of the same case, activity, timestamp and resource",
            duplicates,
        ))
    sizes = events.groupby(CASE_ID, observed=True).size()
    single = int((sizes == 1).sum())
    if single:
        found.append(LogWarning(
            "single_event_cases", f"{single} cases have a single event (often cut off by the extraction)",
            single,
        ))
    no_resource = int(events[RESOURCE].isna().sum())
    if no_resource:
        found.append(LogWarning(
            "missing_resources", f"{no_resource} events have no resource: left out of organisational figures",
            no_resource,
        ))
    if START_TIMESTAMP in events.columns:
        late = int((events[START_TIMESTAMP] > events[TIMESTAMP]).sum())
        if late:
            found.append(LogWarning(
                "start_after_completion", f"{late} events start after they complete", late
            ))
    return found


def _attribute(
    name: str, level: Literal["case", "event"], values: pd.Series, examples: int
) -> AttributeProfile:
    present = values.dropna()
    counts = value_counts(present)
    counts = counts.sort_index(kind="stable").sort_values(ascending=False, kind="stable")
    return AttributeProfile(
        name=name, level=level, inferred_type=_infer_type(present, counts.index),
        cardinality=len(counts), missing=int(values.isna().sum()),
        examples=tuple(str(value) for value in counts.index[:examples]),
    )


def _infer_type(present: pd.Series, distinct_values: pd.Index) -> str:
    """Typed columns keep their type; text columns are tested on their distinct values."""
    if present.empty:
        return "empty"
    if pd.api.types.is_bool_dtype(present):
        return "boolean"
    if pd.api.types.is_datetime64_any_dtype(present):
        return "datetime"
    if pd.api.types.is_numeric_dtype(present):
        return "numeric"
    distinct = pd.Series(distinct_values.astype(str), dtype="string").str.strip()
    words = set(distinct.str.lower())
    if any(words <= pair for pair in _BOOLEAN_WORDS):
        return "boolean"
    if pd.to_numeric(distinct, errors="coerce").notna().all():
        return "numeric"
    if pd.to_datetime(distinct, errors="coerce", format="ISO8601", utc=True).notna().all():
        return "datetime"
    repeats = len(distinct) < len(present)
    return "categorical" if repeats and len(distinct) <= max(20, len(present) / 2) else "text"


def _lists(value: Any) -> Any:
    """Tuples become lists, recursively: the JSON shape, so a round-trip compares equal."""
    if isinstance(value, dict):
        return {key: _lists(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_lists(item) for item in value]
    return value
