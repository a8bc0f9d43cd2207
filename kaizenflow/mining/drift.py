"""Drift of the newest period against previous ones: new activities, new edges, a shifted variant mix.

A nightly run should say when the process itself changed (a new step, a new shortcut, a
different mix of paths) before anyone reads the conformance numbers as a trend. Each flag
carries its evidence: the cases showing it, or the test and the variants that moved. A
shift of the mix is only flagged when it is both significant and large enough to matter
(Cramér's V of at least ``min_effect``): with many cases any wobble is significant.

A night compares like with like (:func:`newest_period_drift`): the newest cases are young and
many still running, so each earlier case is seen as it was at the same age, cut at the moment a
whole number of periods before the snapshot. Comparing them with the finished paths of older
cases made the newest week differ every night, its "largest change" being the running prefix.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from kaizenflow.core.events import (
    ACTIVITY,
    CASE_ID,
    TIMESTAMP,
    EventLog,
    case_codes,
    case_sequences,
    case_times,
    member_of,
    positions_in,
)
from kaizenflow.mining.comparison import VariantDifference, VariantShare, compare_variants
from kaizenflow.mining.steps import distinct, step_codes


@dataclass(frozen=True)
class NewBehaviour:
    """An activity (one name) or edge (source, target) seen in the newest period but never before."""

    activities: tuple[str, ...]
    cases: int
    occurrences: int
    example_cases: tuple[str, ...]


@dataclass(frozen=True)
class Drift:
    """What changed in the newest cases against the previous ones, and why it was flagged.

    ``variant_shift`` compares previous (group A) with newest (group B).
    """

    newest_cases: int
    previous_cases: int
    new_activities: tuple[NewBehaviour, ...]
    new_edges: tuple[NewBehaviour, ...]
    variant_shift: VariantDifference
    variant_mix_drifted: bool
    drifted: bool
    evidence: tuple[str, ...]


@dataclass(frozen=True)
class PeriodDrift:
    """A night's drift check: the newest period's cases against the periods before, at equal age.

    ``newest_from`` and ``previous_from`` are where the two groups' starts begin (the newest
    ends at ``snapshot``, the latest event); ``drift`` is None when either group is empty.
    """

    snapshot: pd.Timestamp
    newest_from: pd.Timestamp
    previous_from: pd.Timestamp
    drift: Drift | None

    @property
    def drifted(self) -> bool:
        return self.drift is not None and self.drift.drifted

    @property
    def evidence(self) -> tuple[str, ...]:
        """What a reader is told: empty without drift, else the flags and what was compared."""
        if self.drift is None or not self.drift.drifted:
            return ()
        compared = (
            f"compared: {self.drift.newest_cases} cases started since {self.newest_from:%Y-%m-%d %H:%M} "
            f"with {self.drift.previous_cases} started since {self.previous_from:%Y-%m-%d %H:%M}, "
            "each seen at the same age"
        )
        return (*self.drift.evidence, compared)


def case_periods(log: EventLog, period: Literal["day", "week", "month"] = "week",
                 timezone: str = "UTC") -> pd.Series:
    """The local start date of the period each case started in, indexed by case id.

    Weeks start on Monday. Empty when the log has no timestamps: periods cannot be told.
    """
    if not log.has_timestamps:
        return pd.Series(dtype="object")
    first = case_times(log.events)["first"]
    local = first.dt.tz_convert(timezone).dt.tz_localize(None).dt.normalize()
    if period == "week":
        local = local - pd.to_timedelta(local.dt.day_of_week, unit="D")
    elif period == "month":
        local = local - pd.to_timedelta(local.dt.day - 1, unit="D")
    dates: pd.Series = local.dt.date
    return dates


def newest_period_drift(
    log: EventLog,
    newest_days: float = 7,
    previous_days: float = 28,
    alpha: float = 0.01,
    min_effect: float = 0.1,
    min_group_size: int = 30,
    min_new_cases: int = 2,
) -> PeriodDrift | None:
    """Did the cases started in the last ``newest_days`` take other paths than those before?

    The snapshot is the log's latest event. The variant mix compares the newest cases with
    those started in the ``previous_days`` before them, each earlier case cut at the snapshot
    minus as many whole periods as it started before the newest one: so every case is seen at
    the age a newest case of the same weekday and hour has now, running prefixes against
    running prefixes (with days as periods, weekends fall alike too). An activity or edge is
    new only if no case started before the newest period ever had it, seen in full. ``alpha``
    is stricter than the usual 0.05: the check runs every night, and one false alarm in
    twenty nights teaches a reader to ignore it, and a new activity or edge counts once it is
    in ``min_new_cases`` cases: a single odd case is an anecdote, not a drift of the process.
    None without timestamps or events.
    """
    if not log.has_timestamps or log.events.empty:
        return None
    if newest_days <= 0 or previous_days <= 0:
        raise ValueError(f"periods must be positive, got {newest_days} and {previous_days} days")
    events = log.events
    starts = case_times(events)["first"]
    snapshot = events[TIMESTAMP].max()
    period = pd.Timedelta(days=newest_days)
    newest_from = snapshot - period
    previous_from = newest_from - pd.Timedelta(days=previous_days)
    newest = starts.index[starts > newest_from]
    before = starts.index[starts <= newest_from]
    earlier = starts[(starts <= newest_from) & (starts > previous_from)]
    found = PeriodDrift(snapshot=snapshot, newest_from=newest_from, previous_from=previous_from, drift=None)
    if len(newest) == 0 or len(earlier) == 0:
        return found
    periods_back = np.ceil((newest_from - earlier) / period).to_numpy(dtype=np.int64).clip(min=1)
    cut_off = pd.concat([pd.Series(snapshot - period * periods_back, index=earlier.index.astype(str)),
                         pd.Series(snapshot, index=newest.astype(str))])
    drift = _drift(events, newest.astype(str), earlier.index.astype(str), before.astype(str),
                   cut_off, alpha, min_effect, min_group_size, min_new_cases=min_new_cases)
    return PeriodDrift(snapshot=snapshot, newest_from=newest_from, previous_from=previous_from, drift=drift)


@dataclass(frozen=True)
class SeenBehaviour:
    """The activities and edges (source, target) that earlier cases had, seen in full."""

    activities: frozenset[str]
    edges: frozenset[tuple[str, str]]


def seen_in(sequences: Collection[tuple[str, ...]]) -> SeenBehaviour:
    """What cases with these activity sequences (variants) had."""
    activities: set[str] = set()
    edges: set[tuple[str, str]] = set()
    for sequence in sequences:
        activities.update(sequence)
        edges.update(zip(sequence[:-1], sequence[1:], strict=False))
    return SeenBehaviour(frozenset(activities), frozenset(edges))


def recent_period_drift(
    recent: EventLog,
    starts: pd.Series,
    snapshot: pd.Timestamp,
    seen: SeenBehaviour,
    newest_days: float = 7,
    previous_days: float = 28,
    alpha: float = 0.01,
    min_effect: float = 0.1,
    min_group_size: int = 30,
    min_new_cases: int = 2,
) -> PeriodDrift:
    """``newest_period_drift`` of a window known by its cases' ``starts`` (first times), its
    ``snapshot`` (latest event), the events of the cases started in the last ``newest_days`` plus
    ``previous_days`` (``recent``), and what the cases started before the newest period had
    (``seen``): what it finds for the window's whole log."""
    period = pd.Timedelta(days=newest_days)
    newest_from = snapshot - period
    previous_from = newest_from - pd.Timedelta(days=previous_days)
    newest = starts.index[starts > newest_from]
    earlier = starts[(starts <= newest_from) & (starts > previous_from)]
    found = PeriodDrift(snapshot=snapshot, newest_from=newest_from, previous_from=previous_from, drift=None)
    if len(newest) == 0 or len(earlier) == 0:
        return found
    periods_back = np.ceil((newest_from - earlier) / period).to_numpy(  # type: ignore[operator]
        dtype=np.int64).clip(min=1)
    cut_off = pd.concat([pd.Series(snapshot - period * periods_back, index=earlier.index.astype(str)),
                         pd.Series(snapshot, index=newest.astype(str))])
    drift = _drift(recent.events, newest.astype(str), earlier.index.astype(str), earlier.index.astype(str),
                   cut_off, alpha, min_effect, min_group_size, min_new_cases=min_new_cases, seen=seen)
    return PeriodDrift(snapshot=snapshot, newest_from=newest_from, previous_from=previous_from, drift=drift)


def detect_drift(
    log: EventLog,
    newest: Collection[str],
    previous: Collection[str],
    alpha: float = 0.05,
    min_effect: float = 0.1,
    min_group_size: int = 30,
    top_variants: int = 10,
    examples: int = 3,
) -> Drift:
    """Flag new activities, new edges and a significant, non-trivial shift of the variant mix.

    Both groups are compared as they are: the caller makes them comparable (see
    :func:`newest_period_drift`, which does for a night).
    """
    events = log.events
    newest_ids, previous_ids = pd.Index(list(newest)), pd.Index(list(previous))
    unknown = newest_ids.union(previous_ids).difference(pd.Index(events[CASE_ID].unique()))
    if len(unknown):
        raise ValueError(f"{len(unknown)} case ids are not in the log, e.g. {list(unknown[:3])}")
    return _drift(events, newest_ids, previous_ids, previous_ids, None, alpha, min_effect, min_group_size,
                  top_variants, examples)


def _drift(
    events: pd.DataFrame,
    newest_ids: pd.Index,
    previous_ids: pd.Index,
    seen_ids: pd.Index,
    cut_off: pd.Series | None,
    alpha: float,
    min_effect: float,
    min_group_size: int,
    top_variants: int = 10,
    examples: int = 3,
    min_new_cases: int = 1,
    seen: SeenBehaviour | None = None,
) -> Drift:
    """New behaviour of ``newest_ids`` against all of ``seen_ids``; the variant mix against
    ``previous_ids``, each case's events up to its ``cut_off`` time when given."""
    if len(newest_ids.intersection(previous_ids)):
        raise ValueError("a case is both in the newest and in the previous period")
    # through Arrow (member_of): pandas' isin on Arrow strings goes a scalar at a time
    is_new = member_of(events[CASE_ID], newest_ids)
    known_rows = is_new | member_of(events[CASE_ID], seen_ids)
    known = events.loc[known_rows]
    newest_cases = pd.Index(events.loc[is_new, CASE_ID].unique())
    new_activities = tuple(b for b in _new_activities(known, is_new[known_rows], examples, seen)
                           if b.cases >= min_new_cases)
    new_edges = tuple(b for b in _new_edges(known, newest_cases, examples, seen) if b.cases >= min_new_cases)

    both = events.loc[is_new | member_of(events[CASE_ID], previous_ids)]
    if cut_off is not None:
        # each event's case by number, then its case's cut-off: no per-event lookup of case text
        codes, ids = case_codes(both)
        limits = cut_off.to_numpy(dtype="datetime64[ns]")[positions_in(ids, cut_off.index)]
        both = both.loc[both[TIMESTAMP].dt.tz_convert(None).to_numpy(dtype="datetime64[ns]") <= limits[codes]]
    sequences = case_sequences(both)
    in_b = pd.Series(member_of(sequences.index, newest_cases), index=sequences.index)
    shift = compare_variants(sequences, in_b, alpha, min_group_size, top_variants)
    effect = shift.test.effect_size
    mix_drifted = shift.test.significant and effect is not None and effect >= min_effect

    evidence = [_describe(item, "activity") for item in new_activities]
    evidence += [_describe(item, "edge") for item in new_edges]
    if mix_drifted:
        evidence.append(_describe_shift(shift))
    return Drift(
        newest_cases=int(in_b.sum()), previous_cases=int((~in_b).sum()),
        new_activities=new_activities, new_edges=new_edges, variant_shift=shift,
        variant_mix_drifted=mix_drifted,
        drifted=bool(new_activities or new_edges or mix_drifted), evidence=tuple(evidence),
    )


