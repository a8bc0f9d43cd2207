"""Deviation patterns: size, extra throughput time, and the business objects behind them."""

import pandas as pd
import pytest

from kaizenflow.conformance.patterns import deviation_patterns, root_causes
from kaizenflow.conformance.types import Deviation


def attributes(n: int) -> pd.DataFrame:
    cases = [f"c{i:03d}" for i in range(n)]
    supplier = ["S-1" if i < 20 else f"S-{2 + i % 8}" for i in range(n)]
    material = [f"M-{i % 50}" for i in range(n)]
    return pd.DataFrame({"supplier": supplier, "material": material},
                        index=pd.Index(cases, name="case_id")).astype("string")


def test_the_value_carrying_most_excess_cases_ranks_first() -> None:
    table = attributes(200)
    affected = [f"c{i:03d}" for i in range(15)] + ["c100", "c150", "c151", "c152", "c153"]
    causes = root_causes(affected, table, min_support=3)
    assert (causes[0].attribute, causes[0].value) == ("supplier", "S-1")
    assert causes[0].cases == 15
    assert causes[0].support == pytest.approx(15 / 20)
    assert causes[0].lift == pytest.approx((15 / 20) / (20 / 200))


def test_values_below_the_minimum_support_are_never_causes() -> None:
    table = attributes(200)
    causes = root_causes(["c000", "c001"], table, min_support=3)
    assert causes == []


def test_patterns_group_by_kind_and_activity_and_measure_extra_time() -> None:
    deviations = [Deviation("c1", "skipped", "approve"), Deviation("c2", "skipped", "approve"),
                  Deviation("c2", "repeated", "pay")]
    hours = pd.Series({"c1": 30.0, "c2": 50.0, "c3": 10.0, "c4": 20.0})
    table = pd.DataFrame(index=pd.Index(["c1", "c2", "c3", "c4"], name="case_id"))
    found = deviation_patterns(deviations, 4, ["c3", "c4"], hours, table)
    assert [(p.kind, p.activity, p.cases) for p in found] == [("skipped", "approve", 2),
                                                             ("repeated", "pay", 1)]
    assert found[0].share == 0.5
    assert found[0].extra_throughput_median_hours == pytest.approx(40.0 - 15.0)
    assert found[0].example_case_ids == ("c1", "c2")


def test_with_costs_a_pattern_says_what_its_cases_cost_beyond_conforming_ones() -> None:
    deviations = [Deviation("c1", "repeated", "pay"), Deviation("c2", "repeated", "pay"),
                  Deviation("c5", "repeated", "pay")]
    hours = pd.Series({f"c{i}": 1.0 for i in range(1, 6)})
    costs = pd.Series({"c1": 300.0, "c2": 500.0, "c3": 100.0, "c4": 200.0, "c5": float("nan")})
    table = pd.DataFrame(index=pd.Index([f"c{i}" for i in range(1, 6)], name="case_id"))
    [pattern] = deviation_patterns(deviations, 5, ["c3", "c4"], hours, table, case_costs=costs)
    assert pattern.extra_cost_median == pytest.approx(400.0 - 150.0)  # c5's cost is unknown
    assert pattern.extra_cost_p90 == pytest.approx(480.0 - 190.0)
    assert pattern.extra_cost_total == pytest.approx((300.0 - 150.0) + (500.0 - 150.0))


def test_without_costs_a_pattern_has_no_cost_figures() -> None:
    deviations = [Deviation("c1", "skipped", "approve")]
    table = pd.DataFrame(index=pd.Index(["c1", "c2"], name="case_id"))
    [pattern] = deviation_patterns(deviations, 2, ["c2"], pd.Series({"c1": 2.0, "c2": 1.0}), table)
    assert (pattern.extra_cost_median, pattern.extra_cost_p90, pattern.extra_cost_total) == (None, None, None)


def test_a_pattern_lists_its_cases_in_id_order_and_counts_causes_among_them_only() -> None:
    table = attributes(200)
    late_first = ["c150", "c003", "c120", "c001", "c002", "c000", "c004"]  # deviations come unordered
    deviations = [Deviation(case, "skipped", "approve") for case in late_first]
    deviations.append(Deviation("c199", "repeated", "pay"))  # another pattern's case: not counted
    hours = pd.Series(1.0, index=table.index)
    conforming = [case for case in table.index if case not in set(late_first) | {"c199"}]
    found = {p.key: p for p in deviation_patterns(deviations, 200, conforming, hours, table, min_support=3)}
    pattern = found["skipped:approve"]
    assert pattern.example_case_ids == ("c000", "c001", "c002", "c003", "c004")
    assert [(c.attribute, c.value, c.cases) for c in pattern.root_causes] == [("supplier", "S-1", 5)]
    assert pattern.root_causes == tuple(root_causes(late_first, table, min_support=3))
