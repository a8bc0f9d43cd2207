"""Deciding whether a designed net is a sound workflow net: reduction rules, bounded exploration.

A verdict is claimed only from an analysis that finished: the net reduced to a single step by
rules that keep liveness and boundedness (then it is sound), a witness marking found by exploring
(a stuck case, work left over, tokens piling up), or an exploration of every reachable marking.
When the exploration runs out of its budget of markings or seconds without a witness, soundness
is *not decided* (``Soundness.sound is None``), never "unsound"; whether the end can be reached
at all is then asked of pm4py's A* on the state equation, which needs few states on concurrent nets.
"""

from __future__ import annotations

import time
from array import array
from collections import deque
from dataclasses import dataclass
from typing import Any

#: Reachable markings explored to decide soundness when the reduction rules do not. Markings are
#: kept as sorted tuples of the marked places, so memory grows with tokens, not with places.
MAX_STATES = 100_000
#: Seconds the exploration may take before soundness is left undecided.
MAX_SECONDS = 20.0
#: Seconds pm4py's A* may take to find any way from the start to the end of an undecided net.
REACH_SECONDS = 30.0


@dataclass(frozen=True)
class Soundness:
    """A verdict on a workflow net: ``reason`` says why it is not sound, or how it was decided.

    ``sound`` is True or False when decided, None when no analysis finished ("not decided").
    """

    sound: bool | None
    reason: str
    states: int

    @property
    def decided(self) -> bool:
        return self.sound is not None


@dataclass(frozen=True)
class IndexedNet:
    """A net as index tuples, for exploring its markings fast: a marking is a tuple of token counts.

    Places are ordered by name and transitions by name and label, so exploration is deterministic.
    """

    places: tuple[Any, ...]
    transitions: tuple[Any, ...]
    pre: tuple[tuple[tuple[int, int], ...], ...]
    post: tuple[tuple[tuple[int, int], ...], ...]
    consumers: tuple[tuple[int, ...], ...]
    unguarded: tuple[int, ...]

    @staticmethod
    def of(net: Any) -> IndexedNet:
        places = tuple(sorted(net.places, key=lambda p: str(p.name)))
        transitions = tuple(sorted(net.transitions, key=lambda t: (str(t.name), str(t.label))))
        at = {place: i for i, place in enumerate(places)}
        pre = tuple(tuple(sorted((at[a.source], a.weight) for a in t.in_arcs)) for t in transitions)
        post = tuple(tuple(sorted((at[a.target], a.weight) for a in t.out_arcs)) for t in transitions)
        consumers = tuple(tuple(t for t, arcs in enumerate(pre) if any(p == place for p, _ in arcs))
                          for place in range(len(places)))
        return IndexedNet(places, transitions, pre, post, consumers,
                          tuple(i for i, arcs in enumerate(pre) if not arcs))

    def marking(self, marking: Any) -> tuple[int, ...]:
        return tuple(int(marking.get(place, 0)) for place in self.places)

    def pm4py_marking(self, marking: tuple[int, ...]) -> Any:
        from pm4py.objects.petri_net.obj import Marking

        return Marking({self.places[i]: count for i, count in enumerate(marking) if count})

    def enabled(self, marking: tuple[int, ...]) -> list[int]:
        candidates = set(self.unguarded)
        for place, count in enumerate(marking):
            if count:
                candidates.update(self.consumers[place])
        return sorted(t for t in candidates if all(marking[p] >= w for p, w in self.pre[t]))

    def fire(self, marking: tuple[int, ...], transition: int) -> tuple[int, ...]:
        tokens = list(marking)
        for place, weight in self.pre[transition]:
            tokens[place] -= weight
        for place, weight in self.post[transition]:
            tokens[place] += weight
        return tuple(tokens)


