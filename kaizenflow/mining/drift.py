"""Drift of the newest period against previous ones: new activities, new edges, a shifted variant mix.

A nightly run should say when the process itself changed (a new step, a new shortcut, a
different mix of paths) before anyone reads the conformance numbers as a trend. Each flag
carries its evidence: the cases showing it, or the test and the variants that moved. A
shift of the mix is only flagged when it is both significant and large enough to matter
(Cramér's V of at least ``min_effect``): with many cases any wobble is significant.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Literal, cast

import numpy as np
import pandas as pd

from kaizenflow.core.events import ACTIVITY, CASE_ID, EventLog, case_sequences, case_times
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
    return local.dt.date


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
    """Flag new activities, new edges and a significant, non-trivial shift of the variant mix."""
    events = log.events
    newest_ids, previous_ids = pd.Index(list(newest)), pd.Index(list(previous))
    unknown = newest_ids.union(previous_ids).difference(pd.Index(events[CASE_ID].unique()))
    if len(unknown):
        raise ValueError(f"{len(unknown)} case ids are not in the log, e.g. {list(unknown[:3])}")
    if len(newest_ids.intersection(previous_ids)):
        raise ValueError("a case is both in the newest and in the previous period")
    is_new = events[CASE_ID].isin(newest_ids)
    is_old = events[CASE_ID].isin(previous_ids)
    both = events.loc[is_new | is_old]
    newest_cases = pd.Index(events.loc[is_new, CASE_ID].unique())
    new_activities = _new_activities(both, is_new.loc[both.index].to_numpy(), examples)
    new_edges = _new_edges(both, newest_cases, examples)

    sequences = case_sequences(both)
    in_b = pd.Series(sequences.index.isin(newest_cases), index=sequences.index)
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


def _new_activities(events: pd.DataFrame, newest: np.ndarray, examples: int) -> tuple[NewBehaviour, ...]:
    seen = pd.Index(events.loc[~newest, ACTIVITY].unique())
    unseen = events.loc[newest & ~events[ACTIVITY].isin(seen).to_numpy()]
    return _behaviours(
        [((str(activity),), rows[CASE_ID]) for activity, rows in unseen.groupby(ACTIVITY, observed=True)],
        examples,
    )


def _new_edges(events: pd.DataFrame, newest_cases: pd.Index, examples: int) -> tuple[NewBehaviour, ...]:
    steps = step_codes(events)
    newest = steps.cases.isin(newest_cases)[steps.case]
    seen = distinct(steps.edge[~newest])
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
