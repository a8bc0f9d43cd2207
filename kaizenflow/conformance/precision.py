"""Log precision of a designed model: pm4py's align-ETConformance, computed once per distinct prefix."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from kaizenflow.conformance.models import DesignedModel, IndexedNet
from kaizenflow.core.events import EventLog, case_sequences

Marking = tuple[int, ...]

#: Markings one prefix may reach through silent steps before we give up (an unbounded net).
MAX_MARKINGS = 100_000


@dataclass(frozen=True)
class Precision:
    """How much of the behaviour the model allows after each prefix the log actually shows.

    ``activated`` counts, over every prefix of every case (and the empty one), the activities the
    model allows next; ``escaping`` those of them no case ever did after that prefix. Prefixes the
    model cannot replay are left out, as pm4py does, and counted in ``unfit_prefixes``.
    """

    value: float
    activated: int
    escaping: int
    unfit_prefixes: int


def log_precision(log: EventLog, model: DesignedModel) -> Precision:
    """Precision of the model for the log, equal to ``pm4py.precision_alignments`` on the same data."""
    return variant_precision(model, Counter(case_sequences(log.events)))


def variant_precision(model: DesignedModel, variants: Mapping[tuple[str, ...], int]) -> Precision:
    """Precision from variants (activity sequence → number of cases).

    pm4py aligns every distinct proper prefix of the log separately, building a synchronous product
    each time (65 s for the 10,097 prefixes of a22f0n05). The prefix's alignment only allows
    synchronous and silent moves at cost 1 per silent step, and keeps every marking the cheapest
    replays stop in. The same markings come out of one walk over the prefix tree: a prefix's
    cheapest silent-step count to every marking, extended by one synchronous move and the silent
    steps after it, is its children's. Activity names are kept as tuples; pm4py joins prefixes with
    "," and splits them again, so it alone goes wrong for activity names that contain a comma.
    """
    explorer = _Explorer(model)
    tree: dict[tuple[str, ...], Counter[str]] = {}
    weight: Counter[tuple[str, ...]] = Counter()
    for variant, cases in variants.items():
        for i in range(1, len(variant)):
            tree.setdefault(variant[:i], Counter())[variant[i]] += cases
            weight[variant[:i]] += cases
    cases = sum(variants.values())
    starts = {variant[0] for variant in variants if variant}
    allowed = explorer.allowed_after(explorer.initial)
    activated = cases * len(allowed)
    escaping = cases * len(allowed - starts)
    unfit = 0
    children: dict[tuple[str, ...], list[str]] = {}
    below = Counter(weight)  # cases through a prefix and all longer ones, to count unfit subtrees
    for prefix in sorted(tree, key=len, reverse=True):
        children.setdefault(prefix[:-1], []).append(prefix[-1])
        if len(prefix) > 1:
            below[prefix[:-1]] += below[prefix]
    root: tuple[str, ...] = ()
    stack = [(root, explorer.silent_closure({explorer.initial: 0}))]
    while stack:
        prefix, reached = stack.pop()
        for activity in children.get(prefix, []):
            child = prefix + (activity,)
            seeds = explorer.step(reached, activity)
            if not seeds:
                unfit += below[child]
                continue
            cheapest = min(seeds.values())
            model_next: set[str] = set()
            for marking, cost in seeds.items():
                if cost == cheapest:
                    model_next |= explorer.allowed_after(marking)
            activated += len(model_next) * weight[child]
            escaping += len(model_next - set(tree[child])) * weight[child]
            stack.append((child, explorer.silent_closure(seeds)))
    value = 1 - escaping / activated if activated > 0 else 1.0
    return Precision(value=value, activated=activated, escaping=escaping, unfit_prefixes=unfit)


class _Explorer:
    """Moves through the model's markings, remembering each marking's successors."""

    def __init__(self, model: DesignedModel) -> None:
        self.model = model
        self.net = IndexedNet.of(model.net)
        self.initial = self.net.marking(model.initial_marking)
        self._moves: dict[Marking, tuple[list[Marking], dict[str, list[Marking]]]] = {}
        self._allowed: dict[Marking, frozenset[str]] = {}

    def moves(self, marking: Marking) -> tuple[list[Marking], dict[str, list[Marking]]]:
        """The markings one silent step away, and those one step of each activity away."""
        known = self._moves.get(marking)
        if known is None:
            silent: list[Marking] = []
            visible: dict[str, list[Marking]] = {}
            for t in self.net.enabled(marking):
                label = self.net.transitions[t].label
                after = self.net.fire(marking, t)
                if label is None:
                    silent.append(after)
                else:
                    visible.setdefault(label, []).append(after)
            known = self._moves[marking] = (silent, visible)
        return known

    def silent_closure(self, seeds: dict[Marking, int]) -> dict[Marking, int]:
        """The fewest silent steps to every marking reachable from the seeds (Dijkstra)."""
        best = dict(seeds)
        queue = [(cost, marking) for marking, cost in seeds.items()]
        heapq.heapify(queue)
        while queue:
            cost, marking = heapq.heappop(queue)
            if cost > best[marking]:
                continue
            for after in self.moves(marking)[0]:
                if cost + 1 < best.get(after, cost + 2):
                    best[after] = cost + 1
                    heapq.heappush(queue, (cost + 1, after))
            if len(best) > MAX_MARKINGS:
                raise ValueError(f"{self.model.name}: more than {MAX_MARKINGS} markings reachable by silent "
                                 "steps; is the net unbounded?")
        return best

    def step(self, reached: dict[Marking, int], activity: str) -> dict[Marking, int]:
        """The markings one synchronous move on ``activity`` away, at the cheapest cost to reach each."""
        seeds: dict[Marking, int] = {}
        for marking, cost in reached.items():
            for after in self.moves(marking)[1].get(activity, ()):
                if cost < seeds.get(after, cost + 1):
                    seeds[after] = cost
        return seeds

    def allowed_after(self, marking: Marking) -> frozenset[str]:
        """Activities enabled after silent steps, by pm4py's own function so that quirks match too."""
        known = self._allowed.get(marking)
        if known is None:
            from pm4py.objects.petri_net.utils.align_utils import (
                get_visible_transitions_eventually_enabled_by_marking,
            )

            transitions: Any = get_visible_transitions_eventually_enabled_by_marking(
                self.model.net, self.net.pm4py_marking(marking)
            )
            known = self._allowed[marking] = frozenset(t.label for t in transitions if t.label is not None)
        return known