def check_soundness(
    net: Any, initial: Any, final: Any, max_states: int = MAX_STATES, max_seconds: float = MAX_SECONDS,
    reach_seconds: float = REACH_SECONDS,
) -> Soundness:
    """Classical soundness, with a witness when it fails and "not decided" when nothing finished.

    First the workflow-net structure; then reduction rules (Murata's fusion and self-loop rules on
    the net short-circuited from end to start, which keep liveness and boundedness, so a net that
    reduces to one place and one step is sound); then exploring the reachable markings, up to
    ``max_states`` markings and ``max_seconds``. pm4py's woflan was measured too: 1.7 s on a22.pnml,
    deprecated, it warns that its scipy solution "may be unstable", and it builds the whole state
    space of a concurrent net in memory.
    """
    problem = _workflow_structure(net, initial, final)
    if problem:
        return Soundness(False, problem, 0)
    reduced = reduces_to_a_single_step(net, initial, final)
    if reduced:
        return Soundness(True, "sound (decided by reduction: the net short-circuited from end to start "
                               "reduces to one place and one step)", 0)
    verdict = _explore(net, initial, final, max_states, max_seconds)
    if verdict.decided:
        return verdict
    reachable = final_marking_reachable(net, initial, final, reach_seconds)
    if reachable is False:
        return Soundness(False, "the end can never be reached (pm4py's A* on the state equation searched "
                                "every way)", verdict.states)
    end = ("the end can be reached" if reachable
           else f"whether the end can be reached was not decided within {reach_seconds:g} s either")
    return Soundness(None, f"not decided: {verdict.reason}; {end}", verdict.states)


def _explore(net: Any, initial: Any, final: Any, max_states: int, max_seconds: float) -> Soundness:
    """Every reachable marking, breadth first, or a witness; ``sound=None`` when the budget ran out.

    A marking is a sorted tuple of place indices, one entry per token.
    """
    deadline = time.monotonic() + max_seconds
    places = sorted(net.places, key=lambda p: str(p.name))
    transitions = sorted(net.transitions, key=lambda t: (str(t.name), str(t.label)))
    at = {place: i for i, place in enumerate(places)}
    pre = [tuple(sorted(_weights(t.in_arcs, at, "source").items())) for t in transitions]
    post = [tuple(sorted(_weights(t.out_arcs, at, "target").items())) for t in transitions]
    consumers: list[list[int]] = [[] for _ in places]
    for t, arcs in enumerate(pre):
        for p, _ in arcs:
            consumers[p].append(t)
    unguarded = [t for t, arcs in enumerate(pre) if not arcs]

    def sparse(marking: Any) -> tuple[int, ...]:
        return tuple(sorted(at[p] for p, n in marking.items() for _ in range(int(n))))

    def mask(marking: tuple[int, ...]) -> int:
        bits = 0
        for p in marking:
            bits |= 1 << (p & 63)
        return bits

    start, end = sparse(initial), sparse(final)
    end_counts = _counts(end)
    markings, sums, masks = [start], array("i", [len(start)]), [mask(start)]
    parent, via = array("i", [-1]), array("i", [-1])
    index = {start: 0}
    edges_from, edges_to = array("i"), array("i")
    fired: set[int] = set()

    def witness(i: int) -> str:
        labels = []
        while i > 0:
            label = transitions[via[i]].label
            if label is not None:
                labels.append(label)
            i = parent[i]
        return "after " + " → ".join(reversed(labels)) if labels else "at the start"

    def tokens(marking: tuple[int, ...]) -> str:
        return ", ".join(str(places[p].name) for p in marking)

    def covers_an_ancestor(after: tuple[int, ...], i: int) -> bool:
        """A marking strictly above one on its own path can be pumped up forever: unbounded."""
        total, bits, counts = len(after), mask(after), None
        while i >= 0:
            if sums[i] < total and masks[i] & ~bits == 0:
                counts = counts or _counts(after)
                if all(counts.get(p, 0) >= n for p, n in _counts(markings[i]).items()):
                    return True
            i = parent[i]
        return False

    i = 0
    while i < len(markings):
        marking = markings[i]
        counts = _counts(marking)
        if marking != end and all(counts.get(p, 0) >= n for p, n in end_counts.items()):
            return Soundness(False, f"{witness(i)} the end is reached with work left over "
                                    f"({tokens(marking)}); parallel branches may end in separate end events",
                             len(markings))
        candidates = set(unguarded)
        for p in counts:
            candidates.update(consumers[p])
        enabled = sorted(t for t in candidates if all(counts.get(p, 0) >= w for p, w in pre[t]))
        if not enabled and marking != end:
            return Soundness(False, f"{witness(i)} a case is stuck, waiting in {tokens(marking)}",
                             len(markings))
        for t in enabled:
            fired.add(t)
            following = dict(counts)
            for p, w in pre[t]:
                following[p] -= w
            for p, w in post[t]:
                following[p] = following.get(p, 0) + w
            after = tuple(sorted(p for p, n in following.items() for _ in range(n)))
            j = index.get(after)
            if j is None:
                if covers_an_ancestor(after, i):
                    step = transitions[t].label or f"the silent step {transitions[t].name!r}"
                    return Soundness(False, f"{witness(i)}, {step} can repeat and pile tokens up without "
                                            f"limit ({tokens(after)})", len(markings))
                if len(markings) >= max_states:
                    return Soundness(None, f"more than {max_states:,} reachable markings", len(markings))
                j = len(markings)
                index[after] = j
                markings.append(after)
                sums.append(len(after))
                masks.append(mask(after))
                parent.append(i)
                via.append(t)
            edges_from.append(i)
            edges_to.append(j)
        i += 1
        if i & 1023 == 0 and time.monotonic() > deadline:
            return Soundness(None, f"{len(markings):,} reachable markings explored in {max_seconds:g} s "
                                   "without an end", len(markings))
    if end not in index:
        return Soundness(False, "the end can never be reached", len(markings))
    predecessors: list[list[int]] = [[] for _ in markings]
    for source, target in zip(edges_from, edges_to, strict=True):
        predecessors[target].append(source)
    finishing = {index[end]}
    queue = deque(finishing)
    while queue:
        for p in predecessors[queue.popleft()]:
            if p not in finishing:
                finishing.add(p)
                queue.append(p)
    stuck = next((k for k in range(len(markings)) if k not in finishing), None)
    if stuck is not None:
        return Soundness(False, f"{witness(stuck)} a case can no longer finish (it loops in "
                                f"{tokens(markings[stuck])})", len(markings))
    dead = [transitions[t] for t in range(len(transitions)) if t not in fired]
    if dead:
        names = ", ".join(repr(t.label) if t.label is not None else f"the silent step {t.name!r}"
                          for t in dead[:5])
        return Soundness(False, f"never possible: {names}", len(markings))
    return Soundness(True, f"sound ({len(markings)} reachable markings)", len(markings))


