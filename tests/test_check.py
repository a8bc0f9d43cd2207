"""Checking a log against a designed model: per-case deviations and pm4py-equal fitness."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from eventlogs import log_from_rows, sequential_model

from kaizenflow.conformance.check import check_log, map_activities, open_cases

MODEL = sequential_model("a", "b", "c")


def case(case_id: str, activities: str, start_day: int = 1) -> list[tuple[str, str, str, str]]:
    return [
        (case_id, activity, f"2024-01-{start_day:02d}T{8 + i:02d}:00:00Z", "u1")
        for i, activity in enumerate(activities.split())
    ]


def kinds(result, case_id: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    return [(d.kind, d.activity) for d in result.deviations if d.case_id == case_id]


@pytest.fixture(scope="module")
def result():  # type: ignore[no-untyped-def]
    rows = (
        case("fit", "a b c")
        + case("skip", "a c")
        + case("insert", "a x b c")
        + case("order", "c a b")
        + case("repeat", "a b b c")
        + case("ended", "a b", start_day=2)
        + case("running", "a b", start_day=28)
    )
    return check_log(log_from_rows(rows), MODEL, open_case_horizon_days=3)


def test_a_fitting_case_conforms(result) -> None:  # type: ignore[no-untyped-def]
    assert kinds(result, "fit") == []


def test_each_kind_of_deviation_is_named_with_its_activity(result) -> None:  # type: ignore[no-untyped-def]
    assert kinds(result, "skip") == [("skipped", "b")]
    assert kinds(result, "insert") == [("inserted", "x")]
    assert kinds(result, "order") == [("wrong_order", "c")]
    assert kinds(result, "repeat") == [("repeated", "b")]


def test_a_recent_unfinished_case_is_incomplete_not_deviating(result) -> None:  # type: ignore[no-untyped-def]
    assert kinds(result, "running") == []
    assert result.incomplete_cases == 1


def test_an_old_unfinished_case_skipped_its_last_activity(result) -> None:  # type: ignore[no-untyped-def]
    assert kinds(result, "ended") == [("skipped", "c")]


def test_conforming_cases_exclude_every_deviating_case(result) -> None:  # type: ignore[no-untyped-def]
    assert result.cases == 7
    assert result.conforming_cases == 2  # fit, running


def test_fitness_equals_pm4py_alignment_fitness(result) -> None:  # type: ignore[no-untyped-def]
    import pm4py

    rows = (case("fit", "a b c") + case("skip", "a c") + case("insert", "a x b c")
            + case("order", "c a b") + case("repeat", "a b b c") + case("ended", "a b", 2)
            + case("running", "a b", 28))
    frame = pd.DataFrame(rows, columns=["case:concept:name", "concept:name", "time:timestamp", "r"])
    frame["time:timestamp"] = pd.to_datetime(frame["time:timestamp"], utc=True)
    reference = pm4py.fitness_alignments(
        frame, *MODEL.pm4py_net(), multi_processing=False
    )
    assert result.fitness == pytest.approx(reference["log_fitness"], abs=1e-12)
    assert result.average_trace_fitness == pytest.approx(
        reference["average_trace_fitness"], abs=1e-12
    )


def test_each_variant_is_aligned_once(result) -> None:  # type: ignore[no-untyped-def]
    assert len(result.alignments) == 6  # "a b" occurs twice
    assert sum(a.cases for a in result.alignments) == 7


def test_open_cases_are_those_active_within_the_horizon() -> None:
    log = log_from_rows(case("old", "a b", 1) + case("new", "a", 20))
    assert open_cases(log, horizon_days=5) == {"new"}


def test_activity_mapping_renames_log_activities_to_model_names() -> None:
    log = log_from_rows(case("c1", "A-start b c"))
    mapped = map_activities(log, {"A-start": "a"})
    assert check_log(mapped, MODEL).conforming_cases == 1


def test_activity_mapping_renames_categorical_activities_as_text_ones() -> None:
    """The event store gives activities as categories; two log names may map to one model name."""
    log = log_from_rows(case("c1", "A-start b c") + case("c2", "A-begin b x"))
    mapping = {"A-start": "a", "A-begin": "a", "x": "c"}
    as_categories = replace(log, events=log.events.assign(activity=log.events["activity"].astype("category")))
    mapped = map_activities(as_categories, mapping).events["activity"]
    assert mapped.astype(str).tolist() == map_activities(log, mapping).events["activity"].tolist()
    assert list(mapped.cat.categories) == ["a", "b", "c"]


def test_equally_cheap_explanations_are_chosen_the_same_way_every_time() -> None:
    """pm4py breaks ties by memory address; two loads of one model must still agree."""
    from kaizenflow.conformance.alignments import align_variants
    from kaizenflow.conformance.models import load_model
    from kaizenflow.sample_logs import BPMN_PATH

    paid_before_goods = ("Create Purchase Requisition", "Create Purchase Order",
                         "Approve Purchase Order", "Receive Invoice", "Pay Invoice", "Receive Goods")
    explanations = set()
    for _ in range(3):
        model = load_model(BPMN_PATH)
        [aligned] = align_variants(model, [(paid_before_goods, 1)])
        explanations.add(aligned.moves)
        assert aligned.cost is not None and aligned.cost // 10000 == 2  # two deviating moves
    assert len(explanations) == 1
