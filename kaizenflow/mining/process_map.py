"""Frequency-based simplification of a process map that never cuts a kept activity off a start or an end.

A map of a real log is a hairball; the view people act on shows the main flow. Dropping rare
activities and edges naively leaves islands (an activity nobody can reach) that misstate how
work flows, so after the cut the strongest missing edges are added back until every kept
activity lies on a path from a start activity to an end activity.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

from kaizenflow.mining.types import ProcessMap, Variant

_Edge = tuple[str, str]
_Key = TypeVar("_Key", str, _Edge)


@dataclass(frozen=True)
class SimplifiedMap:
    """The simplified map and what it took to keep it connected.

    ``covered_cases`` is the share of cases whose whole variant is inside the map (known only
    when variants were given); ``restored_edges`` were below the cut but added back for
    connectivity.
    """

    process_map: ProcessMap
    coverage: float
    covered_cases: float | None
    restored_edges: tuple[_Edge, ...]
    dropped_activities: tuple[str, ...]
    dropped_edges: int


def simplify_process_map(
    process_map: ProcessMap, coverage: float = 0.8, variants: Sequence[Variant] | None = None
) -> SimplifiedMap:
    """Keep the activities and edges covering ``coverage`` of the cases, then reconnect.

    With ``variants`` (from ``discover_variants``) the cut is exact: the most frequent variants
    are taken until they cover ``coverage`` of the cases, and their activities and edges are
    kept. Without them a map only holds frequencies, so the most frequent activities are kept
    until they account for ``coverage`` of all events, then the most frequent edges among them
    until those account for ``coverage`` of their transitions. Either way at least one activity
    is kept, and the repair adds back what connectivity needs.
    """
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must lie in [0, 1], got {coverage}")
    weights = {(e.source, e.target): e.frequency for e in process_map.edges}
    if variants is not None:
        activities, edges = _cut_by_variants(variants, coverage, weights)
    else:
        activities, edges = _cut_by_frequency(process_map, coverage, weights)
    if not activities and process_map.activities:
        activities = {_ranked(process_map.activities)[0]}
    before = set(edges)
    activities, edges = _reconnect(activities, edges, weights, process_map.start_activities, forward=True)
    activities, edges = _reconnect(activities, edges, weights, process_map.end_activities, forward=False)
    simplified = ProcessMap(
        activities={a: n for a, n in process_map.activities.items() if a in activities},
        edges=tuple(e for e in process_map.edges if (e.source, e.target) in edges),
        start_activities={a: n for a, n in process_map.start_activities.items() if a in activities},
        end_activities={a: n for a, n in process_map.end_activities.items() if a in activities},
    )
    return SimplifiedMap(
        process_map=simplified,
        coverage=coverage,
        covered_cases=_covered(variants, activities, edges) if variants is not None else None,
        restored_edges=tuple(sorted(edges - before)),
        dropped_activities=tuple(sorted(set(process_map.activities) - activities)),
        dropped_edges=len(process_map.edges) - len(simplified.edges),
    )


def _cut_by_variants(
    variants: Sequence[Variant], coverage: float, weights: Mapping[_Edge, int]
) -> tuple[set[str], set[_Edge]]:
    total = sum(v.cases for v in variants)
    activities: set[str] = set()
    edges: set[_Edge] = set()
    covered = 0
    for variant in sorted(variants, key=lambda v: (-v.cases, v.activities)):
        if total and covered >= coverage * total and activities:
            break
        covered += variant.cases
        activities.update(variant.activities)
        edges.update(zip(variant.activities, variant.activities[1:], strict=False))
    return activities, {e for e in edges if e in weights}


def _cut_by_frequency(
    process_map: ProcessMap, coverage: float, weights: Mapping[_Edge, int]
) -> tuple[set[str], set[_Edge]]:
    activities = set(_top_share(process_map.activities, coverage))
    among = {e: w for e, w in weights.items() if e[0] in activities and e[1] in activities}
    return activities, set(_top_share(among, coverage))


def _top_share(counts: Mapping[_Key, int], coverage: float) -> list[_Key]:
    """The most frequent keys until their counts reach ``coverage`` of the total."""
    total = sum(counts.values())
    kept: list[_Key] = []
    running = 0
    for key in _ranked(counts):
        if running >= coverage * total:
            break
        kept.append(key)
        running += counts[key]
    return kept


def _ranked(counts: Mapping[_Key, int]) -> list[_Key]:
    return sorted(counts, key=lambda k: (-counts[k], k))


def _reconnect(
    activities: set[str],
    edges: set[_Edge],
    weights: Mapping[_Edge, int],
    origins: Mapping[str, int],
    forward: bool,
) -> tuple[set[str], set[_Edge]]:
    """Make every kept activity reachable from an origin (a start, or an end when going backward).

    Repeatedly adds the widest path — the one whose weakest added edge is strongest; kept edges
    cost nothing — to the unreachable activity that path reaches best. Activities no path
    reaches even in the full map (only in maps not built from a log) are dropped.
    """
    activities, edges = set(activities), set(edges)
    successors: dict[str, list[tuple[str, int]]] = {}
    for (source, target), weight in weights.items():
        a, b = (source, target) if forward else (target, source)
        successors.setdefault(a, []).append((b, weight))
    while True:
        reached = _reachable(activities, edges, origins, successors, forward)
        missing = activities - reached
        if not missing:
            return activities, edges
        width, parent = _widest(activities, edges, origins, successors, forward)
        connectable = [a for a in missing if width.get(a, 0.0) > 0]
        if not connectable:
            activities -= missing
            edges = {e for e in edges if e[0] in activities and e[1] in activities}
            return activities, edges
        node: str | None = min(connectable, key=lambda a: (-width[a], a))
        while node is not None:
            activities.add(node)
            previous = parent[node]
            if previous is not None:
                edges.add((previous, node) if forward else (node, previous))
            node = previous


def _reachable(
    activities: set[str], edges: set[_Edge], origins: Mapping[str, int],
    successors: Mapping[str, list[tuple[str, int]]], forward: bool,
) -> set[str]:
    frontier = [a for a in activities if origins.get(a, 0) > 0]
    seen = set(frontier)
    while frontier:
        node = frontier.pop()
        for following, _ in successors.get(node, ()):
            edge = (node, following) if forward else (following, node)
            if edge in edges and following not in seen:
                seen.add(following)
                frontier.append(following)
    return seen


def _widest(
    activities: set[str], edges: set[_Edge], origins: Mapping[str, int],
    successors: Mapping[str, list[tuple[str, int]]], forward: bool,
) -> tuple[dict[str, float], dict[str, str | None]]:
    """Bottleneck widths and parents of the widest paths from the origins (a max-min Dijkstra)."""
    width: dict[str, float] = {}
    parent: dict[str, str | None] = {}
    # entries: (-width, node, whether reached over an edge, the node before it): ties break on names
    heap: list[tuple[float, str, bool, str]] = []
    for activity, count in origins.items():
        if count > 0:
            heapq.heappush(heap, (-(math.inf if activity in activities else count), activity, False, ""))
    while heap:
        negative, node, over_edge, previous = heapq.heappop(heap)
        if node in width:
            continue
        width[node], parent[node] = -negative, previous if over_edge else None
        for following, weight in successors.get(node, ()):
            if following in width:
                continue
            edge = (node, following) if forward else (following, node)
            step = math.inf if edge in edges else float(weight)
            heapq.heappush(heap, (-min(-negative, step), following, True, node))
    return width, parent


def _covered(variants: Iterable[Variant], activities: set[str], edges: set[_Edge]) -> float:
    variants = list(variants)
    total = sum(v.cases for v in variants)
    inside = sum(
        v.cases for v in variants
        if set(v.activities) <= activities and set(zip(v.activities, v.activities[1:], strict=False)) <= edges
    )
    return inside / total if total else 0.0
