"""Simplifying a process map: exact cuts on hand-built maps, and never a disconnected result."""

from __future__ import annotations

import pytest
from eventlogs import log_from_rows
from hypothesis import given, settings
from hypothesis import strategies as st

from kaizenflow.core.events import EventLog
from kaizenflow.mining.discovery import discover_process_map, discover_variants
from kaizenflow.mining.process_map import simplify_process_map
from kaizenflow.mining.types import ProcessMap


def log_of(traces: list[str]) -> EventLog:
    """One case per trace, one event per letter, an hour apart."""
    rows = [
        (f"c{i:03d}", activity, f"2024-01-01T{j:02d}:00:00Z", "u")
        for i, trace in enumerate(traces) for j, activity in enumerate(trace.split())
    ]
    return log_from_rows(rows)


def edges_of(process_map: ProcessMap) -> set[tuple[str, str]]:
    return {(e.source, e.target) for e in process_map.edges}


def is_connected(process_map: ProcessMap) -> bool:
    """Every activity reachable from a start activity and able to reach an end activity."""
    edges = edges_of(process_map)

    def reach(origins: set[str], forward: bool) -> set[str]:
        seen, frontier = set(origins), list(origins)
        while frontier:
            node = frontier.pop()
            for source, target in edges if forward else {(t, s) for s, t in edges}:
                if source == node and target not in seen:
                    seen.add(target)
                    frontier.append(target)
        return seen

    activities = set(process_map.activities)
    return (reach(set(process_map.start_activities), True) >= activities
            and reach(set(process_map.end_activities), False) >= activities)


MAIN_AND_RARE = ["a b c"] * 8 + ["a x c", "a d c"]


def test_the_most_frequent_activities_and_edges_are_kept_up_to_the_coverage() -> None:
    found = simplify_process_map(discover_process_map(log_of(MAIN_AND_RARE)), coverage=0.8)
    assert set(found.process_map.activities) == {"a", "b", "c"}
    assert edges_of(found.process_map) == {("a", "b"), ("b", "c")}
    assert found.dropped_activities == ("d", "x")
    assert found.restored_edges == ()


def test_an_activity_cut_off_by_the_cut_is_reconnected_through_the_strongest_edges() -> None:
    # e is frequent but only reached through the rare d, and leaves only through a rare edge to c
    process_map = discover_process_map(log_of(["a b c"] * 5 + ["a d " + "e " * 10 + "c"]))
    found = simplify_process_map(process_map, coverage=0.8)
    assert found.restored_edges == (("a", "d"), ("d", "e"), ("e", "c"))
    assert set(found.process_map.activities) == {"a", "b", "c", "d", "e"}
    assert is_connected(found.process_map)


def test_with_variants_the_cut_covers_exactly_the_most_frequent_variants() -> None:
    log = log_of(MAIN_AND_RARE)
    found = simplify_process_map(discover_process_map(log), coverage=0.85, variants=discover_variants(log))
    assert set(found.process_map.activities) == {"a", "b", "c", "d"}
    assert found.covered_cases == pytest.approx(0.9)


def test_full_coverage_keeps_the_whole_map() -> None:
    process_map = discover_process_map(log_of(MAIN_AND_RARE))
    assert simplify_process_map(process_map, coverage=1.0).process_map == process_map


def test_zero_coverage_still_keeps_one_path_from_start_to_end() -> None:
    found = simplify_process_map(discover_process_map(log_of(MAIN_AND_RARE)), coverage=0.0)
    assert found.process_map.start_activities and found.process_map.end_activities
    assert is_connected(found.process_map)


def test_a_coverage_outside_zero_to_one_is_refused() -> None:
    with pytest.raises(ValueError, match="coverage"):
        simplify_process_map(discover_process_map(log_of(MAIN_AND_RARE)), coverage=1.5)


traces = st.lists(
    st.lists(st.sampled_from("abcdefg"), min_size=1, max_size=8).map(" ".join), min_size=1, max_size=25
)


@settings(max_examples=60, deadline=None)
@given(traces=traces, coverage=st.floats(0.0, 1.0), with_variants=st.booleans())
def test_a_simplified_map_is_always_connected_and_part_of_the_original(
    traces: list[str], coverage: float, with_variants: bool
) -> None:
    log = log_of(traces)
    process_map = discover_process_map(log)
    variants = discover_variants(log) if with_variants else None
    found = simplify_process_map(process_map, coverage, variants).process_map
    assert found.activities and is_connected(found)
    assert edges_of(found) <= edges_of(process_map)
    assert all(process_map.activities[a] == n for a, n in found.activities.items())
