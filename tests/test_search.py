"""Our own alignment search gives pm4py's optimal costs, and hands over to pm4py's A* when it must."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from kaizenflow.conformance.alignments import align_variants
from kaizenflow.conformance.models import DesignedModel, load_model
from kaizenflow.conformance.search import align_trace, compile_net
from kaizenflow.core.events import case_sequences
from kaizenflow.sources.files import events_to_log, read_events_file

MOVE, TAU = 10_000, 1


def _pm4py_optimal_cost(model: DesignedModel, activities: tuple[str, ...]) -> float:
    from pm4py.algo.conformance.alignments.petri_net.variants import state_equation_a_star as astar
    from pm4py.objects.log.obj import Event, Trace

    trace = Trace([Event({"concept:name": activity}) for activity in activities])
    aligned = astar.apply(trace, *model.pm4py_net())
    return float(aligned["cost"])


def _searched(model: DesignedModel, activities: tuple[str, ...]) -> list[tuple[str, str | None]]:
    """The search's alignment with pm4py's standard costs."""
    compiled = compile_net(model.net, model.initial_marking, model.final_marking)
    standard = [MOVE if label is not None else TAU for label in compiled.labels]
    moves = align_trace(compiled, activities, standard, [MOVE] * len(activities))
    assert moves is not None
    return moves


@pytest.fixture(scope="module")
def helpdesk(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory,
) -> tuple[DesignedModel, Counter[tuple[str, ...]]]:
    """The helpdesk log and an inductive-miner model of it: many silent steps, loops, skips."""
    import pm4py

    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
    log = events_to_log(read_events_file(shared_data / "logs" / "helpdesk.xes.gz"))
    variants = Counter(case_sequences(log.events).tolist())
    frame = pm4py.format_dataframe(
        log.events.assign(case_id=log.events["case_id"].astype(str)).copy(),
        case_id="case_id", activity_key="activity", timestamp_key="timestamp",
    )
    net, im, fm = pm4py.discover_petri_net_inductive(frame, noise_threshold=0.2)
    path = tmp_path_factory.mktemp("helpdesk") / "helpdesk.pnml"
    pm4py.write_pnml(net, im, fm, str(path))
    return load_model(path), variants


def test_the_search_finds_pm4pys_optimal_cost_for_every_helpdesk_variant(
    helpdesk: tuple[DesignedModel, Counter[tuple[str, ...]]],
) -> None:
    model, variants = helpdesk
    for activities in variants:
        moves = _searched(model, activities)
        cost = sum(
            TAU if log == ">>" and label is None else MOVE
            for log, label in moves if log == ">>" or label == ">>"
        )
        assert cost == _pm4py_optimal_cost(model, activities), activities


def test_the_search_replays_exactly_the_trace_it_was_given(
    helpdesk: tuple[DesignedModel, Counter[tuple[str, ...]]],
) -> None:
    model, variants = helpdesk
    for activities in list(variants)[:50]:
        moves = _searched(model, activities)
        assert tuple(log for log, _ in moves if log != ">>") == activities


def test_a_search_out_of_budget_hands_over_to_pm4pys_astar_with_the_same_result(
    helpdesk: tuple[DesignedModel, Counter[tuple[str, ...]]],
) -> None:
    model, variants = helpdesk
    chosen = [(activities, count) for activities, count in variants.most_common(40)]
    searched = align_variants(model, chosen)
    handed_over = align_variants(model, chosen, search_budget_seconds=0.0)
    assert [a.cost for a in searched] == [a.cost for a in handed_over]
    assert [a.fitness for a in searched] == [a.fitness for a in handed_over]
    assert all(a.checked for a in searched)


def test_an_empty_time_budget_leaves_the_variant_unchecked_not_dropped(
    helpdesk: tuple[DesignedModel, Counter[tuple[str, ...]]],
) -> None:
    model, variants = helpdesk
    longest = max(variants, key=len)
    [aligned] = align_variants(model, [(longest, 3)], timeout_seconds=0.0)
    assert (aligned.checked, aligned.cases, aligned.cost) == (False, 3, None)


def test_a_net_that_turns_out_unsafe_is_searched_with_token_counts_at_pm4pys_cost() -> None:
    """Every arc weighs one, but "a" keeps its input token and adds one on "buffer": the second
    "a" puts two tokens there, which a marking kept as a bit set cannot hold."""
    from pm4py.algo.conformance.alignments.petri_net.variants import state_equation_a_star as astar
    from pm4py.objects.log.obj import Event, Trace

    from kaizenflow.conformance.petri import Marking, Net, Place, Transition, to_pm4py

    net = Net("unsafe")
    start, buffer, end = Place("start"), Place("buffer"), Place("end")
    produce, consume, finish = Transition("produce", "a"), Transition("consume", "b"), Transition("finish")
    net.places |= {start, buffer, end}
    net.transitions |= {produce, consume, finish}
    for source, target in ((start, produce), (produce, start), (produce, buffer), (buffer, consume),
                           (start, finish), (finish, end)):
        net.connect(source, target)
    initial, final = Marking({start: 1}), Marking({end: 1})
    for activities in (("a", "a", "b", "b"), ("a", "b", "a", "b", "b"), ("a", "a", "a", "b")):
        compiled = compile_net(net, initial, final)
        standard = [MOVE if label is not None else TAU for label in compiled.labels]
        moves = align_trace(compiled, activities, standard, [MOVE] * len(activities))
        assert moves is not None
        cost = sum(TAU if log == ">>" and label is None else MOVE
                   for log, label in moves if log == ">>" or label == ">>")
        trace = Trace([Event({"concept:name": activity}) for activity in activities])
        assert cost == astar.apply(trace, *to_pm4py(net, initial, final))["cost"], activities
