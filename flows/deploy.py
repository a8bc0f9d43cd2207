"""Deployments of the nightly flow: one per process, on its own schedule, one run at a time."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from prefect import flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.client.schemas.schedules import CronSchedule
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kaizenflow.config import ConfigError, load_config

DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEOUT_HOURS = 6.0


class Schedule(BaseModel):
    """When a process's night starts and how long it may take.

    The time box matters because a deployment allows one run at a time: a night that hangs
    would otherwise hold the slot and every later night would be cancelled.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    cron: str = DEFAULT_CRON
    timezone: str = "UTC"
    timeout_hours: float = Field(default=DEFAULT_TIMEOUT_HOURS, gt=0)

    @model_validator(mode="after")
    def _valid_for_prefect(self) -> Schedule:
        # Prefect's own schedule model, so that what passes here is what the server accepts.
        CronSchedule(cron=self.cron, timezone=self.timezone)
        return self


class _ScheduledProcess(BaseModel):
    model_config = ConfigDict(extra="ignore")

    name: str
    schedule: Schedule = Schedule()


class _ScheduleFile(BaseModel):
    """Only the keys scheduling needs: the rest of the file is kaizenflow.config's business."""

    model_config = ConfigDict(extra="ignore")

    processes: list[_ScheduledProcess] = Field(default_factory=list)


def read_schedules(config_path: str | Path) -> dict[str, Schedule]:
    """Each process's ``schedule`` key (the default nightly one where it has none).

    Read from the raw YAML because the configuration model does not know the key yet.
    """
    file = Path(config_path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise ConfigError(f"{file}: cannot read the configuration: {error}") from None
    try:
        parsed = _ScheduleFile.model_validate(raw if isinstance(raw, dict) else {})
    except ValidationError as error:
        where = "; ".join(
            f"{'.'.join(str(p) for p in item['loc'])}: {item['msg']}" for item in error.errors()
        )
        raise ConfigError(f"{file}: {where}") from None
    return {process.name: process.schedule for process in parsed.processes}


@flow(name="kaizen-scheduled")
def scheduled_nightly(
    config_path: str, process_name: str, timeout_seconds: float = DEFAULT_TIMEOUT_HOURS * 3600
) -> list[str]:
    """The deployments' entrypoint: one night of one process, on the configured task runner.

    A deployment loads its flow by name from a module, so options set with ``with_options``
    in the serving process never reach the run: the task runner and the time box are chosen
    here, inside the run, and the night itself runs as a subflow.
    """
    from flows.nightly import nightly, task_runner_for

    runner = task_runner_for(load_config(config_path).execution)
    night = nightly.with_options(task_runner=runner, timeout_seconds=timeout_seconds)
    return [summary.run_id for summary in night(config_path, process_name)]


def deployments_for(config_path: str | Path, *, scheduled: bool = True) -> list[RunnerDeployment]:
    """One deployment per configured process, named ``nightly-<process>``.

    At most one run of a deployment at a time; a run that would start while another is still
    going is cancelled rather than queued, so late nights never pile up (the next night reads
    on from the watermark). ``scheduled=False`` registers them without a schedule: runs then
    start only on demand.
    """
    path = Path(config_path).resolve()
    config = load_config(path)
    schedules = read_schedules(path)
    deployments = []
    for process in config.processes:
        schedule = schedules.get(process.name, Schedule())
        options: dict[str, Any] = {}
        if scheduled:
            options["schedule"] = Cron(schedule.cron, timezone=schedule.timezone)
        deployment = scheduled_nightly.to_deployment(
            name=f"nightly-{process.name}",
            parameters={"config_path": str(path), "process_name": process.name,
                        "timeout_seconds": schedule.timeout_hours * 3600},
            concurrency_limit=ConcurrencyLimitConfig(
                limit=1, collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW
            ),
            description=f"kaizenflow: one night of {process.name} ({path})",
            tags=["kaizenflow", process.name],
            # a module path, not a file path: workers and served runs find it wherever
            # kaizenflow is installed, whatever their working directory
            entrypoint_type=EntrypointType.MODULE_PATH,
            **options,
        )
        assert isinstance(deployment, RunnerDeployment)  # called outside an event loop: no coroutine
        deployments.append(deployment)
    return deployments
