"""One night as the flow runs it, without Prefect: for tests that play many nights quickly."""

from __future__ import annotations

from kaizenflow.conformance.types import ConformanceResult, Deviation
from kaizenflow.improvement.types import TaskChange
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig


def stage_night(
    config: KaizenConfig, run_id: str
) -> tuple[ConformanceResult, list[Deviation], list[TaskChange]]:
    """What counts tonight, what an acceptance set aside, and what happened to each task."""
    process = config.processes[0]
    stages.load(config, process, run_id, [stages.extract(config, process, s) for s in process.sources])
    log = stages.read_log(config, process)
    result = stages.check(process, log, stages.designed_model(config, process))
    result, accepted = stages.set_aside_accepted_deviations(config, process, log, result)
    changes = stages.record(config, process, run_id, stages.datetime.now(stages.UTC), log, result,
                            stages.patterns(process, log, result), accepted)
    return result, accepted, changes
