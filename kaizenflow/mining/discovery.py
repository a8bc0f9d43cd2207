"""Process map, variants and throughput times, computed column-wise over the whole log."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kaizenflow.core.events import (
    ACTIVITY,
    TIMESTAMP,
    EventLog,
    case_codes,
    case_sequences,
    case_times,
    value_counts,
)
from kaizenflow.mining.types import MapEdge, ProcessMap, Throughput, Variant


def case_variants(log: EventLog) -> pd.Series:
    """The activity sequence of each case, as a tuple, indexed by case id."""
    return case_sequences(log.events)


def case_throughput_hours(log: EventLog) -> pd.Series:
    """Hours from first to last event of each case; empty when the log has no timestamps."""
    if not log.has_timestamps:
        return pd.Series(dtype="float64")
    spans = case_times(log.events)
    return (spans["last"] - spans["first"]).dt.total_seconds() / 3600


def discover_process_map(log: EventLog) -> ProcessMap:
    """Directly-follows graph with frequencies, case counts and waiting times on edges.

    Grouped on integer codes of activities and cases: grouping, shifting and filtering the
    Arrow-backed text columns themselves took most of a night's discovery.
    """
    events = log.events
    activity_codes, activities = pd.factorize(events[ACTIVITY], sort=True)
    case_of_event = case_codes(events)[0]
    same_case = case_of_event[1:] == case_of_event[:-1]
    waits = ((events[TIMESTAMP].shift(-1) - events[TIMESTAMP]).dt.total_seconds() / 3600).to_numpy()
    pairs = pd.DataFrame({
        "edge": activity_codes[:-1][same_case].astype(np.int64) * len(activities)
        + activity_codes[1:][same_case],
        "case": case_of_event[:-1][same_case], "wait_hours": waits[:-1][same_case],
    })
    stats = pairs.groupby("edge", sort=True).agg(
        frequency=("case", "size"),
        cases=("case", "nunique"),
        median=("wait_hours", "median"),
        p90=("wait_hours", lambda s: s.quantile(0.9)),
    )
    names = np.asarray(activities, dtype=object)
    edges = tuple(
        MapEdge(
            source=str(names[edge // len(activities)]), target=str(names[edge % len(activities)]),
            frequency=int(frequency), cases=int(cases),
            median_wait_hours=_hours(median) if log.has_timestamps else None,
            p90_wait_hours=_hours(p90) if log.has_timestamps else None,
        )
        for edge, frequency, cases, median, p90 in stats.itertuples(index=True, name=None)
    )
    first, last = np.r_[True, ~same_case][:len(events)], np.r_[~same_case, True][:len(events)]
    return ProcessMap(
        activities=_counts(events[ACTIVITY]),
        edges=edges,
        start_activities=_counts(events[ACTIVITY][first]),
        end_activities=_counts(events[ACTIVITY][last]),
    )


def discover_variants(log: EventLog) -> list[Variant]:
    """Distinct activity sequences, most frequent first, with their median throughput time."""
    sequences = case_variants(log)
    total = len(sequences)
    frame = pd.DataFrame({"variant": sequences})
    throughput = case_throughput_hours(log)
    frame["hours"] = throughput.reindex(frame.index) if len(throughput) else float("nan")
    grouped = frame.groupby("variant", sort=False).agg(cases=("hours", "size"), hours=("hours", "median"))
    grouped = grouped.reset_index().sort_values(
        ["cases", "variant"], ascending=[False, True], key=_sort_key
    )
    return [
        Variant(
            activities=tuple(variant), cases=int(cases),
            share=int(cases) / total if total else 0.0,
            median_throughput_hours=_hours(hours) if log.has_timestamps else None,
        )
        for variant, cases, hours in grouped.itertuples(index=False, name=None)
    ]


def throughput(log: EventLog) -> Throughput:
    hours = case_throughput_hours(log)
    if hours.empty:
        return Throughput(cases=log.case_count, median_hours=None, p90_hours=None, mean_hours=None)
    return Throughput(
        cases=len(hours), median_hours=_hours(hours.median()),
        p90_hours=_hours(hours.quantile(0.9)), mean_hours=_hours(hours.mean()),
    )


def _sort_key(column: pd.Series) -> pd.Series:
    return column.map(lambda v: " ".join(v)) if column.name == "variant" else column


def _counts(values: pd.Series) -> dict[str, int]:
    counts = value_counts(values)
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _hours(value: float | np.floating[Any]) -> float | None:
    return None if pd.isna(value) else float(value)
