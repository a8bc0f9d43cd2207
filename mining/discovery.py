"""Process map, variants and throughput times, computed column-wise over the whole log."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from kaizenflow.events import ACTIVITY, CASE_ID, TIMESTAMP, EventLog, case_sequences
from mining.types import MapEdge, ProcessMap, Throughput, Variant


def case_variants(log: EventLog) -> pd.Series:
    """The activity sequence of each case, as a tuple, indexed by case id."""
    return case_sequences(log.events)


def case_throughput_hours(log: EventLog) -> pd.Series:
    """Hours from first to last event of each case; empty when the log has no timestamps."""
    if not log.has_timestamps:
        return pd.Series(dtype="float64")
    spans = log.events.groupby(CASE_ID, sort=True, observed=True)[TIMESTAMP].agg(["min", "max"])
    return (spans["max"] - spans["min"]).dt.total_seconds() / 3600


def discover_process_map(log: EventLog) -> ProcessMap:
    """Directly-follows graph with frequencies, case counts and waiting times on edges."""
    events = log.events
    following = events[[CASE_ID, ACTIVITY, TIMESTAMP]].copy()
    following["next_case"] = following[CASE_ID].shift(-1)
    following["next_activity"] = following[ACTIVITY].shift(-1)
    following["wait_hours"] = (
        following[TIMESTAMP].shift(-1) - following[TIMESTAMP]
    ).dt.total_seconds() / 3600
    pairs = following.loc[following[CASE_ID] == following["next_case"]]
    grouped = pairs.groupby([ACTIVITY, "next_activity"], sort=True, observed=True)
    stats = grouped.agg(
        frequency=(CASE_ID, "size"),
        cases=(CASE_ID, "nunique"),
        median=("wait_hours", "median"),
        p90=("wait_hours", lambda s: s.quantile(0.9)),
    )
    edges = tuple(
        MapEdge(
            source=str(row[0]), target=str(row[1]), frequency=int(row[2]), cases=int(row[3]),
            median_wait_hours=_hours(row[4]) if log.has_timestamps else None,
            p90_wait_hours=_hours(row[5]) if log.has_timestamps else None,
        )
        for row in stats.reset_index().itertuples(index=False, name=None)
    )
    by_case = events.groupby(CASE_ID, sort=False, observed=True)[ACTIVITY]
    return ProcessMap(
        activities=_counts(events[ACTIVITY]),
        edges=edges,
        start_activities=_counts(by_case.first()),
        end_activities=_counts(by_case.last()),
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
    counts = values.value_counts(sort=False)
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _hours(value: float | np.floating[Any]) -> float | None:
    return None if pd.isna(value) else float(value)
