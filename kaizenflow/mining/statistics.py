"""Significance tests with effect sizes, in the one shape every comparison of case groups reports.

A p-value alone says whether a difference is likely real, not whether it matters: with a
hundred thousand cases a 0.1 % shift is "significant". Each test therefore carries an effect
size, the sizes of both groups, and is only judged significant when both groups are large
enough for the test to mean something.

The tests a night runs (chi-square, two proportions) need only the chi-square and normal tails,
computed here exactly; SciPy (over a second to import: benchmarks/micro.py) is loaded only for
Mann-Whitney U.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CRAMERS_V = "Cramér's V"
CLIFFS_DELTA = "Cliff's delta"
COHENS_H = "Cohen's h"


@dataclass(frozen=True)
class StatTest:
    """One significance test of group B against group A.

    Effect sizes are signed where they have a direction: positive means B is higher (longer,
    more often). ``adjusted_p_value`` is set when the test is one of a family (the edges of a
    map): significance is then judged on it. ``note`` says why a test was not run or not judged.
    """

    test: str
    statistic: float | None
    p_value: float | None
    effect_size: float | None
    effect_size_name: str
    size_a: int
    size_b: int
    significant: bool
    adjusted_p_value: float | None = None
    note: str | None = None


def not_tested(test: str, effect_size_name: str, size_a: int, size_b: int, why: str) -> StatTest:
    return StatTest(test, None, None, None, effect_size_name, size_a, size_b, False, note=why)


def chi_square_test(table: np.ndarray, alpha: float, min_size: int) -> StatTest:
    """Chi-square test of independence on a 2 x k table of counts (rows A, B), with Cramér's V.

    Without continuity correction, so that for two columns it equals the two-proportion z-test.
    """
    table = np.asarray(table, dtype=np.float64)
    size_a, size_b = int(table[0].sum()), int(table[1].sum())
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2 or min(size_a, size_b) == 0:
        return not_tested("chi-square", CRAMERS_V, size_a, size_b, "fewer than two categories to compare")
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / table.sum()
    statistic = float(((table - expected) ** 2 / expected).sum())
    p_value = chi_square_tail(statistic, table.shape[1] - 1)
    effect = math.sqrt(statistic / (table.sum() * (min(table.shape) - 1)))
    return _judged("chi-square", statistic, p_value, effect, CRAMERS_V, size_a, size_b, alpha, min_size)


def mann_whitney_test(a: np.ndarray, b: np.ndarray, alpha: float, min_size: int) -> StatTest:
    """Mann–Whitney U of B against A, with Cliff's delta (= rank-biserial correlation) as effect size."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if not len(a) or not len(b):
        return not_tested("Mann-Whitney U", CLIFFS_DELTA, len(a), len(b), "a group has no values")
    from scipy import stats

    result = stats.mannwhitneyu(b, a, alternative="two-sided")
    statistic = float(result.statistic)
    delta = 2 * statistic / (len(a) * len(b)) - 1
    p_value = float(result.pvalue) if not np.isnan(result.pvalue) else 1.0
    return _judged("Mann-Whitney U", statistic, p_value, delta, CLIFFS_DELTA, len(a), len(b), alpha, min_size)


def two_proportion_test(
    count_a: int, size_a: int, count_b: int, size_b: int, alpha: float, min_size: int
) -> StatTest:
    """Pooled two-proportion z-test of B against A, with Cohen's h as effect size.

    When the pooled share is 0 or 1 the groups cannot differ: z = 0, p = 1.
    """
    if not size_a or not size_b:
        return not_tested("two-proportion z", COHENS_H, size_a, size_b, "a group is empty")
    share_a, share_b = count_a / size_a, count_b / size_b
    pooled = (count_a + count_b) / (size_a + size_b)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / size_a + 1 / size_b))
    z = (share_b - share_a) / spread if spread > 0 else 0.0
    p_value = math.erfc(abs(z) / math.sqrt(2))  # two-sided normal tail
    h = 2 * math.asin(math.sqrt(share_b)) - 2 * math.asin(math.sqrt(share_a))
    return _judged("two-proportion z", z, p_value, h, COHENS_H, size_a, size_b, alpha, min_size)


def chi_square_tail(statistic: float, dof: int) -> float:
    """P(X >= statistic) for X chi-square with ``dof`` (whole) degrees of freedom.

    The closed form of the regularised upper incomplete gamma function at half-integers, summed
    in log space so that large statistics and many categories neither overflow nor underflow.
    """
    if statistic <= 0:
        return 1.0
    half = statistic / 2
    if dof % 2 == 0:
        terms = [-half + i * math.log(half) - math.lgamma(i + 1) for i in range(dof // 2)]
        head = 0.0
    else:
        terms = [-half + (i - 0.5) * math.log(half) - math.lgamma(i + 0.5) for i in range(1, (dof + 1) // 2)]
        head = math.erfc(math.sqrt(half))
    if not terms:
        return min(1.0, head)
    top = max(terms)
    return min(1.0, head + math.exp(top) * math.fsum(math.exp(t - top) for t in terms))


def holm(p_values: Sequence[float]) -> np.ndarray:
    """Holm–Bonferroni adjusted p-values: the family-wise error rate stays at alpha."""
    p = np.asarray(p_values, dtype=np.float64)
    order = np.argsort(p, kind="stable")
    scaled = p[order] * (len(p) - np.arange(len(p)))
    adjusted = np.empty_like(p)
    adjusted[order] = np.minimum(np.maximum.accumulate(scaled), 1.0)
    return adjusted


def with_adjusted_p(test: StatTest, adjusted: float, alpha: float, min_size: int) -> StatTest:
    """``test`` judged on an adjusted p-value instead of its own."""
    large_enough = min(test.size_a, test.size_b) >= min_size
    return StatTest(
        test.test, test.statistic, test.p_value, test.effect_size, test.effect_size_name, test.size_a,
        test.size_b, significant=large_enough and adjusted < alpha, adjusted_p_value=adjusted,
        note=test.note,
    )


def _judged(
    test: str, statistic: float, p_value: float, effect: float, effect_name: str,
    size_a: int, size_b: int, alpha: float, min_size: int,
) -> StatTest:
    large_enough = min(size_a, size_b) >= min_size
    return StatTest(
        test, statistic, p_value, effect, effect_name, size_a, size_b,
        significant=large_enough and p_value < alpha,
        note=None if large_enough else f"a group has fewer than {min_size} cases: not judged",
    )
