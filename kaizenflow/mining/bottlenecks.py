"""Where the waiting is: activities and hand-overs carrying most of the total wait, and waiting under load.

Improvement effort pays where the waiting sums up, not where a single wait is longest: an
edge every case crosses with a four-hour wait outweighs a rare one with a week. Whether waits
grow with the work in progress tells a capacity problem (they do) from a policy problem (they
do not: batching, approvals that wait for a weekly meeting).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from kaizenflow.core.events import EventLog, case_times
from kaizenflow.mining.calendar import BusinessCalendar
from kaizenflow.mining.performance import NO_TIMESTAMPS
from kaizenflow.mining.steps import steps


@dataclass(frozen=True)
class WaitContribution:
    """Waiting before an activity (``target`` only) or on a hand-over (``source`` -> ``target``)."""

    source: str | None
    target: str
    steps: int
    total_hours: float
    share: float
    median_hours: float


@dataclass(frozen=True)
class LoadBucket:
    """Steps whose work arrived while ``low_load``..``high_load`` cases were in progress."""

    low_load: int
    high_load: int
    steps: int
    median_wait_hours: float


@dataclass(frozen=True)
class Bottlenecks:
    """Waiting in working time of ``calendar``, largest contributions first.

    ``load_correlation`` is Spearman's rank correlation of load and wait (None when either is
    constant); ``unavailable`` says why figures are missing.
    """

    calendar: BusinessCalendar
    total_wait_hours: float | None
    activities: tuple[WaitContribution, ...]
    handovers: tuple[WaitContribution, ...]
    load_buckets: tuple[LoadBucket, ...]
    load_correlation: float | None
    load_p_value: float | None
    unavailable: tuple[str, ...]


def find_bottlenecks(
    log: EventLog, calendar: BusinessCalendar | None = None, top: int = 10, buckets: int = 4
) -> Bottlenecks:
    """The ``top`` activities and hand-overs by total wait, and median wait per load quantile bucket.

    Without start times the wait before an activity runs to its completion, so it includes
    the activity's own processing (see ``mining.steps.steps``).
    """
    calendar = calendar or BusinessCalendar()
    if not log.has_timestamps:
        return Bottlenecks(calendar, None, (), (), (), None, None, (NO_TIMESTAMPS,))
    waits = steps(log, calendar)
    total = float(waits["wait_hours"].sum())
    load = cases_in_progress(log, waits["arrived"])
    correlation, p_value = _correlation(load, waits["wait_hours"].to_numpy())
    return Bottlenecks(
        calendar=calendar,
        total_wait_hours=total,
        activities=_contributions(waits, ["target"], total, top),
        handovers=_contributions(waits, ["source", "target"], total, top),
        load_buckets=_buckets(load, waits["wait_hours"].to_numpy(), buckets),
        load_correlation=correlation,
        load_p_value=p_value,
        unavailable=(),
    )


def cases_in_progress(log: EventLog, moments: pd.Series) -> np.ndarray:
    """How many cases had started but not finished (first event <= t < last event) at each moment."""
    spans = case_times(log.events)
    started = np.sort(spans["first"].to_numpy(dtype="datetime64[us]"))
    finished = np.sort(spans["last"].to_numpy(dtype="datetime64[us]"))
    at = moments.to_numpy(dtype="datetime64[us]")
    return np.searchsorted(started, at, side="right") - np.searchsorted(finished, at, side="right")


def _contributions(
    waits: pd.DataFrame, keys: list[str], total: float, top: int
) -> tuple[WaitContribution, ...]:
    grouped = waits.groupby(keys, sort=False, observed=True)["wait_hours"]
    table = pd.DataFrame({"steps": grouped.size(), "total": grouped.sum(), "median": grouped.median()})
    table = table.reset_index().sort_values(["total", *keys], ascending=[False, *[True] * len(keys)])
    return tuple(
        WaitContribution(
            source=str(row["source"]) if "source" in keys else None, target=str(row["target"]),
            steps=int(row["steps"]), total_hours=float(row["total"]),
            share=float(row["total"]) / total if total > 0 else 0.0, median_hours=float(row["median"]),
        )
        for _, row in table.head(top).iterrows()
    )


def _buckets(load: np.ndarray, wait: np.ndarray, buckets: int) -> tuple[LoadBucket, ...]:
    """Equal-count buckets of load (fewer when many loads tie), with the median wait in each."""
    if not len(load):
        return ()
    edges = np.unique(np.quantile(load, np.linspace(0, 1, buckets + 1)))
    bucket = np.maximum(np.searchsorted(edges, load, side="left") - 1, 0)
    frame = pd.DataFrame({"bucket": bucket, "load": load, "wait": wait})
    table = frame.groupby("bucket").agg(
        low=("load", "min"), high=("load", "max"), steps=("wait", "size"), median=("wait", "median")
    )
    return tuple(
        LoadBucket(low_load=int(low), high_load=int(high), steps=int(n), median_wait_hours=float(median))
        for low, high, n, median in table.itertuples(index=False, name=None)
    )


def _correlation(load: np.ndarray, wait: np.ndarray) -> tuple[float | None, float | None]:
    if len(load) < 3 or np.ptp(load) == 0 or np.ptp(wait) == 0:
        return None, None
    result = stats.spearmanr(load, wait)
    return float(result.statistic), float(result.pvalue)