def _new_activities(
    events: pd.DataFrame, newest: np.ndarray, examples: int, known: SeenBehaviour | None = None,
) -> tuple[NewBehaviour, ...]:
    seen = pd.Index(events.loc[~newest, ACTIVITY].unique())
    if known is not None:
        seen = seen.astype(object).union(pd.Index(sorted(known.activities), dtype=object))
    unseen = events.loc[newest & ~events[ACTIVITY].isin(seen).to_numpy()]
    return _behaviours(
        [((str(activity),), rows[CASE_ID]) for activity, rows in unseen.groupby(ACTIVITY, observed=True)],
        examples,
    )


def _new_edges(
    events: pd.DataFrame, newest_cases: pd.Index, examples: int, known: SeenBehaviour | None = None,
) -> tuple[NewBehaviour, ...]:
    steps = step_codes(events)
    newest = member_of(steps.cases, newest_cases)[steps.case]
    seen = distinct(steps.edge[~newest])
    if known is not None and known.edges:
        names = {str(name): code for code, name in enumerate(steps.activities.tolist())}
        width = max(len(steps.activities), 1)
        codes = [names[a] * width + names[b] for a, b in known.edges if a in names and b in names]
        seen = distinct(np.concatenate([seen, np.asarray(codes, dtype=seen.dtype)]))
    unseen = newest & ~np.isin(steps.edge, seen)
    occurrences = pd.Series(steps.cases[steps.case[unseen]])
    return _behaviours(
        [(steps.edge_name(cast(int, code)), rows) for code, rows in occurrences.groupby(steps.edge[unseen])],
        examples,
    )


def _behaviours(found: list[tuple[tuple[str, ...], pd.Series]], examples: int) -> tuple[NewBehaviour, ...]:
    """One record per behaviour from the case id of each of its occurrences."""
    behaviours = []
    for name, occurrences in found:
        cases = sorted(str(c) for c in pd.unique(occurrences))
        behaviours.append(NewBehaviour(activities=name, cases=len(cases), occurrences=len(occurrences),
                                       example_cases=tuple(cases[:examples])))
    return tuple(sorted(behaviours, key=lambda b: (-b.cases, b.activities)))


def _describe(item: NewBehaviour, kind: str) -> str:
    name = " -> ".join(item.activities)
    cases = ", ".join(item.example_cases)
    return f"new {kind} '{name}' in {item.cases} case(s) of the newest period, e.g. {cases}"


def _describe_shift(shift: VariantDifference) -> str:
    moved: VariantShare = max(shift.shares, key=lambda s: abs(s.share_b - s.share_a))
    name = "other variants" if moved.activities is None else "'" + " ".join(moved.activities) + "'"
    test = shift.test
    return (
        f"variant mix shifted (chi-square p={test.p_value:.3g}, Cramér's V={test.effect_size:.2f}); "
        f"largest change: {name} {moved.share_a:.0%} -> {moved.share_b:.0%}"
    )
