"""Plain result types of process discovery, shared by mining, reports and the CLI."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class MapEdge:
    """A directly-follows relation: how often, in how many cases, and how long work waited."""

    source: str
    target: str
    frequency: int
    cases: int
    median_wait_hours: float | None
    p90_wait_hours: float | None


@dataclass(frozen=True)
class ProcessMap:
    """Directly-follows graph with activity frequencies, and start/end counts per activity."""

    activities: dict[str, int]
    edges: tuple[MapEdge, ...]
    start_activities: dict[str, int] = field(default_factory=dict)
    end_activities: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Variant:
    """One distinct sequence of activities, its size and its throughput time."""

    activities: tuple[str, ...]
    cases: int
    share: float
    median_throughput_hours: float | None


@dataclass(frozen=True)
class Throughput:
    """Throughput time of cases, from first to last event; None when the log has no timestamps."""

    cases: int
    median_hours: float | None
    p90_hours: float | None
    mean_hours: float | None
