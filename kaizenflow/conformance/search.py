"""Exact optimal alignments by a shortest-path search over the synchronous product, without pm4py.

pm4py's A* solves a linear program for most states it visits; on models discovered by the
inductive miner (many silent transitions) that dominates its run time. This search is a plain
Dijkstra over (marking, trace position) with integer markings and no linear programs, so each
state is cheap, and it stays exact: every move costs what the caller's cost function says, and
the first state popped that has consumed the trace in the final marking is optimal.

Five devices keep it small, all of which keep the optimum:
- a log move never directly follows a model move: swapping such a pair yields an alignment with
  the same moves, hence the same cost, so an optimal alignment in this form always exists;
- the search keeps, per state, the cheapest way it was reached (closed states are never reopened,
  valid since all costs are non-negative and the heuristic below is consistent);
- it is an A* search: each marked place's cheapest way on to the end, paying nothing for steps
  whose activity is still ahead in the trace, bounds what is left to pay (``_TokenBounds``), which
  cuts off detours (a loop taken back to steps the trace has passed) that cost little so far;
  on a safe net, what the steps on every way from a marked place to the end cost, each counted
  once (``_mandatory_cost``), is a bound too, and the larger of the two is taken: where the trace
  lacks several steps every completion must take, it counts them all, the first only the dearest;
- on a safe net a state's deviations (log moves, model moves of visible steps) are queued apart
  from its synchronous and silent moves, and expanded only if the search gets that far: with
  deviations costing far more than silent steps, most states never are;
- silent steps that every completion takes, and that no other step competes for, are fired in
  one order only (``silent_clusters``): parallel branches would otherwise multiply the states by
  every order of their silent steps.

On a safe net (every net the inductive miner discovers) a marking is a bit set and a state one
integer, cheap to hash and keep. A search that would exceed its time or state budget gives up
(returns None) so the caller can fall back to pm4py's A*, which needs far fewer states on some models.
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
    #: ``silent_clusters`` once computed
    clusters: list[tuple[frozenset[int] | None, ...]] = field(default_factory=list, compare=False, repr=False)
    #: ``_safe_net`` once computed (None when the net is not safe)
    safe: list[_SafeNet | None] = field(default_factory=list, compare=False, repr=False)
    #: bit-set marking -> what the safe search needs of it (``_SafeNet.entry``)
    safe_firings: dict[int, _Entry] = field(default_factory=dict, compare=False, repr=False)
    #: model costs -> activities still ahead -> each place's bound and each bit-set marking's
    #: bound (``_TokenBounds``): variants aligned one after another share them
    bounds: dict[tuple[int, ...], dict[frozenset[str], _Bound]] = field(
        default_factory=dict, compare=False, repr=False)
    #: markings' bounds held in ``bounds`` so far, in a list so that the frozen net can count them
    heights_kept: list[int] = field(default_factory=lambda: [0], compare=False, repr=False)
    #: ``_flows`` once computed
    flows: list[_Flows] = field(default_factory=list, compare=False, repr=False)


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
    On a safe net (no place ever holds two tokens) markings are bit sets (``_align_safe``); a net
    that turns out not to be safe is searched again with markings as vectors of counts.
    """
    safe = _safe_net(net)
    if safe is not None:
        found = _align_safe(net, safe, trace, model_costs, trace_costs, deadline, max_states)
        if found is not _NOT_SAFE:
            return found  # type: ignore[return-value]
        net.safe[0] = None  # the traces aligned next go straight to the search with counts
    return _align_counts(net, trace, model_costs, trace_costs, deadline, max_states)


