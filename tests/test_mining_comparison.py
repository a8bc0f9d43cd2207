"""Comparing two groups of cases: exact statistics, no false alarms on one population, real changes found."""

from __future__ import annotations

import math
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.comparison import GroupComparison, compare_groups
from kaizenflow.mining.statistics import (
    chi_square_tail,
    chi_square_test,
    holm,
    mann_whitney_test,
    two_proportion_test,
)

PATHS = [
    ("register", "check", "approve", "pay"), ("register", "check", "reject"),
    ("register", "check", "check", "approve", "pay"), ("register", "approve", "pay"),
]
WEIGHTS = [0.5, 0.25, 0.15, 0.1]
ALPHA = 0.05


def build_log(traces: dict[str, tuple[tuple[str, ...], float]]) -> EventLog:
    """Case -> (activities, throughput hours), events spread evenly from a case's own start."""
    rows = []
    for number, (case, (activities, hours)) in enumerate(traces.items()):
        start = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(hours=number)
        for i, activity in enumerate(activities):
            at = start + pd.Timedelta(hours=hours * i / (len(activities) - 1))
            rows.append((case, activity, at.floor("s").isoformat(), "u"))
    return log_from_rows(rows)


def population(size: int, seed: int) -> tuple[dict[str, tuple[tuple[str, ...], float]], pd.Series]:
    rng = np.random.default_rng(seed)
    paths = rng.choice(len(PATHS), size=size, p=WEIGHTS)
    hours = rng.exponential(24.0, size=size) + 1.0
    cases = [f"c{i:04d}" for i in range(size)]
    deviating = pd.Series(rng.random(size) < 0.3, index=cases)
    return {c: (PATHS[p], float(h)) for c, p, h in zip(cases, paths, hours, strict=True)}, deviating


