"""Each case's share of the window's discovery, and the window's discovery aggregated from them.

A case's contribution (its variant, event count, first and last time, and the wait of each of its
directly-follows pairs) depends on its own events only. Kept between nights, the window's process
map, variants and throughput are aggregated from the kept contributions, of which a night
computes only the changed cases' anew. The aggregation uses the same functions as discovering
from the events (``mining.discovery``), so the two agree exactly (tests/test_contributions.py).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaizenflow.core.events import (
    CASE_ID,
    EventLog,
    case_codes,
    case_event_counts,
    case_times,
    case_variants,
    tuples_array,
)
from kaizenflow.mining.discovery import (
    directly_follows,
    process_map_of,
    throughput_of,
    variants_of,
    wait_median,
    wait_p90,
)
from kaizenflow.mining.types import ProcessMap, Throughput, Variant


@dataclass(frozen=True)
class CaseContributions:
    """Per case (``cases``, indexed by case id in text order): its event count, first and last time
    (NaT without times) and its variant (a tuple of activities); and each of its directly-follows
    pairs (``pairs``: case id, source and target activity, hours between them)."""

    cases: pd.DataFrame
    pairs: pd.DataFrame


def case_contributions(log: EventLog) -> CaseContributions:
    """The contributions of every case of ``log`` (a night gives it its changed cases only)."""
    events = log.events
    variants = case_variants(events)
    ids = pd.Index(variants.case_ids.astype(str), dtype=object, name=CASE_ID)
    counts = case_event_counts(events)  # each of these in the case ids' text order
    # each case's own times, whatever the window's: a case without them may leave the window later,
    # and the others' throughput must then be there (NaT where a case has none)
    times = case_times(events)
    first, last = (pd.to_datetime(times[end], utc=True).astype("datetime64[us, UTC]").array
                   for end in ("first", "last"))
    cases = pd.DataFrame({
        "events": counts.to_numpy(dtype=np.int64), "first": first, "last": last,
        "variant": tuples_array(variants.sequences)[variants.codes],
    }, index=ids)
    pairs, names = directly_follows(log)
    case_ids = pd.Index(case_codes(events)[1].astype(str), dtype=object)
    # categories: a million pairs name a few activities and each case several times
    return CaseContributions(cases, pd.DataFrame({
        CASE_ID: pd.Categorical.from_codes(pairs["case"].to_numpy(), categories=case_ids),
        "source": pd.Categorical.from_codes(pairs["source"].to_numpy(), categories=names),
        "target": pd.Categorical.from_codes(pairs["target"].to_numpy(), categories=names),
        "wait_hours": pairs["wait_hours"].to_numpy(),
    }))


@dataclass(frozen=True)
class WindowContributions:
    """What the kept contributions of the window's cases add up to, as the store gives them.

    ``cases`` is indexed by case id in text order, with the number of the case's variant in
    ``sequences`` (column ``variant``) and its ``first`` and ``last`` time; ``waits`` is indexed
    by (source, target), its column ``waits`` holding every wait of that pair in the window.
    """

    cases: pd.DataFrame
    sequences: list[tuple[str, ...]]
    waits: pd.DataFrame


@dataclass(frozen=True)
class WindowDiscovery:
    process_map: ProcessMap
    variants: list[Variant]
    throughput: Throughput


def window_discovery(window: WindowContributions, has_timestamps: bool) -> WindowDiscovery:
    """The process map, variants and throughput of the window, as ``mining.discovery`` finds them
    from the window's events: counts come from the variants and how many cases follow each, the
    waits' medians from every wait kept."""
    codes = window.cases["variant"].to_numpy(dtype=np.int64)
    sizes = np.bincount(codes, minlength=len(window.sequences))
    activities: Counter[str] = Counter()
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    frequency: Counter[tuple[str, str]] = Counter()
    cases: Counter[tuple[str, str]] = Counter()
    for sequence, size in zip(window.sequences, sizes.tolist(), strict=True):
        if not size or not sequence:
            continue
        starts[sequence[0]] += size
        ends[sequence[-1]] += size
        for activity in sequence:
            activities[activity] += size
        pairs = list(zip(sequence[:-1], sequence[1:], strict=True))
        for pair in pairs:
            frequency[pair] += size
        for pair in set(pairs):
            cases[pair] += size
    waits = window.waits["waits"] if len(window.waits) else pd.Series(dtype=object)
    keys = sorted(frequency)
    edges = pd.DataFrame({
        "frequency": [frequency[key] for key in keys], "cases": [cases[key] for key in keys],
        "median": [_wait(waits, key, wait_median) for key in keys],
        "p90": [_wait(waits, key, wait_p90) for key in keys],
    }, index=pd.MultiIndex.from_tuples(keys, names=["source", "target"]) if keys else
        pd.MultiIndex.from_arrays([[], []], names=["source", "target"]))
    process_map = process_map_of(pd.Series(activities, dtype="int64"), edges,
                                 pd.Series(starts, dtype="int64"), pd.Series(ends, dtype="int64"),
                                 has_timestamps)
    hours = window_throughput_hours(window, has_timestamps)
    return WindowDiscovery(
        process_map, variants_of(codes, window.sequences, hours.to_numpy() if has_timestamps else None,
                                 has_timestamps),
        throughput_of(hours, len(window.cases)),
    )


def window_throughput_hours(window: WindowContributions, has_timestamps: bool) -> pd.Series:
    """Hours from first to last event of each case, as ``discovery.case_throughput_hours``."""
    if not has_timestamps:
        return pd.Series(dtype="float64")
    hours: pd.Series = (window.cases["last"] - window.cases["first"]).dt.total_seconds() / 3600
    return hours


def _wait(waits: pd.Series, key: tuple[str, str], figure: Callable[[pd.Series], float]) -> float:
    if key not in waits.index:
        return float("nan")
    values = waits.loc[key]
    return figure(pd.Series(np.asarray(values, dtype="float64")))


def window_of(contributions: CaseContributions) -> WindowContributions:
    """The window as the kept contributions give it, from contributions in memory (what the
    store's queries do, for tools and tests)."""
    cases = contributions.cases.sort_index()
    codes, sequences = pd.factorize(cases["variant"])
    grouped = contributions.pairs.groupby(["source", "target"], sort=True)["wait_hours"]
    waits = pd.DataFrame({"waits": grouped.agg(_values)})
    return WindowContributions(
        pd.DataFrame({"variant": codes.astype(np.int64), "first": cases["first"], "last": cases["last"]},
                     index=cases.index),
        [tuple(sequence) for sequence in sequences], waits,
    )


def _values(waits: pd.Series) -> object:
    return waits.to_numpy()