def _align_counts(
    net: CompiledNet,
    trace: Sequence[str],
    model_costs: Sequence[int],
    trace_costs: Sequence[int],
    deadline: float | None,
    max_states: int,
) -> list[PairMove] | None:
    """``align_trace`` with markings as vectors of token counts: for any net."""
    max_seen = _STATE_VALUES // max(1, len(net.initial))
    length = len(trace)
    start = (net.initial, 0, False)
    best: dict[tuple[tuple[int, ...], int, bool], int] = {start: 0}
    parent: dict[tuple[tuple[int, ...], int, bool], tuple[Any, int, int]] = {}
    closed: set[tuple[tuple[int, ...], int, bool]] = set()
    bounds = _TokenBounds(net, trace, model_costs)
    clusters = silent_clusters(net)
    queue: list[tuple[int, int, int, tuple[tuple[int, ...], int, bool]]] = [
        (bounds.of(net.initial, 0), 0, 0, start)]
    pushed = 0
    pre, delta, by_place, by_label = net.pre, net.delta, net.by_place, net.by_label
    while queue:
        _, _, _, state = heapq.heappop(queue)
        if state in closed:
            continue
        closed.add(state)
        cost = best[state]
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
        forced = next((clusters[t] for t, _ in firings if clusters[t] is not None), None)
        if forced is not None:  # silent steps every completion takes: one order, no log move between
            for t, after in firings:
                if t in forced:
                    successors.append((model_costs[t], (after, position, after_model), _MODEL, t))
            firings = ()
            label = None
        for t, after in firings:
            successors.append((model_costs[t], (after, position, True), _MODEL, t))
            if label is not None and t in by_label.get(label, ()):
                successors.append((0, (after, position + 1, False), _SYNC, t))
        if label is not None and not after_model and forced is None:
            successors.append((trace_costs[position], (marking, position + 1, False), _LOG, -1))
        for step, following, kind, t in successors:
            total = cost + step
            if following in closed or best.get(following, total + 1) <= total:
                continue
            bound = bounds.of(following[0], following[1])
            if bound >= _UNREACHABLE:
                continue  # a token that can never be taken on to the end: no alignment goes this way
            best[following] = total
            parent[following] = (state, kind, t)
            pushed += 1
            # Deeper states first among equal costs: reaches the end of the trace sooner.
            heapq.heappush(queue, (total + bound, -following[1], pushed, following))
    return None


_UNREACHABLE = 1 << 62
#: the places' bound per place, the bound of each bit-set marking met so far, and what each
#: transition costs the bounds (nothing for a visible step whose activity is still ahead)
_Bound = tuple[list[int], dict[int, int], list[int]]
#: a bit-set marking's marked places, the firings of the silent cluster the search must take
#: there (or None), and all its firings; None when a firing would put a second token on a place
_Entry = tuple[tuple[int, ...], tuple[tuple[int, int], ...] | None, tuple[tuple[int, int], ...]] | None
_NOT_SAFE = object()
#: cost vectors, and activity sets ahead per cost vector, whose bounds a net keeps
_BOUND_COSTS_KEPT = 8
_BOUNDS_KEPT = 4_096
#: markings' bounds a net keeps, over all sets of activities ahead
_HEIGHTS_KEPT = 500_000


@dataclass(frozen=True)
class _SafeNet:
    """A net none of whose arcs weighs more than one, with markings as bit sets (place i: bit i)."""

    initial: int
    final: int
    pre: tuple[int, ...]  # the places each transition takes from
    post: tuple[int, ...]  # the places each transition puts a token on
    by_place: tuple[tuple[int, ...], ...]
    clusters: tuple[frozenset[int] | None, ...]
    #: per place, as a bit set, the transitions on every way from it to the end (``_mandatory``)
    mandatory: tuple[int, ...]

    def entry(self, marking: int) -> _Entry:
        places = _marked(marking)
        candidates = sorted({t for p in places for t in self.by_place[p]})
        firings = []
        for t in candidates:
            needs = self.pre[t]
            if marking & needs == needs:
                rest = marking & ~needs
                if rest & self.post[t]:
                    return None  # two tokens on a place: the net is not safe
                firings.append((t, rest | self.post[t]))
        clusters = self.clusters
        cluster = next((clusters[t] for t, _ in firings if clusters[t] is not None), None)
        forced = None if cluster is None else tuple((t, after) for t, after in firings if t in cluster)
        return places, forced, tuple(firings)


#: per transition the places it puts tokens on, per place the transitions putting tokens on it,
#: and the transitions with no output
_Flows = tuple[list[list[int]], list[list[int]], list[int]]


def _flows(net: CompiledNet) -> _Flows:
    """Where each step puts tokens back: its inputs' weights plus its change (a net change of zero
    on an input place it takes from and gives back to is an output too); once per net."""
    if not net.flows:
        outputs: list[list[int]] = []
        producers: list[list[int]] = [[] for _ in net.initial]
        drains: list[int] = []
        for t, arcs in enumerate(net.pre):
            output = dict(arcs)
            for q, change in net.delta[t]:
                output[q] = output.get(q, 0) + change
            outputs.append([q for q, weight in output.items() if weight > 0])
            for q in outputs[t]:
                producers[q].append(t)
            if not outputs[t]:
                drains.append(t)
        net.flows.append((outputs, producers, drains))
    return net.flows[0]


def _marked(marking: int) -> tuple[int, ...]:
    return tuple(p for p in range(marking.bit_length()) if marking >> p & 1)


