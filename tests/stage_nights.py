"""One night as the flow runs it (``run_night``), without Prefect: for tests that play many nights."""

from __future__ import annotations

from kaizenflow.conformance.types import ConformanceResult, Deviation
from kaizenflow.improvement.types import TaskChange
from kaizenflow.pipeline.config import KaizenConfig
from kaizenflow.pipeline.night import run_night
from kaizenflow.pipeline.resources import Resources


def stage_night(
    config: KaizenConfig, run_id: str
) -> tuple[ConformanceResult, list[Deviation], list[TaskChange]]:
    """What counts tonight, what an acceptance set aside, and what happened to each task."""
    with Resources.open(config) as resources:
        night = run_night(resources, config.processes[0], run_id=run_id)
    return night.result, night.analysed.accepted, night.changes
