"""Optimal alignments of variants against a designed model, one alignment per distinct variant."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from conformance.models import DesignedModel
from conformance.types import Move, VariantAlignment

_SKIP = ">>"


Variants = Sequence[tuple[tuple[str, ...], int]]
#: Aligns (activities, cases) pairs against a model, in the given order.
Aligner = Callable[[DesignedModel, Variants], list[VariantAlignment]]
#: Aligns chunks of variants, possibly in parallel, returning one result list per chunk.
ChunkMapper = Callable[[DesignedModel, list[Variants]], list[list[VariantAlignment]]]


class AlignmentCache(Protocol):
    """Alignments kept across runs, by model hash and variant: a night aligns only new variants."""

    def get_many(
        self, model_hash: str, variants: Sequence[tuple[str, ...]]
    ) -> dict[tuple[str, ...], VariantAlignment]: ...

    def put_many(self, model_hash: str, alignments: Sequence[VariantAlignment]) -> None: ...


def cached_aligner(
    cache: AlignmentCache,
    timeout_seconds: float | None = None,
    map_chunks: ChunkMapper | None = None,
    chunk_size: int = 50,
) -> Aligner:
    """An aligner that looks variants up in ``cache`` first and aligns only the rest.

    ``map_chunks`` aligns chunks of variants, possibly in parallel (the flow passes one that
    submits Prefect tasks); by default, or when there is a single chunk, they are aligned here. Longest
    variants go first, so the slowest work starts earliest. Timed-out variants are returned
    as unchecked and not cached, so a later night tries them again.
    """

    def align(model: DesignedModel, variants: Variants) -> list[VariantAlignment]:
        wanted = list(variants)
        found = cache.get_many(model.model_hash, [activities for activities, _ in wanted])
        todo = sorted(
            ((a, c) for a, c in wanted if a not in found), key=lambda item: (-len(item[0]), item[0])
        )
        count = -(-len(todo) // chunk_size)  # ceiling division
        chunks: list[Variants] = [todo[i::count] for i in range(count)]  # longest spread round-robin
        if map_chunks is None or len(chunks) < 2:  # one chunk: workers would only add start-up time
            aligned = [align_variants(model, chunk, timeout_seconds) for chunk in chunks]
        else:
            aligned = map_chunks(model, chunks)
        fresh = [a for chunk in aligned for a in chunk]
        cache.put_many(model.model_hash, [a for a in fresh if a.checked])
        by_variant = {a.activities: a for a in fresh}
        results = []
        for activities, cases in wanted:
            alignment = found.get(activities) or by_variant[activities]
            results.append(replace(alignment, cases=cases))
        return results

    return align


# pm4py's default costs: a log or visible model move costs 10000, a silent move 1, in step 0.
MOVE_COST = 10_000
TAU_COST = 1


def align_variants(
    model: DesignedModel,
    variants: Iterable[tuple[tuple[str, ...], int]],
    timeout_seconds: float | None = None,
) -> list[VariantAlignment]:
    """Align each (activities, case count) once. A variant that runs out of time is unchecked.

    Costs are pm4py's exact optimal costs (A* on the state equation), never approximations.
    pm4py breaks ties between equally cheap alignments by the memory addresses of the net's
    objects, so the same trace could be explained differently from one run to the next. We
    scale pm4py's costs and add a tie-breaker smaller than their smallest step, ranked by
    activity name: the alignment found is still optimal for pm4py's costs, and the same each
    night. Cost, best-worst cost and fitness are then recomputed with pm4py's own costs.
    """
    from pm4py.algo.conformance.alignments.petri_net.variants import state_equation_a_star as astar
    from pm4py.objects.log.obj import Event, Trace

    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "false")
    net, initial, final = model.net, model.initial_marking, model.final_marking
    best_worst = astar.get_best_worst_cost(net, initial, final, parameters={})
    rank = {label: i + 1 for i, label in enumerate(sorted(model.activities))}
    unknown_rank = len(rank) + 1
    results = []
    for activities, cases in variants:
        scale = _tie_scale(len(activities) + len(net.transitions), unknown_rank)
        parameters: dict[object, object] = {
            astar.Parameters.PARAM_MODEL_COST_FUNCTION: {
                t: MOVE_COST * scale + 2 * rank[t.label] if t.label is not None else TAU_COST * scale
                for t in net.transitions
            },
            astar.Parameters.PARAM_SYNC_COST_FUNCTION: {
                t: 0 for t in net.transitions if t.label is not None
            },
            astar.Parameters.PARAM_TRACE_COST_FUNCTION: [
                MOVE_COST * scale + 2 * rank.get(a, unknown_rank) + 1 for a in activities
            ],
        }
        if timeout_seconds is not None:
            parameters[astar.Parameters.PARAM_MAX_ALIGN_TIME_TRACE] = timeout_seconds
        trace = Trace([Event({"concept:name": activity}) for activity in activities])
        aligned = astar.apply(trace, net, initial, final, parameters=parameters)
        if aligned is None:
            results.append(
                VariantAlignment(activities=activities, cases=cases, cost=None, fitness=None,
                                 checked=False)
            )
            continue
        pairs = aligned["alignment"]
        moves = tuple(_move(log, model_label) for log, model_label in pairs)
        silent = sum(1 for m in moves if m.log is None and m.model is None)
        deviating = sum(1 for m in moves if m.kind != "sync" and (m.log or m.model))
        cost = MOVE_COST * deviating + TAU_COST * silent
        bwc = MOVE_COST * len(activities) + best_worst
        denominator = bwc // MOVE_COST
        results.append(
            VariantAlignment(
                activities=activities,
                cases=cases,
                cost=float(cost),
                fitness=1 - (cost // MOVE_COST) / denominator if denominator > 0 else 0.0,
                moves=tuple(m for m in moves if not (m.log is None and m.model is None)),
                bwc=float(bwc),
            )
        )
    return results


def _tie_scale(max_moves: int, max_rank: int) -> int:
    """A power of ten larger than any sum of tie-breakers an alignment can collect."""
    bound = max_moves * (2 * max_rank + 1) + 1
    return 10 ** len(str(bound))


def drain_model(model: DesignedModel) -> DesignedModel:
    """The model with a silent transition per place that removes its token, and nothing to reach.

    Aligning a trace against it gives a *prefix* alignment: the cheapest explanation of what was
    done so far, without charging for work that a running case simply has not reached yet.
    """
    import copy

    from pm4py.objects.petri_net.obj import Marking, PetriNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    net, initial = copy.deepcopy((model.net, model.initial_marking))
    for index, place in enumerate(sorted(net.places, key=lambda p: str(p.name))):
        drain = PetriNet.Transition(f"kaizen_drain_{index}", None)
        net.transitions.add(drain)
        add_arc_from_to(place, drain, net)
    return DesignedModel(
        name=model.name, net=net, initial_marking=initial, final_marking=Marking(),
        activities=model.activities, model_hash=model.model_hash + "-prefix",
    )


def deviating_moves(alignment: VariantAlignment) -> int:
    """Log moves plus visible model moves: the deviations an alignment charges for."""
    return sum(1 for move in alignment.moves if move.kind != "sync" and (move.log or move.model))


def _move(log: str, model: str | None) -> Move:
    """pm4py writes '>>' for 'no move' and None for a silent (tau) transition; both become None."""
    return Move(log=None if log == _SKIP else log, model=None if model in (_SKIP, None) else model)