def _safe_net(net: CompiledNet) -> _SafeNet | None:
    """The net as bit sets when no arc weighs more than one and no marking given has two tokens on a
    place (whether firings keep it so is seen as the search goes), else None."""
    if net.safe:
        return net.safe[0]
    found: _SafeNet | None = None
    if len(net.initial) <= 4096 and max((*net.initial, *net.final), default=0) <= 1:
        pre, post = [], []
        for t, arcs in enumerate(net.pre):
            output = dict(arcs)
            for q, change in net.delta[t]:
                output[q] = output.get(q, 0) + change
            if any(w > 1 for _, w in arcs) or any(w > 1 for w in output.values()):
                break
            pre.append(sum(1 << q for q, _ in arcs))
            post.append(sum(1 << q for q, w in output.items() if w))
        else:
            found = _SafeNet(
                initial=sum(1 << p for p, tokens in enumerate(net.initial) if tokens),
                final=sum(1 << p for p, tokens in enumerate(net.final) if tokens),
                pre=tuple(pre), post=tuple(post), by_place=net.by_place, clusters=silent_clusters(net),
                mandatory=_mandatory(net))
    net.safe.append(found)
    return found


def _align_safe(
    net: CompiledNet,
    safe: _SafeNet,
    trace: Sequence[str],
    model_costs: Sequence[int],
    trace_costs: Sequence[int],
    deadline: float | None,
    max_states: int,
) -> list[PairMove] | None | object:
    """``_align_counts`` on a safe net, each state one integer: (marking, trace position, whether a
    model move led there) packed as bits, so that storing and hashing a state is cheap. The same
    moves and costs; ``_NOT_SAFE`` when a firing puts two tokens on a place.

    A state's deviations (log moves, model moves of visible steps) are expanded apart from its
    synchronous and silent moves: a second queue entry, keyed by the least its deviations can
    reach (the state's own key, or its cost plus the cheapest deviation, whichever is more; the
    bound is consistent, so no successor's key is less). Most states of an alignment with few
    deviations are never expanded that way, and their many deviations are never bounded nor queued.
    """
    max_seen = _STATE_VALUES // max(1, len(net.initial))
    length = len(trace)
    shift = length.bit_length() + 1
    positions = (1 << (shift - 1)) - 1
    bounds = _TokenBounds(net, trace, model_costs)
    heights = [bounds.at(i) for i in range(length + 1)]
    labels, final, entries = net.labels, safe.final, net.safe_firings
    keep_entries = len(entries) < _FIRINGS_KEPT
    kept, mandatory = net.heights_kept, safe.mandatory
    start = safe.initial << shift
    best: dict[int, int] = {start: 0}
    parent: dict[int, tuple[int, int, int]] = {}
    closed: set[int] = set()
    queue: list[tuple[int, int, int, int, bool]] = [
        (_height(heights[0], safe.initial, entries, kept, safe.mandatory), 0, 0, start, False)]
    pushed = popped = 0
    while queue:
        key, _, _, state, deviations = heapq.heappop(queue)
        popped += 1
        if deviations:
            pass  # the state's second expansion: it is closed already
        elif state in closed:
            continue
        else:
            closed.add(state)
        cost = best[state]
        marking, position, after_model = state >> shift, state >> 1 & positions, state & 1
        if position == length and marking == final:
            return _safe_moves(labels, trace, parent, state, shift, positions)
        if len(closed) > max_states or len(best) > max_seen or (
            deadline is not None and popped & 1023 == 1 and time.monotonic() > deadline
        ):
            return None
        entry = entries.get(marking)
        if entry is None:
            entry = safe.entry(marking)
            if entry is None:
                return _NOT_SAFE
            if keep_entries:
                entries[marking] = entry
                keep_entries = len(entries) < _FIRINGS_KEPT
        _, forced, firings = entry
        successors: list[tuple[int, int, int, int]] = []  # (step cost, state, kind, transition)
        here = position << 1
        label = trace[position] if position < length else None
        if forced is not None:  # silent steps every completion takes: one order, no log move between
            for t, after in forced:
                successors.append((model_costs[t], after << shift | here | after_model, _MODEL, t))
        elif deviations:
            for t, after in firings:
                if labels[t] is not None:
                    successors.append((model_costs[t], after << shift | here | 1, _MODEL, t))
            if label is not None and not after_model:
                successors.append((trace_costs[position], marking << shift | (position + 1) << 1, _LOG, -1))
        else:
            synced = (position + 1) << 1
            # the least key a deviation can get: its cost on top of this state's bound, which
            # only a step whose activity is not ahead may lower, by at most its cost
            height = key - cost
            least = trace_costs[position] + height if label is not None and not after_model else _UNREACHABLE
            ahead = bounds.ahead[position]
            for t, after in firings:
                activity = labels[t]
                if activity is None:
                    successors.append((model_costs[t], after << shift | here | 1, _MODEL, t))
                else:
                    step = model_costs[t]
                    reach = step + height if activity in ahead else step if step > height else height
                    if reach < least:
                        least = reach
                    if activity == label:
                        successors.append((0, after << shift | synced, _SYNC, t))
            if least < _UNREACHABLE:
                pushed += 1
                heapq.heappush(queue, (cost + least, -position, pushed, state, True))
        for step, following, kind, t in successors:
            total = cost + step
            if best.get(following, total + 1) <= total:
                continue  # a closed state's cost is the least already (the bound is consistent)
            at = following >> 1 & positions
            bound = _height(heights[at], following >> shift, entries, kept, mandatory)
            if bound >= _UNREACHABLE:
                continue  # a token that can never be taken on to the end: no alignment goes this way
            best[following] = total
            parent[following] = (state, kind, t)
            pushed += 1
            # Deeper states first among equal costs: reaches the end of the trace sooner.
            heapq.heappush(queue, (total + bound, -at, pushed, following, False))
    return None