def _weights(arcs: Any, at: dict[Any, int], end: str) -> dict[int, int]:
    """Tokens per place an arc set takes or gives; two arcs between the same nodes add up."""
    weights: dict[int, int] = {}
    for arc in arcs:
        place = at[getattr(arc, end)]
        weights[place] = weights.get(place, 0) + int(arc.weight)
    return weights


def _counts(marking: tuple[int, ...]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for p in marking:
        counts[p] = counts.get(p, 0) + 1
    return counts


def reduces_to_a_single_step(net: Any, initial: Any, final: Any) -> bool:
    """Whether the workflow net, short-circuited from its end to its start, reduces to one marked
    place with one step looping on it by Murata's rules (fusion of series places and transitions,
    of parallel places and transitions, elimination of self-loop places and transitions).

    The rules keep liveness and boundedness both ways, and a workflow net is sound exactly when its
    short-circuited net is live and bounded (van der Aalst), so True means sound. False decides
    nothing: the rules are not complete (a net that is not free-choice, for one, seldom reduces).
    Block-structured nets (sequences, exclusive and parallel blocks, loops) always reduce.
    """
    reduction = _Reduction(net, initial, final)
    reduction.run()
    return reduction.is_atomic()


class _Reduction:
    """A net as weighted pre- and post-sets of integer nodes, reduced in place."""

    def __init__(self, net: Any, initial: Any, final: Any) -> None:
        places = sorted(net.places, key=lambda p: str(p.name))
        transitions = sorted(net.transitions, key=lambda t: (str(t.name), str(t.label)))
        at = {place: i for i, place in enumerate(places)}
        self.pre: dict[int, dict[int, int]] = {}
        self.post: dict[int, dict[int, int]] = {}
        for t, transition in enumerate(transitions):
            self.pre[t] = _weights(transition.in_arcs, at, "source")
            self.post[t] = _weights(transition.out_arcs, at, "target")
        short_circuit = len(transitions)
        (end,) = [at[p] for p in final]
        (start,) = [at[p] for p in initial]
        self.pre[short_circuit], self.post[short_circuit] = {end: 1}, {start: 1}
        self.tokens = {i: 0 for i in range(len(places))}
        for place, count in initial.items():
            self.tokens[at[place]] = int(count)
        self.producers: dict[int, set[int]] = {p: set() for p in self.tokens}
        self.consumers: dict[int, set[int]] = {p: set() for p in self.tokens}
        for t in self.pre:
            for p in self.pre[t]:
                self.consumers[p].add(t)
            for p in self.post[t]:
                self.producers[p].add(t)

    def is_atomic(self) -> bool:
        if len(self.tokens) != 1 or len(self.pre) != 1:
            return False
        ((place, count),) = self.tokens.items()
        (t,) = self.pre
        return count == 1 and self.pre[t] == {place: 1} and self.post[t] == {place: 1}

    def run(self) -> None:
        changed = True
        while changed:
            changed = False
            for p in sorted(self.tokens):
                if p in self.tokens and (self._series_transitions(p) or self._self_loop_place(p)):
                    changed = True
            for t in sorted(self.pre):
                if t in self.pre and (self._series_places(t) or self._self_loop_transition(t)):
                    changed = True
            changed = self._parallel_places() or changed
            changed = self._parallel_transitions() or changed

    def _remove_transition(self, t: int) -> None:
        for p in self.pre.pop(t):
            self.consumers[p].discard(t)
        for p in self.post.pop(t):
            self.producers[p].discard(t)

    def _remove_place(self, p: int) -> None:
        for t in self.producers.pop(p):
            del self.post[t][p]
        for t in self.consumers.pop(p):
            del self.pre[t][p]
        del self.tokens[p]

    def _series_transitions(self, p: int) -> bool:
        """t1 → p → t2, p unmarked, p only between them, t2 needing nothing else: t1 does t2's work."""
        if self.tokens[p] or len(self.producers[p]) != 1 or len(self.consumers[p]) != 1:
            return False
        (t1,), (t2,) = self.producers[p], self.consumers[p]
        if t1 == t2 or self.pre[t2] != {p: 1} or self.post[t1][p] != 1:
            return False
        outputs = self.post[t2]
        self._remove_transition(t2)
        self._remove_place(p)
        for q, weight in outputs.items():
            self.post[t1][q] = self.post[t1].get(q, 0) + weight
            self.producers[q].add(t1)
        return True

    def _series_places(self, t: int) -> bool:
        """p1 → t → p2 with t the only step out of p1: p1's tokens may as well arrive in p2."""
        if len(self.pre[t]) != 1 or len(self.post[t]) != 1:
            return False
        ((p1, w1),), ((p2, w2),) = self.pre[t].items(), self.post[t].items()
        if p1 == p2 or w1 != 1 or w2 != 1 or self.consumers[p1] != {t}:
            return False
        self._remove_transition(t)
        producers = {u: self.post[u][p1] for u in self.producers[p1]}
        tokens = self.tokens[p1]
        self._remove_place(p1)
        for u, weight in producers.items():
            self.post[u][p2] = self.post[u].get(p2, 0) + weight
            self.producers[p2].add(u)
        self.tokens[p2] += tokens
        return True

    def _self_loop_place(self, p: int) -> bool:
        """A marked place that one step takes from and gives back, and that step needs more."""
        if self.tokens[p] < 1 or len(self.producers[p]) != 1 or self.producers[p] != self.consumers[p]:
            return False
        (t,) = self.producers[p]
        if self.pre[t].get(p) != 1 or self.post[t].get(p) != 1 or len(self.pre[t]) < 2:
            return False
        self._remove_place(p)
        return True

    def _self_loop_transition(self, t: int) -> bool:
        """A step that takes one token from a place and puts it back, where another step also takes."""
        if len(self.pre[t]) != 1 or self.pre[t] != self.post[t]:
            return False
        ((p, weight),) = self.pre[t].items()
        if weight != 1 or len(self.consumers[p]) < 2:
            return False
        self._remove_transition(t)
        return True

    def _parallel_places(self) -> bool:
        seen: dict[tuple[Any, ...], int] = {}
        changed = False
        for p in sorted(self.tokens):
            key = (tuple(sorted((t, self.post[t][p]) for t in self.producers[p])),
                   tuple(sorted((t, self.pre[t][p]) for t in self.consumers[p])), self.tokens[p])
            if key in seen:
                self._remove_place(p)
                changed = True
            else:
                seen[key] = p
        return changed

    def _parallel_transitions(self) -> bool:
        seen: dict[tuple[Any, ...], int] = {}
        changed = False
        for t in sorted(self.pre):
            key = (tuple(sorted(self.pre[t].items())), tuple(sorted(self.post[t].items())))
            if key in seen:
                self._remove_transition(t)
                changed = True
            else:
                seen[key] = t
        return changed


@dataclass(frozen=True)
class ModelRun:
    """The cheapest run of a net from start to end, as pm4py writes model moves (">>", label).

    ``moves`` is None when no run was found; ``finished`` says whether the search finished, so
    that None with ``finished`` means the end cannot be reached, and without it: not decided.
    """

    moves: tuple[tuple[str, str | None], ...] | None
    finished: bool


def final_marking_reachable(
    net: Any, initial: Any, final: Any, seconds: float = REACH_SECONDS
) -> bool | None:
    """Whether any firing sequence leads from ``initial`` to exactly ``final``; None if not decided."""
    run = model_shortest_path(net, initial, final, seconds)
    return None if not run.finished else run.moves is not None


def model_shortest_path(net: Any, initial: Any, final: Any, seconds: float | None) -> ModelRun:
    """The cheapest run by pm4py's standard costs (a visible step 10000, a silent one 1).

    pm4py's A* on the state equation with an empty trace: its heuristic is exact on concurrent
    nets, so it walks straight to the end where a breadth-first search drowns in interleavings. A
    search that returns before its time without a run searched every way (or found that the state
    equation has no solution): the end is unreachable.
    """
    import os

    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "false")
    from pm4py.algo.conformance.alignments.petri_net.variants import state_equation_a_star as astar
    from pm4py.objects.log.obj import Trace

    from kaizenflow.conformance.petri import to_pm4py

    converted, start, end = to_pm4py(net, initial, final)
    parameters: dict[object, object] = {}
    if seconds is not None:
        parameters[astar.Parameters.PARAM_MAX_ALIGN_TIME_TRACE] = seconds
    began = time.monotonic()
    aligned = astar.apply(Trace(), converted, start, end, parameters=parameters)
    if aligned is not None:
        return ModelRun(tuple(aligned["alignment"]), True)
    return ModelRun(None, seconds is None or time.monotonic() - began < seconds)


