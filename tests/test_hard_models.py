"""Hard models: a concurrent model with loops, aligned with pm4py's costs in one process or many."""

from __future__ import annotations

import os
from collections.abc import Sequence

import pandas as pd
import pytest

from kaizenflow.conformance.alignments import align_variants
from kaizenflow.conformance.models import DesignedModel, load_model
from kaizenflow.conformance.parallel import pool_chunks
from kaizenflow.conformance.search import align_trace, compile_net
from kaizenflow.sample_logs.concurrent import CLAIMS, claims_log, labels, play

Variants = Sequence[tuple[tuple[str, ...], int]]
Claims = tuple[DesignedModel, Variants, dict[tuple[str, ...], float]]


@pytest.fixture(scope="module")
def claims(tmp_path_factory: pytest.TempPathFactory) -> Claims:
    """A few hundred variants of the noisy claims log, its inductive-miner model, and pm4py's
    optimal cost of each variant (the A* that conformance_diagnostics_alignments runs)."""
    import pm4py
    from pm4py.algo.conformance.alignments.petri_net.variants import state_equation_a_star as astar
    from pm4py.objects.log.obj import Event, Trace

    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
    log = claims_log(260, seed=11, noise=0.1)
    frame = pd.DataFrame({"case:concept:name": log["case_id"], "concept:name": log["activity"],
                          "time:timestamp": log["timestamp"]})
    net, im, fm = pm4py.discover_petri_net_inductive(frame, noise_threshold=0.2)
    path = tmp_path_factory.mktemp("claims") / "claims.pnml"
    pm4py.write_pnml(net, im, fm, str(path))
    model = load_model(path)
    counted = log.groupby("case_id", sort=False)["activity"].agg(tuple).value_counts()
    variants: Variants = [(tuple(str(a) for a in activities), int(cases))  # type: ignore[attr-defined]
                          for activities, cases in counted.items()]
    pm4py_net = model.pm4py_net()
    costs = {activities: float(astar.apply(Trace([Event({"concept:name": a}) for a in activities]),
                                           *pm4py_net)["cost"])
             for activities, _ in variants}
    return model, variants, costs


def test_the_same_seed_plays_out_the_same_log_and_another_seed_another() -> None:
    assert claims_log(50, seed=3).equals(claims_log(50, seed=3))
    assert not claims_log(50, seed=3).equals(claims_log(50, seed=4))


def test_parallel_branches_are_interleaved_in_many_orders() -> None:
    import random

    rng = random.Random(1)
    runs = {tuple(play(CLAIMS, rng)) for _ in range(200)}
    assert len(runs) > 100
    assert all(run[0] == "Register claim" and run[-1] == "Close claim" for run in runs)
    assert {a for run in runs for a in run} == set(labels(CLAIMS))


def test_the_model_has_the_concurrency_and_loops_that_make_alignments_hard(
    claims: Claims,
) -> None:
    model, variants, costs = claims
    assert len(variants) >= 200
    assert _reachable_markings(model) > 300  # parallel branches of loops: many markings
    assert sum(1 for cost in costs.values() if cost >= 10_000) > len(variants) // 20  # deviating ones


def _reachable_markings(model: DesignedModel) -> int:
    from kaizenflow.conformance.soundness import IndexedNet

    net = IndexedNet.of(model.net)
    start = net.marking(model.initial_marking)
    seen, todo = {start}, [start]
    while todo:
        marking = todo.pop()
        for transition in net.enabled(marking):
            after = net.fire(marking, transition)
            if after not in seen:
                seen.add(after)
                todo.append(after)
    return len(seen)


def test_every_variant_gets_pm4pys_optimal_cost(
    claims: Claims,
) -> None:
    model, variants, costs = claims
    aligned = align_variants(model, variants)
    assert all(a.checked for a in aligned)
    assert {a.activities: a.cost for a in aligned} == costs


def test_worker_processes_give_the_same_alignments_in_the_order_of_the_chunks(
    claims: Claims,
) -> None:
    model, variants, _ = claims
    chunks = [variants[:40:2], variants[1:40:2]]
    in_process = [align_variants(model, chunk) for chunk in chunks]
    assert pool_chunks(workers=2, chunk_size=8)(model, chunks) == in_process


def test_a_search_out_of_time_hands_over_to_pm4py_with_the_same_costs(claims: Claims) -> None:
    model, variants, costs = claims
    deviating = [v for v in variants if costs[v[0]] >= 10_000][:5]
    aligned = align_variants(model, deviating, search_budget_seconds=0)
    assert [a.cost for a in aligned] == [costs[activities] for activities, _ in deviating]


def test_a_search_over_its_state_budget_gives_up_instead_of_growing(claims: Claims) -> None:
    from kaizenflow.conformance.alignments import MOVE_COST, TAU_COST

    model, variants, costs = claims
    compiled = compile_net(model.net, model.initial_marking, model.final_marking)
    standard = [MOVE_COST if label is not None else TAU_COST for label in compiled.labels]
    activities = next(a for a, _ in variants if costs[a] >= 10_000)
    assert align_trace(compiled, activities, standard, [MOVE_COST] * len(activities), max_states=5) is None


def test_the_claims_log_is_a_plain_event_frame() -> None:
    log = claims_log(3)
    assert list(log.columns) == ["case_id", "activity", "timestamp"]
    assert log.groupby("case_id")["timestamp"].is_monotonic_increasing.all()
