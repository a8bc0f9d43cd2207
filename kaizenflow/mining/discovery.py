"""Process map, variants and throughput times, computed column-wise over the whole log."""

from __future__ import annotations

from collections.abc import Sequence
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
from kaizenflow.core.events import case_variants as sequences_of_cases
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
    pairs, names = directly_follows(log)
    stats = pairs.assign(edge=pairs["source"] * len(names) + pairs["target"]).groupby("edge", sort=True).agg(
        frequency=("case", "size"), cases=("case", "nunique"),
        median=("wait_hours", wait_median), p90=("wait_hours", wait_p90),
    )
    codes = stats.index.to_numpy()
    stats.index = pd.MultiIndex.from_arrays([names[codes // len(names)], names[codes % len(names)]],
                                            names=["source", "target"])
    case_of_event = case_codes(events)[0]
    same_case = case_of_event[1:] == case_of_event[:-1]
    first, last = np.r_[True, ~same_case][:len(events)], np.r_[~same_case, True][:len(events)]
    return process_map_of(
        value_counts(events[ACTIVITY]), stats, value_counts(events[ACTIVITY][first]),
        value_counts(events[ACTIVITY][last]), log.has_timestamps,
    )


def directly_follows(log: EventLog) -> tuple[pd.DataFrame, pd.Index]:
    """Each directly-follows pair of the log: the ``source`` and ``target`` activity as numbers
    into the activity names returned beside (in text order), the ``case`` as a number (as
    ``case_codes`` numbers them), and the hours from the one to the other (NaN without times)."""
    events = log.events
    activity_codes, activities = pd.factorize(events[ACTIVITY], sort=True)
    case_of_event = case_codes(events)[0]
    same_case = case_of_event[1:] == case_of_event[:-1]
    waits = ((events[TIMESTAMP].shift(-1) - events[TIMESTAMP]).dt.total_seconds() / 3600).to_numpy()
    names = pd.Index(np.asarray(activities, dtype=object), dtype=object)
    pairs = pd.DataFrame({
        "source": activity_codes[:-1][same_case].astype(np.int64),
        "target": activity_codes[1:][same_case].astype(np.int64),
        "case": case_of_event[:-1][same_case], "wait_hours": waits[:-1][same_case],
    })
    return pairs, names


def wait_median(waits: pd.Series) -> float:
    """An edge's median wait: one function for every way a process map is computed, so that a
    map aggregated from kept per-case figures equals one discovered from the events."""
    return float(waits.median())


def wait_p90(waits: pd.Series) -> float:
    return float(waits.quantile(0.9))


def process_map_of(
    activities: pd.Series, edges: pd.DataFrame, starts: pd.Series, ends: pd.Series, has_timestamps: bool,
) -> ProcessMap:
    """A process map from its counts: occurrences, starts and ends per activity, and ``edges``
    indexed by (source, target) with ``frequency``, ``cases``, ``median`` and ``p90`` hours."""
    ordered = edges.sort_index()
    return ProcessMap(
        activities=_counts(activities),
        edges=tuple(
            MapEdge(
                source=str(source), target=str(target), frequency=int(frequency), cases=int(cases),
                median_wait_hours=_hours(median) if has_timestamps else None,
                p90_wait_hours=_hours(p90) if has_timestamps else None,
            )
            for (source, target), frequency, cases, median, p90 in ordered[
                ["frequency", "cases", "median", "p90"]].itertuples(index=True, name=None)
        ),
        start_activities=_counts(starts),
        end_activities=_counts(ends),
    )


def discover_variants(log: EventLog) -> list[Variant]:
    """Distinct activity sequences, most frequent first, with their median throughput time."""
    grouped = sequences_of_cases(log.events)
    hours = case_throughput_hours(log)
    return variants_of(grouped.codes, grouped.sequences,
                       hours.reindex(grouped.case_ids).to_numpy() if len(hours) else None, log.has_timestamps)


def variants_of(
    codes: np.ndarray, sequences: Sequence[tuple[str, ...]], hours: np.ndarray | None, has_timestamps: bool,
) -> list[Variant]:
    """Variants from each case's variant as a number into ``sequences`` and its throughput hours
    (None without timestamps), the cases in case id order; ties in size go by the activities."""
    total = len(codes)
    frame = pd.DataFrame({"code": codes, "hours": hours if hours is not None else np.nan})
    grouped = frame.groupby("code", sort=False).agg(cases=("hours", "size"), hours=("hours", "median"))
    found = [(tuple(sequences[code]), int(cases), median)
             for code, cases, median in grouped.itertuples(index=True, name=None)]
    found.sort(key=lambda variant: " ".join(variant[0]))
    found.sort(key=lambda variant: -variant[1])  # stable: equal sizes stay in activity order
    return [
        Variant(
            activities=activities, cases=cases, share=cases / total if total else 0.0,
            median_throughput_hours=_hours(median) if has_timestamps else None,
        )
        for activities, cases, median in found
    ]


def throughput(log: EventLog) -> Throughput:
    return throughput_of(case_throughput_hours(log), log.case_count)


def throughput_of(hours: pd.Series, cases: int) -> Throughput:
    """Throughput from each case's hours (empty without timestamps) and the number of cases."""
    if hours.empty:
        return Throughput(cases=cases, median_hours=None, p90_hours=None, mean_hours=None)
    return Throughput(
        cases=len(hours), median_hours=_hours(hours.median()),
        p90_hours=_hours(hours.quantile(0.9)), mean_hours=_hours(hours.mean()),
    )


def _counts(counts: pd.Series) -> dict[str, int]:
    """Counts by name, most frequent first (names break ties)."""
    counts = counts[counts > 0]
    return {str(k): int(v) for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))}


def _hours(value: float | np.floating[Any]) -> float | None:
    return None if pd.isna(value) else float(value)