def _workflow_structure(net: Any, initial: Any, final: Any) -> str | None:
    """One start place, one end place, every place and transition on a path from start to end."""
    sources = sorted(str(p.name) for p in net.places if not p.in_arcs)
    sinks = sorted(str(p.name) for p in net.places if not p.out_arcs)
    if len(sources) != 1 or len(sinks) != 1:
        return (f"a workflow net has one place to start and one to end; this one starts in "
                f"{sources or 'none'} and ends in {sinks or 'none'}")
    if {p.name: n for p, n in initial.items()} != {sources[0]: 1}:
        return f"a case must start with one token in {sources[0]!r}"
    if {p.name: n for p, n in final.items()} != {sinks[0]: 1}:
        return f"a case must end with one token in {sinks[0]!r}"
    start = [p for p in net.places if p.name == sources[0]]
    forward = _reach(start, lambda n: [a.target for a in n.out_arcs])
    backward = _reach([p for p in net.places if p.name == sinks[0]], lambda n: [a.source for a in n.in_arcs])
    for node in sorted([*net.places, *net.transitions], key=lambda n: str(n.name)):
        if node not in forward or node not in backward:
            what = "place" if node in net.places else "transition"
            return f"{what} {node.name!r} is not on a path from the start to the end"
    return None


def _reach(start: list[Any], step: Any) -> set[Any]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for nxt in step(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