def random_halves(cases: list[str], seed: int) -> tuple[list[str], list[str]]:
    shuffled = list(np.random.default_rng(seed).permutation(cases))
    return shuffled[: len(cases) // 2], shuffled[len(cases) // 2:]


# --- the statistics, against hand computation -------------------------------------------------

def test_the_two_proportion_test_matches_the_textbook_formula() -> None:
    found = two_proportion_test(30, 100, 50, 100, ALPHA, min_size=30)
    pooled = 80 / 200
    z = (0.5 - 0.3) / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert found.statistic == pytest.approx(z)
    assert found.p_value == pytest.approx(math.erfc(z / math.sqrt(2)))
    assert found.effect_size == pytest.approx(2 * math.asin(math.sqrt(0.5)) - 2 * math.asin(math.sqrt(0.3)))
    assert (found.size_a, found.size_b, found.significant) == (100, 100, True)


def test_cliffs_delta_is_one_when_every_b_exceeds_every_a() -> None:
    found = mann_whitney_test(np.array([1.0, 2, 3]), np.array([4.0, 5, 6]), ALPHA, min_size=3)
    assert found.effect_size == pytest.approx(1.0)
    assert found.statistic == pytest.approx(9.0)


def test_cramers_v_is_one_when_the_groups_share_no_category() -> None:
    found = chi_square_test(np.array([[40, 0], [0, 40]]), ALPHA, min_size=30)
    assert found.effect_size == pytest.approx(1.0) and found.significant


def test_a_tiny_p_value_is_not_judged_significant_when_a_group_is_too_small() -> None:
    found = two_proportion_test(0, 10, 10, 10, ALPHA, min_size=30)
    assert found.p_value is not None and found.p_value < 1e-3
    assert not found.significant and found.note is not None


def test_holm_adjusts_the_smallest_p_value_by_the_family_size() -> None:
    assert list(holm([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])


# --- comparisons of groups -------------------------------------------------------------------

def test_groups_must_be_disjoint_cases_of_the_log() -> None:
    log = build_log({"c1": (PATHS[0], 5.0), "c2": (PATHS[1], 5.0)})
    with pytest.raises(ValueError, match="both groups"):
        compare_groups(log, ["c1", "c2"], ["c2"])
    with pytest.raises(ValueError, match="not in the log"):
        compare_groups(log, ["c1"], ["c9"])


def test_every_test_reports_both_group_sizes() -> None:
    traces, deviating = population(120, seed=1)
    log = build_log(traces)
    found = compare_groups(log, list(traces)[:50], list(traces)[50:], deviating=deviating)
    assert found.deviation is not None
    tests = [found.variants.test, found.throughput.test, found.deviation.test, *(e.test for e in found.edges)]
    assert all((t.size_a, t.size_b) == (50, 70) for t in tests)


def test_without_timestamps_throughput_is_not_compared() -> None:
    traces, _ = population(60, seed=2)
    log = build_log(traces)
    missing = pd.Series(pd.NaT, index=log.events.index, dtype="datetime64[us, UTC]")
    untimed = EventLog(events=log.events.assign(timestamp=missing), case_attributes=log.case_attributes,
                       has_timestamps=False)
    found = compare_groups(untimed, list(traces)[:30], list(traces)[30:])
    assert found.throughput.test.p_value is None and not found.throughput.test.significant
    assert found.variants.test.p_value is not None


def test_two_random_halves_of_one_population_differ_no_more_often_than_alpha_allows() -> None:
    traces, deviating = population(400, seed=7)
    log = build_log(traces)
    splits = 200
    flagged = {"variants": 0, "throughput": 0, "deviation": 0, "any edge": 0}
    for seed in range(splits):
        found = compare_groups(log, *random_halves(list(traces), seed), deviating=deviating)
        flagged["variants"] += found.variants.test.significant
        flagged["throughput"] += found.throughput.test.significant
        flagged["deviation"] += found.deviation is not None and found.deviation.test.significant
        flagged["any edge"] += any(e.test.significant for e in found.edges)
    allowed = ALPHA + 3 * math.sqrt(ALPHA * (1 - ALPHA) / splits)
    assert all(count / splits <= allowed for count in flagged.values()), flagged


def injected(extra_step: bool, slower: bool, more_deviating: bool) -> GroupComparison:
    """Two random halves of one population, then 20 % of group B's cases changed."""
    traces, deviating = population(1000, seed=11)
    group_a, group_b = random_halves(list(traces), seed=3)
    for case in group_b[: len(group_b) // 5]:
        activities, hours = traces[case]
        if extra_step:
            activities = (activities[0], "recheck", *activities[1:])
        traces[case] = (activities, hours + 72.0 if slower else hours)
        if more_deviating:
            deviating[case] = True
    return compare_groups(build_log(traces), group_a, group_b, deviating=deviating)


def test_an_extra_step_in_a_fifth_of_group_b_is_found_in_variants_and_paths() -> None:
    found = injected(extra_step=True, slower=False, more_deviating=False)
    assert found.variants.test.significant
    top = found.edges[0]
    assert top.edge in {("register", "recheck"), ("recheck", "check"), ("recheck", "approve")}
    assert top.test.significant and top.share_a == 0.0


def test_longer_throughput_in_a_fifth_of_group_b_is_found() -> None:
    found = injected(extra_step=False, slower=True, more_deviating=False)
    assert found.throughput.test.significant
    assert found.throughput.test.effect_size is not None and found.throughput.test.effect_size > 0
    assert found.throughput.difference_hours is not None and found.throughput.difference_hours > 0
    assert not found.variants.test.significant


def test_more_deviating_cases_in_group_b_are_found() -> None:
    found = injected(extra_step=False, slower=False, more_deviating=True)
    assert found.deviation is not None and found.deviation.test.significant
    assert found.deviation.difference > 0


def test_the_chi_square_test_gives_scipys_statistic_and_p_value() -> None:
    from scipy import stats

    rng = np.random.default_rng(5)
    for _ in range(100):
        table = rng.integers(1, 400, size=(2, int(rng.integers(2, 40))))
        reference = stats.chi2_contingency(table, correction=False)
        mine = chi_square_test(table, alpha=0.05, min_size=1)
        assert mine.statistic == pytest.approx(float(reference.statistic), rel=1e-9)
        assert mine.p_value == pytest.approx(float(reference.pvalue), rel=1e-7, abs=1e-300)
    for dof in (1, 2, 7, 100, 1001):
        for statistic in (0.01, 3.84, 60.0, 4000.0):
            assert chi_square_tail(statistic, dof) == pytest.approx(stats.chi2.sf(statistic, dof), rel=1e-9)


def test_a_night_does_not_load_scipy() -> None:
    """SciPy costs about a second to import; only the on-demand Mann-Whitney test needs it."""
    code = "import sys, kaizenflow.pipeline.stages, kaizenflow.flows.nightly; print('scipy' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"
