"""Comparison of two groups of cases (two periods, two plants, before/after a change) with significance tests.

Two groups always differ a little; the question is whether the difference is larger than
chance would make it. Each figure therefore comes with a test, an effect size and both group
sizes (see ``mining.statistics``), so a report can say "plant B repeats the approval more
often, and that is not noise" — or that it may well be.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaizenflow.core.events import CASE_ID, EventLog, case_sequences
from kaizenflow.mining.discovery import case_throughput_hours
from kaizenflow.mining.statistics import (
    CLIFFS_DELTA,
    StatTest,
    chi_square_test,
    holm,
    mann_whitney_test,
    not_tested,
    two_proportion_test,
    with_adjusted_p,
)
from kaizenflow.mining.steps import distinct, step_codes

#: A chi-square test is trusted when every expected cell count reaches this (Cochran's rule).
MIN_EXPECTED = 5


@dataclass(frozen=True)
class VariantShare:
    """Cases of one variant (``None``: all variants not shown) in each group."""

    activities: tuple[str, ...] | None
    cases_a: int
    cases_b: int
    share_a: float
    share_b: float


@dataclass(frozen=True)
class VariantDifference:
    """Chi-square on the table of ``shares``: the top variants, each frequent enough to test, and the rest."""

    test: StatTest
    shares: tuple[VariantShare, ...]


@dataclass(frozen=True)
class ThroughputDifference:
    """Median throughput hours of both groups, their difference (B - A), and Mann–Whitney U."""

    median_a_hours: float | None
    median_b_hours: float | None
    difference_hours: float | None
    test: StatTest


@dataclass(frozen=True)
class ShareDifference:
    """How many cases of each group have a property (an edge, a deviation); ``difference`` = B - A."""

    label: str
    count_a: int
    count_b: int
    share_a: float
    share_b: float
    difference: float
    test: StatTest
    edge: tuple[str, str] | None = None


@dataclass(frozen=True)
class GroupComparison:
    """Group B against group A: variants, throughput, paths and deviations.

    ``edges`` are those whose share of cases differs most; their significance is judged on
    Holm-adjusted p-values over every edge compared, so a map with many edges does not
    produce differences by chance.
    """

    size_a: int
    size_b: int
    alpha: float
    min_group_size: int
    variants: VariantDifference
    throughput: ThroughputDifference
    edges: tuple[ShareDifference, ...]
    deviation: ShareDifference | None


def compare_groups(
    log: EventLog,
    group_a: Collection[str],
    group_b: Collection[str],
    deviating: Mapping[str, bool] | pd.Series | None = None,
    alpha: float = 0.05,
    min_group_size: int = 30,
    top_variants: int = 10,
    top_edges: int = 10,
) -> GroupComparison:
    """Compare the cases ``group_b`` against ``group_a`` (disjoint case ids of ``log``).

    ``deviating`` flags cases (e.g. not conforming); cases it does not mention are left out
    of that one comparison.
    """
    a, b = _groups(log, group_a, group_b)
    events = log.events.loc[log.events[CASE_ID].isin(a.union(b))]
    in_b = pd.Series(False, index=a).reindex(a.union(b), fill_value=True)
    return GroupComparison(
        size_a=len(a), size_b=len(b), alpha=alpha, min_group_size=min_group_size,
        variants=compare_variants(case_sequences(events), in_b, alpha, min_group_size, top_variants),
        throughput=_throughput(log, events, in_b, alpha, min_group_size),
        edges=_edges(events, in_b, alpha, min_group_size, top_edges),
        deviation=None if deviating is None else _deviation(deviating, in_b, alpha, min_group_size),
    )


def compare_variants(
    variants: pd.Series, in_b: pd.Series, alpha: float, min_size: int, top: int
) -> VariantDifference:
    """Chi-square of variant against group, ``variants`` and ``in_b`` indexed by case id.

    The ``top`` most frequent variants are columns when each expected count reaches
    ``MIN_EXPECTED``; the rest form one "other" column, which takes in the least frequent
    shown variants until it too is large enough. Fewer than two columns: nothing to test.
    """
    codes, uniques = pd.factorize(variants)
    flags = in_b.reindex(variants.index).to_numpy(dtype=bool)
    totals = np.bincount(codes, minlength=len(uniques))
    in_b_counts = np.bincount(codes, weights=flags, minlength=len(uniques)).astype(np.int64)
    in_a_counts = totals - in_b_counts
    order = sorted(range(len(uniques)), key=lambda i: (-totals[i], " ".join(uniques[i])))
    size_a, size_b = int(in_a_counts.sum()), int(in_b_counts.sum())
    smaller = min(size_a, size_b)
    needed = MIN_EXPECTED * (size_a + size_b) / smaller if smaller else np.inf
    shown = [i for i in order[:top] if totals[i] >= needed]
    while shown and 0 < (size_a + size_b) - totals[shown].sum() < needed:
        shown.pop()
    labelled: list[tuple[tuple[str, ...] | None, int, int]] = [
        (tuple(uniques[i]), int(in_a_counts[i]), int(in_b_counts[i])) for i in shown
    ]
    other_a = size_a - sum(r[1] for r in labelled)
    other_b = size_b - sum(r[2] for r in labelled)
    if other_a + other_b:
        labelled.append((None, other_a, other_b))
    table = np.array([[r[1] for r in labelled], [r[2] for r in labelled]]).reshape(2, len(labelled))
    shares = tuple(
        VariantShare(activities=v, cases_a=n_a, cases_b=n_b, share_a=n_a / size_a if size_a else 0.0,
                     share_b=n_b / size_b if size_b else 0.0)
        for v, n_a, n_b in labelled
    )
    if len(labelled) < 2:
        test = not_tested("chi-square", "Cramér's V", size_a, size_b,
                          "fewer than two variant classes with enough cases to test")
    else:
        test = chi_square_test(table, alpha, min_size)
    return VariantDifference(test=test, shares=shares)


def _groups(log: EventLog, group_a: Collection[str], group_b: Collection[str]) -> tuple[pd.Index, pd.Index]:
    a = pd.Index(pd.unique(pd.Series(list(group_a), dtype="string")))
    b = pd.Index(pd.unique(pd.Series(list(group_b), dtype="string")))
    known = pd.Index(log.events[CASE_ID].unique())
    unknown = a.union(b).difference(known)
    if len(unknown):
        raise ValueError(f"{len(unknown)} case ids are not in the log, e.g. {list(unknown[:3])}")
    both = a.intersection(b)
    if len(both):
        raise ValueError(
            f"{len(both)} cases are in both groups, e.g. {list(both[:3])}: groups must be disjoint"
        )
    return a, b


def _throughput(
    log: EventLog, events: pd.DataFrame, in_b: pd.Series, alpha: float, min_size: int
) -> ThroughputDifference:
    if not log.has_timestamps:
        test = not_tested("Mann-Whitney U", CLIFFS_DELTA, int((~in_b).sum()), int(in_b.sum()),
                          "the log has no timestamps")
        return ThroughputDifference(None, None, None, test)
    hours = case_throughput_hours(EventLog(events=events, case_attributes=log.case_attributes))
    hours_a = hours.reindex(in_b.index[~in_b.to_numpy()]).to_numpy()
    hours_b = hours.reindex(in_b.index[in_b.to_numpy()]).to_numpy()
    median_a = float(np.median(hours_a)) if len(hours_a) else None
    median_b = float(np.median(hours_b)) if len(hours_b) else None
    difference = median_b - median_a if median_a is not None and median_b is not None else None
    test = mann_whitney_test(hours_a, hours_b, alpha, min_size)
    return ThroughputDifference(median_a, median_b, difference, test)


def _edges(
    events: pd.DataFrame, in_b: pd.Series, alpha: float, min_size: int, top: int
) -> tuple[ShareDifference, ...]:
    """Share of cases of each group crossing each edge; z-tests, Holm-adjusted over all edges."""
    steps = step_codes(events)
    flags = in_b.reindex(steps.cases).to_numpy(dtype=bool)
    span = steps.width * steps.width
    crossed = distinct(steps.case * span + steps.edge)  # each edge once per case
    edge, case = crossed % span, crossed // span
    edges, which = np.unique(edge, return_inverse=True)
    cases = np.bincount(which, minlength=len(edges))
    count_b = np.bincount(which, weights=flags[case], minlength=len(edges)).astype(np.int64)
    size_b = int(in_b.sum())
    size_a = len(in_b) - size_b
    found = []
    for code, crossing, in_group_b in zip(edges, cases, count_b, strict=True):
        name = steps.edge_name(int(code))
        found.append(_share_difference(
            f"{name[0]} -> {name[1]}", int(crossing - in_group_b), size_a, int(in_group_b), size_b,
            alpha, min_size, name,
        ))
    if not found:
        return ()
    adjusted = holm([d.test.p_value if d.test.p_value is not None else 1.0 for d in found])
    found = [
        ShareDifference(d.label, d.count_a, d.count_b, d.share_a, d.share_b, d.difference,
                        with_adjusted_p(d.test, float(p), alpha, min_size), d.edge)
        for d, p in zip(found, adjusted, strict=True)
    ]
    found.sort(key=lambda d: (-abs(d.difference), d.label))
    return tuple(found[:top])


def _deviation(
    deviating: Mapping[str, bool] | pd.Series, in_b: pd.Series, alpha: float, min_size: int
) -> ShareDifference:
    flags = pd.Series(deviating, dtype="object") if not isinstance(deviating, pd.Series) else deviating
    flags = flags.reindex(in_b.index).dropna().astype(bool)
    group = in_b.reindex(flags.index).to_numpy()
    size_b = int(group.sum())
    size_a = len(group) - size_b
    count_b = int(flags.to_numpy()[group].sum())
    count_a = int(flags.to_numpy()[~group].sum())
    return _share_difference("deviating", count_a, size_a, count_b, size_b, alpha, min_size)


def _share_difference(
    label: str, count_a: int, size_a: int, count_b: int, size_b: int, alpha: float, min_size: int,
    edge: tuple[str, str] | None = None,
) -> ShareDifference:
    share_a = count_a / size_a if size_a else 0.0
    share_b = count_b / size_b if size_b else 0.0
    return ShareDifference(
        label=label, count_a=count_a, count_b=count_b, share_a=share_a, share_b=share_b,
        difference=share_b - share_a,
        test=two_proportion_test(count_a, size_a, count_b, size_b, alpha, min_size), edge=edge,
    )
