"""Deciding whether a designed net is a sound workflow net, by exploring its reachable markings."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

#: Reachable markings explored to decide soundness. The models we know have at most a few hundred;
#: beyond this only easy soundness (the end can be reached at all) is checked, and said so.
MAX_STATES = 100_000


@dataclass(frozen=True)
class Soundness:
    """A verdict on a workflow net: ``reason`` says why it is not sound, or how it was decided."""

    sound: bool
    reason: str
    states: int





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


def check_soundness(net: Any, initial: Any, final: Any, max_states: int = MAX_STATES) -> Soundness:
    """Classical soundness by exploring every reachable marking, with a witness when it fails.

    pm4py's woflan was measured too: 1.7 s on a22.pnml, deprecated, and it warns that its scipy
    solution "may be unstable"; exploring the markings takes milliseconds on the models we know and
    names the path into the problem. Beyond ``max_states`` markings only easy soundness is checked.
    """
    problem = _workflow_structure(net, initial, final)
    if problem:
        return Soundness(False, problem, 0)
    indexed = IndexedNet.of(net)
    start, end = indexed.marking(initial), indexed.marking(final)
    markings, parent, via, sums = [start], [-1], [-1], [sum(start)]
    index = {start: 0}
    predecessors: list[list[int]] = [[]]
    fired: set[int] = set()

    def witness(i: int) -> str:
        labels = []
        while i > 0:
            label = indexed.transitions[via[i]].label
            if label is not None:
                labels.append(label)
            i = parent[i]
        return "after " + " → ".join(reversed(labels)) if labels else "at the start"

    def tokens(marking: tuple[int, ...]) -> str:
        return ", ".join(str(indexed.places[p].name) for p, n in enumerate(marking) for _ in range(n))

    i = 0
    while i < len(markings):
        marking = markings[i]
        if marking != end and all(m >= f for m, f in zip(marking, end, strict=True)):
            return Soundness(False, f"{witness(i)} the end is reached with work left over "
                                    f"({tokens(marking)}); parallel branches may end in separate end events",
                             len(markings))
        enabled = indexed.enabled(marking)
        if not enabled and marking != end:
            return Soundness(False, f"{witness(i)} a case is stuck, waiting in {tokens(marking)}",
                             len(markings))
        for t in enabled:
            fired.add(t)
            after = indexed.fire(marking, t)
            j = index.get(after)
            if j is None:
                if _covers_an_ancestor(after, i, markings, parent, sums):
                    step = indexed.transitions[t].label or f"the silent step {indexed.transitions[t].name!r}"
                    return Soundness(False, f"{witness(i)}, {step} can repeat and pile tokens up without "
                                            f"limit ({tokens(after)})", len(markings))
                if len(markings) >= max_states:
                    return _easy_soundness(net, initial, final, max_states)
                j = len(markings)
                index[after] = j
                markings.append(after)
                parent.append(i)
                via.append(t)
                sums.append(sum(after))
                predecessors.append([])
            predecessors[j].append(i)
        i += 1
    if end not in index:
        return Soundness(False, "the end can never be reached", len(markings))
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
    dead = [indexed.transitions[t] for t in range(len(indexed.transitions)) if t not in fired]
    if dead:
        names = ", ".join(repr(t.label) if t.label is not None else f"the silent step {t.name!r}"
                          for t in dead[:5])
        return Soundness(False, f"never possible: {names}", len(markings))
    return Soundness(True, f"sound ({len(markings)} reachable markings)", len(markings))


def _covers_an_ancestor(
    marking: tuple[int, ...], i: int, markings: list[tuple[int, ...]], parent: list[int], sums: list[int]
) -> bool:
    """A marking strictly above one on its own path can be pumped up forever: the net is unbounded."""
    total = sum(marking)
    while i >= 0:
        if sums[i] < total and all(m >= a for m, a in zip(marking, markings[i], strict=True)):
            return True
        i = parent[i]
    return False


def _easy_soundness(net: Any, initial: Any, final: Any, max_states: int) -> Soundness:
    from pm4py.objects.petri_net.utils.check_soundness import check_easy_soundness_net_in_fin_marking

    from kaizenflow.conformance.petri import to_pm4py

    if not check_easy_soundness_net_in_fin_marking(*to_pm4py(net, initial, final)):
        return Soundness(False, "the end can never be reached", max_states)
    return Soundness(True, f"easy sound only: more than {max_states} reachable markings, so full soundness "
                           "was not decided", max_states)


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
