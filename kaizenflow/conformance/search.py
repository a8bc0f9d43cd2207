"""Exact optimal alignments by a shortest-path search over the synchronous product, without pm4py.

pm4py's A* solves a linear program for most states it visits; on models discovered by the
inductive miner (many silent transitions) that dominates its run time. This search is a plain
Dijkstra over (marking, trace position) with integer markings and no linear programs, so each
state is cheap, and it stays exact: every move costs what the caller's cost function says, and
the first state popped that has consumed the trace in the final marking is optimal.

Two reductions keep it small, both of which keep the optimum:
- a log move never directly follows a model move: swapping such a pair yields an alignment with
  the same moves, hence the same cost, so an optimal alignment in this form always exists;
- the search keeps, per state, the cheapest way it was reached (closed states are never reopened,
  valid since all costs are non-negative).

A search that would exceed its time or state budget gives up (returns None) so the caller can
fall back to pm4py's A*, which needs far fewer states on some models.
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

#: A move as pm4py writes it: (log label or '>>', model label, None for a silent step, or '>>').
PairMove = tuple[str, str | None]
_SKIP = ">>"
_SYNC, _MODEL, _LOG = 0, 1, 2
_FIRINGS_KEPT = 200_000  # markings remembered per net: tens of MB at most on a sequential net
#: Token counts held in remembered firings per net (each successor marking holds one per place):
#: on a net with many parallel branches each marking has many successors, and markings are wide.
_FIRINGS_VALUES = 8_000_000
#: Token counts the markings of the states a search has seen may hold (about 8 bytes each): on wide
#: nets with many parallel branches each state has many successors, and the search gives up sooner.
_STATE_VALUES = 40_000_000


@dataclass(frozen=True)
class CompiledNet:
    """A Petri net as integer vectors: what the search touches millions of times."""

    initial: tuple[int, ...]
    final: tuple[int, ...]
    labels: tuple[str | None, ...]
    pre: tuple[tuple[tuple[int, int], ...], ...]
    delta: tuple[tuple[tuple[int, int], ...], ...]
    by_place: tuple[tuple[int, ...], ...]  # transitions that consume from each place
    by_label: Mapping[str, tuple[int, ...]]
    transitions: tuple[Any, ...]  # pm4py transition objects, in index order
    #: marking -> the transitions enabled in it and where firing each leads; every trace aligned
    #: against the net meets the same markings again, at other trace positions
    firings: dict[tuple[int, ...], tuple[tuple[int, tuple[int, ...]], ...]] = field(
        default_factory=dict, compare=False, repr=False)
    #: token counts held in ``firings`` so far, in a list so that the frozen net can count them
    firings_values: list[int] = field(default_factory=lambda: [0], compare=False, repr=False)


def compile_net(net: Any, initial: Any, final: Any) -> CompiledNet:
    """Index places and transitions by name so that the same net always compiles the same way."""
    places = sorted(net.places, key=lambda p: str(p.name))
    place_index = {place: i for i, place in enumerate(places)}
    transitions = sorted(net.transitions, key=lambda t: (str(t.name), str(t.label)))
    pre, delta, labels = [], [], []
    by_place: list[list[int]] = [[] for _ in places]
    by_label: dict[str, list[int]] = {}
    for index, transition in enumerate(transitions):
        consumed: dict[int, int] = {}
        produced: dict[int, int] = {}
        for arc in transition.in_arcs:  # two arcs between the same nodes add up
            consumed[place_index[arc.source]] = consumed.get(place_index[arc.source], 0) + arc.weight
        for arc in transition.out_arcs:
            produced[place_index[arc.target]] = produced.get(place_index[arc.target], 0) + arc.weight
        pre.append(tuple(sorted(consumed.items())))
        change = {p: produced.get(p, 0) - consumed.get(p, 0) for p in consumed.keys() | produced.keys()}
        delta.append(tuple(sorted((p, d) for p, d in change.items() if d)))
        labels.append(transition.label)
        for place in consumed:
            by_place[place].append(index)
        if transition.label is not None:
            by_label.setdefault(transition.label, []).append(index)

    def vector(marking: Any) -> tuple[int, ...]:
        counts = [0] * len(places)
        for place, tokens in marking.items():
            counts[place_index[place]] = tokens
        return tuple(counts)

    return CompiledNet(
        initial=vector(initial), final=vector(final), labels=tuple(labels), pre=tuple(pre),
        delta=tuple(delta), by_place=tuple(tuple(ts) for ts in by_place),
        by_label={label: tuple(ts) for label, ts in by_label.items()},
        transitions=tuple(transitions),
    )


def align_trace(
    net: CompiledNet,
    trace: Sequence[str],
    model_costs: Sequence[int],
    trace_costs: Sequence[int],
    deadline: float | None = None,
    max_states: int = 500_000,  # a few hundred MB at most; receipt's costliest variant needs < 100,000
) -> list[PairMove] | None:
    """The cheapest alignment of ``trace`` (sync moves cost 0), or None if the budget ran out.

    ``model_costs`` is indexed like ``net.transitions``; ``trace_costs`` like ``trace``. The state
    search also gives up when the states it has seen would hold more than ``_STATE_VALUES`` token counts.
    """
    max_seen = _STATE_VALUES // max(1, len(net.initial))
    length = len(trace)
    start = (net.initial, 0, False)
    best: dict[tuple[tuple[int, ...], int, bool], int] = {start: 0}
    parent: dict[tuple[tuple[int, ...], int, bool], tuple[Any, int, int]] = {}
    closed: set[tuple[tuple[int, ...], int, bool]] = set()
    queue: list[tuple[int, int, int, tuple[tuple[int, ...], int, bool]]] = [(0, 0, 0, start)]
    pushed = 0
    pre, delta, by_place, by_label = net.pre, net.delta, net.by_place, net.by_label
    while queue:
        cost, _, _, state = heapq.heappop(queue)
        if state in closed:
            continue
        closed.add(state)
        marking, position, after_model = state
        if position == length and marking == net.final:
            return _moves(net, trace, parent, state)
        if len(closed) > max_states or len(best) > max_seen or (
            deadline is not None and len(closed) & 1023 == 1 and time.monotonic() > deadline
        ):
            return None
        firings = net.firings.get(marking)
        if firings is None:
            firings = _fire_all(marking, pre, delta, by_place)
            if len(net.firings) < _FIRINGS_KEPT and net.firings_values[0] < _FIRINGS_VALUES:
                net.firings[marking] = firings
                net.firings_values[0] += len(firings) * len(marking)
        successors: list[tuple[int, tuple[tuple[int, ...], int, bool], int, int]] = []
        label = trace[position] if position < length else None
        for t, after in firings:
            successors.append((model_costs[t], (after, position, True), _MODEL, t))
            if label is not None and t in by_label.get(label, ()):
                successors.append((0, (after, position + 1, False), _SYNC, t))
        if label is not None and not after_model:
            successors.append((trace_costs[position], (marking, position + 1, False), _LOG, -1))
        for step, following, kind, t in successors:
            total = cost + step
            if following in closed or best.get(following, total + 1) <= total:
                continue
            best[following] = total
            parent[following] = (state, kind, t)
            pushed += 1
            # Deeper states first among equal costs: reaches the end of the trace sooner.
            heapq.heappush(queue, (total, -following[1], pushed, following))
    return None


def _fire_all(
    marking: tuple[int, ...],
    pre: Sequence[tuple[tuple[int, int], ...]],
    delta: Sequence[tuple[tuple[int, int], ...]],
    by_place: Sequence[tuple[int, ...]],
) -> tuple[tuple[int, tuple[int, ...]], ...]:
    """Each transition enabled in ``marking``, with the marking firing it leads to."""
    enabled = {
        t for p, tokens in enumerate(marking) if tokens for t in by_place[p]
        if all(marking[q] >= w for q, w in pre[t])
    }
    firings = []
    for t in enabled:
        fired = list(marking)
        for q, d in delta[t]:
            fired[q] += d
        firings.append((t, tuple(fired)))
    return tuple(firings)


def _moves(
    net: CompiledNet, trace: Sequence[str], parent: Mapping[Any, tuple[Any, int, int]], state: Any
) -> list[PairMove]:
    moves: list[PairMove] = []
    while state in parent:
        previous, kind, t = parent[state]
        if kind == _LOG:
            moves.append((trace[previous[1]], _SKIP))
        elif kind == _SYNC:
            moves.append((trace[previous[1]], net.labels[t]))
        else:
            label = net.labels[t]
            moves.append((_SKIP, label))
        state = previous
    moves.reverse()
    return moves


def model_run(
    net: CompiledNet, model_costs: Sequence[int], max_states: int = 200_000
) -> tuple[list[PairMove] | None, bool]:
    """The cheapest firing sequence from the initial to the final marking (the alignment of an empty
    trace), and whether the search finished: (None, True) means the final marking is unreachable.

    Parallel branches would make a plain shortest-path search visit every interleaving, all equally
    cheap. Where an enabled transition's input places are consumed only by transitions with the
    same inputs (a free choice, or no choice at all) and the final marking leaves them empty, every
    run to the end fires one of those transitions, and firing it first changes neither the run's
    steps nor its cost (it takes only tokens no other step takes, and adding tokens disables
    nothing). So only that cluster is expanded there: a stubborn-set reduction that keeps an optimal
    run, and turns the interleavings of independent branches into one order.
    """
    clustered: list[tuple[int, ...] | None] = []
    for arcs in net.pre:
        consumers = {u for p, _ in arcs for u in net.by_place[p]}
        alone = bool(arcs) and all(net.final[p] == 0 for p, _ in arcs) and all(
            net.pre[u] == arcs for u in consumers)
        clustered.append(tuple(sorted(consumers)) if alone else None)
    start = net.initial
    best = {start: 0}
    parent: dict[tuple[int, ...], tuple[tuple[int, ...], int]] = {}
    closed: set[tuple[int, ...]] = set()
    queue: list[tuple[int, int, tuple[int, ...]]] = [(0, 0, start)]
    pushed = 0
    max_seen = min(max_states, _STATE_VALUES // max(1, len(start)))
    while queue:
        cost, _, marking = heapq.heappop(queue)
        if marking in closed:
            continue
        closed.add(marking)
        if marking == net.final:
            moves: list[PairMove] = []
            while marking in parent:
                marking, t = parent[marking]
                moves.append((_SKIP, net.labels[t]))
            moves.reverse()
            return moves, True
        if len(best) > max_seen:
            return None, False
        firings = _fire_all(marking, net.pre, net.delta, net.by_place)
        cluster = next((clustered[t] for t, _ in sorted(firings) if clustered[t] is not None), None)
        for t, after in firings:
            if cluster is not None and t not in cluster:
                continue
            total = cost + model_costs[t]
            if after in closed or best.get(after, total + 1) <= total:
                continue
            best[after] = total
            parent[after] = (marking, t)
            pushed += 1
            heapq.heappush(queue, (total, pushed, after))
    return None, True
