"""Optimal alignments of variants against a designed model, one alignment per distinct variant."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import Protocol

from kaizenflow.conformance.errors import ModelError
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.petri import Marking, Transition, copy_net, to_pm4py
from kaizenflow.conformance.search import CompiledNet, align_trace, compile_net, model_run
from kaizenflow.conformance.soundness import model_shortest_path
from kaizenflow.conformance.types import Move, VariantAlignment

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
    search_budget_seconds: float = 5.0,
) -> list[VariantAlignment]:
    """Align each (activities, case count) once. A variant that runs out of time is unchecked.

    Costs are pm4py's exact optimal costs, never approximations. Each variant is first aligned by
    our own shortest-path search (``conformance.search``: no linear programs, several times faster
    than pm4py's A* on discovered models); if that search exceeds ``search_budget_seconds`` or its
    state budget, pm4py's A* on the state equation takes over with the time that is left.

    pm4py breaks ties between equally cheap alignments by the memory addresses of the net's
    objects, so the same trace could be explained differently from one run to the next. We
    scale pm4py's costs and add a tie-breaker smaller than their smallest step, ranked by
    activity name: the alignment found is still optimal for pm4py's costs, and the same each
    night. Cost, best-worst cost and fitness are then recomputed with pm4py's own costs.
    """
    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "false")
    compiled = compiled_model(model)
    standard = [MOVE_COST if label is not None else TAU_COST for label in compiled.labels]
    best_worst = _pm4py_cost(_model_shortest_path(model, compiled, standard))
    rank = {label: i + 1 for i, label in enumerate(sorted(model.activities))}
    unknown_rank = len(rank) + 1
    results = []
    for activities, cases in variants:
        started = time.monotonic()
        scale = _tie_scale(len(activities) + len(compiled.labels), unknown_rank)

        def model_cost(label: str | None, scale: int = scale) -> int:
            return MOVE_COST * scale + 2 * rank[label] if label is not None else TAU_COST * scale

        model_costs = [model_cost(label) for label in compiled.labels]
        trace_costs = [MOVE_COST * scale + 2 * rank.get(a, unknown_rank) + 1 for a in activities]
        budget = search_budget_seconds if timeout_seconds is None else min(search_budget_seconds,
                                                                           timeout_seconds)
        pairs = align_trace(compiled, activities, model_costs, trace_costs, deadline=started + budget)
        if pairs is None:
            left = None if timeout_seconds is None else timeout_seconds - (time.monotonic() - started)
            pairs = _astar_pairs(model, activities, model_cost, trace_costs, left)
        if pairs is None:
            results.append(
                VariantAlignment(activities=activities, cases=cases, cost=None, fitness=None,
                                 checked=False)
            )
            continue
        moves = tuple(_move(log, model_label) for log, model_label in pairs)
        cost = _pm4py_cost(pairs)
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


_COMPILED: dict[str, CompiledNet] = {}
_COMPILED_KEPT = 2  # models whose compiled net a process keeps


def compiled_model(model: DesignedModel) -> CompiledNet:
    """The model's net compiled for the search, once per process and model: a worker process
    aligns chunk after chunk of one model, and keeps the markings it has fired in between."""
    found = _COMPILED.get(model.model_hash)
    if found is None:
        found = compile_net(model.net, model.initial_marking, model.final_marking)
        if len(_COMPILED) >= _COMPILED_KEPT:
            _COMPILED.pop(next(iter(_COMPILED)))
        _COMPILED[model.model_hash] = found
    return found


#: Markings our own search may visit for the model's cheapest run before pm4py's A* takes over.
SHORTEST_PATH_STATES = 200_000
#: Seconds pm4py's A* may take for the model's cheapest run.
SHORTEST_PATH_SECONDS = 60.0


class ModelNotDecided(ModelError):
    """No search finished that could say whether or how the model's end can be reached."""


def _model_shortest_path(
    model: DesignedModel, compiled: CompiledNet, standard: Sequence[int]
) -> Sequence[tuple[str, str | None]]:
    """The model's cheapest run from start to end (the best worst cost's part), claimed unreachable
    only when a search that finished says so: our own (``search.model_run``), else pm4py's A*."""
    moves, finished = model_run(compiled, standard, max_states=SHORTEST_PATH_STATES)
    if moves is not None:
        return moves
    if finished:
        raise ModelError(f"{model.name}: the final marking cannot be reached")
    run = model_shortest_path(model.net, model.initial_marking, model.final_marking, SHORTEST_PATH_SECONDS)
    if run.moves is not None:
        return run.moves
    if run.finished:
        raise ModelError(f"{model.name}: the final marking cannot be reached")
    raise ModelNotDecided(f"{model.name}: not decided whether the final marking can be reached: no search "
                          f"finished within {SHORTEST_PATH_SECONDS:g} s")


def _pm4py_cost(pairs: Sequence[tuple[str, str | None]]) -> int:
    """pm4py's standard cost of an alignment: 10000 a log or visible model move, 1 a silent step."""
    cost = 0
    for log, model_label in pairs:
        if log == _SKIP:
            cost += TAU_COST if model_label is None else MOVE_COST
        elif model_label == _SKIP:
            cost += MOVE_COST
    return cost


def _astar_pairs(
    model: DesignedModel,
    activities: tuple[str, ...],
    model_cost: Callable[[str | None], int],
    trace_costs: Sequence[int],
    timeout_seconds: float | None,
) -> list[tuple[str, str | None]] | None:
    """pm4py's A* on the state equation, with the same costs; None when it runs out of time."""
    from pm4py.algo.conformance.alignments.petri_net.variants import state_equation_a_star as astar
    from pm4py.objects.log.obj import Event, Trace

    if timeout_seconds is not None and timeout_seconds <= 0:
        return None
    net, initial, final = to_pm4py(model.net, model.initial_marking, model.final_marking)
    parameters: dict[object, object] = {
        astar.Parameters.PARAM_MODEL_COST_FUNCTION: {t: model_cost(t.label) for t in net.transitions},
        astar.Parameters.PARAM_SYNC_COST_FUNCTION: {t: 0 for t in net.transitions if t.label is not None},
        astar.Parameters.PARAM_TRACE_COST_FUNCTION: list(trace_costs),
    }
    if timeout_seconds is not None:
        parameters[astar.Parameters.PARAM_MAX_ALIGN_TIME_TRACE] = timeout_seconds
    trace = Trace([Event({"concept:name": activity}) for activity in activities])
    aligned = astar.apply(trace, net, initial, final, parameters=parameters)
    return None if aligned is None else list(aligned["alignment"])


def _tie_scale(max_moves: int, max_rank: int) -> int:
    """A power of ten larger than any sum of tie-breakers an alignment can collect."""
    bound = max_moves * (2 * max_rank + 1) + 1
    return int(10 ** len(str(bound)))


def drain_model(model: DesignedModel) -> DesignedModel:
    """The model with a silent transition per place that removes its token, and nothing to reach.

    Aligning a trace against it gives a *prefix* alignment: the cheapest explanation of what was
    done so far, without charging for work that a running case simply has not reached yet.
    """
    net, initial, _ = copy_net(model.net, model.initial_marking, model.final_marking)
    for index, place in enumerate(sorted(net.places, key=lambda p: str(p.name))):
        drain = Transition(f"kaizen_drain_{index}", None)
        net.transitions.add(drain)
        net.connect(place, drain)
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
