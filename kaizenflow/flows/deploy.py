"""Deployments of the nightly flow: one per process, on its own schedule, one run at a time."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from prefect import flow
from prefect.client.schemas.objects import ConcurrencyLimitConfig, ConcurrencyLimitStrategy
from prefect.deployments.runner import RunnerDeployment
from prefect.schedules import Cron
from prefect.types.entrypoint import EntrypointType

from kaizenflow.pipeline.config import Schedule, load_config

DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEOUT_HOURS = 6.0


def read_schedules(config_path: str | Path) -> dict[str, Schedule]:
    """Each process's ``schedule`` (the default nightly one where the configuration has none)."""
    return {process.name: process.schedule for process in load_config(config_path).processes}


@flow(name="kaizen-scheduled")
def scheduled_nightly(
    config_path: str, process_name: str, timeout_seconds: float = DEFAULT_TIMEOUT_HOURS * 3600
) -> list[str]:
    """The deployments' entrypoint: one night of one process, on the configured task runner.

    A deployment loads its flow by name from a module, so options set with ``with_options``
    in the serving process never reach the run: the task runner and the time box are chosen
    here, inside the run, and the night itself runs as a subflow (as ``run_nightly`` does).

    Nights of processes that share a state (the default schedule starts them all at once)
    wait for each other's lock instead of failing; the waiting counts against the time box.
    """
    from kaizenflow.flows.nightly import nightly, task_runner_for
    from kaizenflow.pipeline.locking import run_lock
    from kaizenflow.pipeline.preflight import preflight

    started = time.monotonic()
    config = load_config(config_path)
    runner = task_runner_for(config.execution)
    wait = max(config.execution.lock_wait_seconds, timeout_seconds)
    with run_lock(config.state_directory, config.state_url, wait):
        preflight(config)  # damaged or lost state stops the night before it changes anything
        remaining = max(timeout_seconds - (time.monotonic() - started), 1.0)
        night = nightly.with_options(task_runner=runner, timeout_seconds=remaining)
        night_started = time.monotonic()
        try:
            summaries = night(config_path, process_name)
        except Exception as error:
            if isinstance(error, TimeoutError) or time.monotonic() - night_started < remaining:
                raise
            # Prefect's alarm can go off while its engine is creating a task run; its own
            # crash handling then fails ("Task run is not set") and hides the time-out
            raise TimeoutError(
                f"the night of {process_name} overran its time box of {remaining:g} s"
                f" and was stopped ({type(error).__name__}: {error})"
            ) from error
        return [summary.run_id for summary in summaries]


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