def _height(
    bound: _Bound, marking: int, entries: Mapping[int, _Entry], kept: list[int], mandatory: Sequence[int],
) -> int:
    """The bound of a bit-set marking (kept while the net's count ``kept`` allows): the largest
    bound of its marked places, or what the steps every completion takes cost, if that is more."""
    distance, known, costs = bound
    found = known.get(marking)
    if found is None:
        entry = entries.get(marking)
        places = entry[0] if entry is not None else _marked(marking)
        found = max([distance[p] for p in places], default=0)
        if found < _UNREACHABLE:
            found = max(found, _mandatory_cost(places, mandatory, costs))
        if kept[0] < _HEIGHTS_KEPT:
            known[marking] = found
            kept[0] += 1
    return found


def _mandatory_cost(places: Sequence[int], mandatory: Sequence[int], costs: Sequence[int]) -> int:
    """What the transitions on every way from some marked place to the end cost, each once.

    Every completion takes each token on, step by step, to a place of the final marking or into a
    step with no output, so it fires each such transition at least once; different transitions
    are different moves. Consistent: a move takes at most its own transition out of the union
    (its outputs' transitions include its inputs' but itself), and a step of the trace only
    makes transitions dearer.
    """
    union = 0
    for p in places:
        union |= mandatory[p]
    total = 0
    while union:
        low = union & -union
        total += costs[low.bit_length() - 1]
        union ^= low
    return total


def _mandatory(net: CompiledNet) -> tuple[int, ...]:
    """Per place, as a bit set, the transitions on every way from it to a place of the final marking
    or into a step with no output (a way goes on from a step through any one of its outputs):
    the greatest solution of M(p) = the intersection over steps t taking from p and over their
    outputs q of {t} | M(q), with M(p) empty for a place of the final marking."""
    everything = (1 << len(net.pre)) - 1
    outputs = _flows(net)[0]
    found = [0 if tokens else everything for tokens in net.final]
    changed = True
    while changed:
        changed = False
        for p, consumers in enumerate(net.by_place):
            if net.final[p]:
                continue
            ways = everything
            for t in consumers:
                after = everything
                for q in outputs[t]:
                    after &= found[q]
                ways &= (1 << t) | (after if outputs[t] else 0)
            if ways != found[p]:
                found[p] = ways
                changed = True
    return tuple(found)


def _safe_moves(
    labels: Sequence[str | None], trace: Sequence[str], parent: Mapping[int, tuple[int, int, int]],
    state: int, shift: int, positions: int,
) -> list[PairMove]:
    moves: list[PairMove] = []
    while state in parent:
        previous, kind, t = parent[state]
        if kind == _LOG:
            moves.append((trace[previous >> 1 & positions], _SKIP))
        elif kind == _SYNC:
            moves.append((trace[previous >> 1 & positions], labels[t]))
        else:
            moves.append((_SKIP, labels[t]))
        state = previous
    moves.reverse()
    return moves


class _TokenBounds:
    """A lower bound on what is left to pay from (marking, trace position): A*'s heuristic.

    Every token not in the final marking must be taken on, step by step, to a place of the final
    marking or into a step with no output; each step on the way is paid: nothing for a visible step
    whose activity is still ahead in the trace (it may be a synchronous move), its model cost
    otherwise. The cheapest such way for each marked place is a lower bound of the whole rest, so
    the largest over the marked places is too; it never falls by more than a move costs (taking a
    step on costs at least that step; a step of the trace only removes activities from what lies
    ahead), so the search stays exact. Cost: one backward Dijkstra over the net per set of
    activities still ahead, of which a trace has at most as many as it has distinct activities.
    """

    def __init__(self, net: CompiledNet, trace: Sequence[str], model_costs: Sequence[int]) -> None:
        self.net, self.model_costs = net, model_costs
        ahead: list[frozenset[str]] = [frozenset()] * (len(trace) + 1)
        for i in range(len(trace) - 1, -1, -1):
            ahead[i] = ahead[i + 1] | {trace[i]}
        self.ahead = ahead
        costs = tuple(model_costs)
        shared = net.bounds.get(costs)
        if shared is None:
            if len(net.bounds) >= _BOUND_COSTS_KEPT:
                net.bounds.pop(next(iter(net.bounds)))
            shared = net.bounds[costs] = {}
        self.shared = shared
        self.distances: dict[frozenset[str], list[int]] = {}
        self.at_position: list[list[int] | None] = [None] * (len(trace) + 1)
        _, self.producers, self.drains = _flows(net)

    def of(self, marking: tuple[int, ...], position: int) -> int:
        distance = self.at_position[position]
        if distance is None:
            distance = self.at_position[position] = self._distances(self.ahead[position])
        return max([d for d, tokens in zip(distance, marking, strict=True) if tokens], default=0)

    def at(self, position: int) -> _Bound:
        """Each place's bound at ``position``, and the bounds of markings met there before."""
        ahead = self.ahead[position]
        found = self.shared.get(ahead)
        if found is None:
            costs = [0 if label is not None and label in ahead else self.model_costs[t]
                     for t, label in enumerate(self.net.labels)]
            found = (self._distances(ahead), {}, costs)
            if len(self.shared) < _BOUNDS_KEPT:
                self.shared[ahead] = found
        return found

    def _distances(self, ahead: frozenset[str]) -> list[int]:
        found = self.distances.get(ahead)
        if found is not None:
            return found
        net = self.net
        costs = [0 if label is not None and label in ahead else self.model_costs[t]
                 for t, label in enumerate(net.labels)]
        distance = [_UNREACHABLE] * len(net.initial)
        for p, tokens in enumerate(net.final):
            if tokens:
                distance[p] = 0
        for t in self.drains:
            for p, _ in net.pre[t]:
                distance[p] = min(distance[p], costs[t])
        queue = [(d, p) for p, d in enumerate(distance) if d < _UNREACHABLE]
        heapq.heapify(queue)
        while queue:
            d, q = heapq.heappop(queue)
            if d > distance[q]:
                continue
            for t in self.producers[q]:
                through = d + costs[t]
                for p, _ in net.pre[t]:
                    if through < distance[p]:
                        distance[p] = through
                        heapq.heappush(queue, (through, p))
        self.distances[ahead] = distance
        return distance


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


def silent_clusters(net: CompiledNet) -> tuple[frozenset[int] | None, ...]:
    """Per transition: its cluster when the search may fire the cluster's silent steps first, else None.

    A cluster is the transitions taking from a silent transition's input places. When all of them
    are silent, have the same inputs, and the final marking leaves those places empty, every
    alignment from a marking where they are enabled fires one of them later; firing it first
    instead changes neither the moves nor the cost (it takes tokens no other step takes, and the
    tokens it adds disable nothing). The search then expands only that cluster, as a move that
    does not count as a model move for the rule that no log move follows a model move (in the
    alignment it was moved from, it only sat among the other moves). Otherwise parallel branches
    multiply the states by every order in which their silent steps can happen.
    """
    if net.clusters:
        return net.clusters[0]
    found: list[frozenset[int] | None] = []
    for t, arcs in enumerate(net.pre):
        consumers = frozenset(u for p, _ in arcs for u in net.by_place[p])
        alone = (net.labels[t] is None and bool(arcs) and all(net.final[p] == 0 for p, _ in arcs)
                 and all(net.pre[u] == arcs and net.labels[u] is None for u in consumers))
        found.append(consumers if alone else None)
    net.clusters.append(tuple(found))
    return net.clusters[0]


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
