"""The nightly flow: ``run_night`` with every stage a Prefect task. Orchestration only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.client.schemas.objects import State
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from kaizenflow.flows.alignment import submit_chunks
from kaizenflow.flows.lifeline import BoundServer, end_with_parent
from kaizenflow.pipeline.config import ConfigError, Execution, load_config
from kaizenflow.pipeline.locking import run_lock
from kaizenflow.pipeline.night import run_nights
from kaizenflow.pipeline.preflight import preflight
from kaizenflow.pipeline.resources import Resources
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports.night import write_night_report
from kaizenflow.reports.prefect_summary import artifact_key, pattern_rows, summary_markdown
from kaizenflow.sinks.pages import web_pages
from kaizenflow.sources.mapping import SourceError

T = TypeVar("T")


def worth_retrying(task: object, task_run: object, state: State[Any]) -> bool:
    """Retry what may pass (the database could not be reached), not what would fail the same way
    again: a bad row, a refused query or a missing file (a whole source read three times)."""
    error = state.data
    return not isinstance(error, SourceError) or error.transient


#: Prefect options of a stage beyond the defaults; extraction is the one stage worth retrying.
STAGE_OPTIONS: dict[str, dict[str, Any]] = {
    "extract": {"retries": 2, "retry_delay_seconds": [2, 10], "retry_condition_fn": worth_retrying},
}


def as_task(name: str, stage: Callable[..., T], /, *args: Any) -> T:
    """Runs a stage of the night as a Prefect task: every stage is a task run in the UI, with its
    own duration, state and logs. Results are not cached: a night always reads afresh."""
    kind = name.partition(":")[0]
    as_prefect = task(name=kind, task_run_name=name.replace(":", "-"), cache_policy=NO_CACHE,
                      **STAGE_OPTIONS.get(kind, {}))
    return as_prefect(stage)(*args)


def report_link(summary: RunSummary, web_base_url: str | None) -> str | None:
    """Where a process owner opens the run's report: the web app's page of it when the web app is
    configured (``web.base_url``), else the file on this machine."""
    if not summary.report_path:
        return None
    path = Path(summary.report_path)
    pages = web_pages(web_base_url)
    if pages is not None:
        return pages.report(summary.process, path.name)
    return path.resolve().as_uri()


def _publish(summary: RunSummary, web_base_url: str | None) -> None:
    key = artifact_key(summary.process)
    create_markdown_artifact(summary_markdown(summary), key=f"{key}-summary",
                             description=f"kaizenflow run {summary.run_id}")
    create_table_artifact(pattern_rows(summary), key=f"{key}-deviation-patterns",
                          description="Deviation patterns of this run")
    link = report_link(summary, web_base_url)
    if link:
        create_link_artifact(link, link_text="HTML report", key=f"{key}-report")


@flow(name="kaizen-nightly")
def nightly(config_path: str, process_name: str | None = None) -> list[RunSummary]:
    """One night for every configured process (or one): ``run_night`` with each stage a task, the
    variants to align fanned out to the flow's task runner, and the summary published."""
    logger = get_run_logger()
    config = load_config(config_path)
    processes = [config.process(process_name)] if process_name else config.processes
    with Resources.open(config) as resources:
        nights = run_nights(resources, processes, run=as_task, report=write_night_report,
                            parallel=lambda process: submit_chunks(process.alignment_timeout_seconds))
    for night in nights:
        summary = night.summary
        logger.info("%s: %d new events stored, %d bad rows quarantined; %d of %d cases changed and were "
                    "checked, %d conforming", summary.process, summary.new_events, summary.quarantined_rows,
                    night.checked_cases, summary.cases, summary.conforming_cases)
        _publish(summary, config.web.base_url)
    return [night.summary for night in nights]


def task_runner_for(execution: Execution) -> TaskRunner[Any]:
    """Processes on one machine by default; Dask (prefect-dask) when a cluster is configured."""
    if execution.task_runner == "thread":
        return ThreadPoolTaskRunner(max_workers=execution.workers)
    if execution.task_runner == "process":
        return ProcessPoolTaskRunner(max_workers=execution.workers, initializer=end_with_parent)
    try:
        from prefect_dask.task_runners import DaskTaskRunner
    except ImportError:
        raise ConfigError(
            "execution.task_runner: dask needs prefect-dask: pip install 'kaizenflow[dask]'"
        ) from None
    if execution.dask_address:
        return cast(TaskRunner[Any], DaskTaskRunner(address=execution.dask_address))
    return cast(TaskRunner[Any], DaskTaskRunner(
        cluster_kwargs={"n_workers": execution.workers, "threads_per_worker": 1, "processes": True}
    ))


def run_nightly(config_path: str, process_name: str | None = None) -> list[RunSummary]:
    """The nightly flow on the task runner its configuration asks for."""
    config = load_config(config_path)
    runner = task_runner_for(config.execution)
    with run_lock(config.state_directory, config.state_url, config.execution.lock_wait_seconds):
        preflight(config)
        with one_embedded_server(config.execution):
            return nightly.with_options(task_runner=runner)(config_path, process_name)


@contextmanager
def one_embedded_server(execution: Execution) -> Iterator[None]:
    """Worker processes on this machine report to the flow's own embedded Prefect server.

    In Prefect's embedded mode the server's address is no setting, so each process-pool or local
    Dask worker would start a server of its own on the same database: seconds each, and on two
    busy cores past Prefect's start-up timeout. The server is started here instead and named in
    the settings that Prefect hands to every worker. Not for a remote Dask cluster
    (``dask_address``), whose machines cannot reach this one's loopback address. Started here for
    the thread runner too, where Prefect's client would start one that outlives a killed night.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if execution.dask_address or PREFECT_API_URL.value():
        yield
        return
    server = BoundServer()  # the one Prefect's own client would start, ending with this process
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield
