"""The nightly flow: extract, load, discover, check, raise tasks, report. Orchestration only."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from prefect import flow, get_run_logger, task
from prefect.artifacts import (
    create_link_artifact,
    create_markdown_artifact,
    create_table_artifact,
)
from prefect.cache_policies import NO_CACHE
from prefect.states import State
from prefect.task_runners import ProcessPoolTaskRunner, TaskRunner, ThreadPoolTaskRunner

from kaizenflow.conformance.alignments import cached_aligner
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import ConformanceResult, Deviation, DeviationPattern
from kaizenflow.core.events import EventLog, case_sequences
from kaizenflow.flows.alignment import submit_chunks
from kaizenflow.improvement.types import TaskChange
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import ConfigError, Execution, KaizenConfig, Process, Source, load_config
from kaizenflow.pipeline.incremental import check_changed_cases
from kaizenflow.pipeline.locking import run_lock
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports.case_alignments import alignments_by_case
from kaizenflow.reports.exports import summary_record, write_exports
from kaizenflow.reports.html import write_run_report
from kaizenflow.reports.model_overlay import designed_model_svg, deviation_counts
from kaizenflow.reports.prefect_summary import artifact_key, pattern_rows, summary_markdown
from kaizenflow.sources.mapping import SourceError
from kaizenflow.sources.staging import Extracted, discard
from kaizenflow.storage import AppendResult


def worth_retrying(task: object, task_run: object, state: State[Any]) -> bool:
    """Retry what may pass (the database could not be reached), not what would fail the same way
    again: a bad row, a refused query or a missing file (a whole source read three times)."""
    error = state.data
    return not isinstance(error, SourceError) or error.transient


@task(retries=2, retry_delay_seconds=[2, 10], retry_condition_fn=worth_retrying, cache_policy=NO_CACHE,
      task_run_name="extract-{source.name}")
def extract_source(
    config: KaizenConfig, process: Process, source: Source, watermarks: dict[str, str]
) -> Extracted:
    return stages.extract(config, process, source, watermarks)


@task(cache_policy=NO_CACHE)
def load_events(
    config: KaizenConfig, process: Process, run_id: str, extracted: list[Extracted]
) -> AppendResult:
    return stages.load(config, process, run_id, extracted)


@task(cache_policy=NO_CACHE)
def read_log(config: KaizenConfig, process: Process) -> EventLog:
    return stages.read_log(config, process)


@task(cache_policy=NO_CACHE)
def discover(log: EventLog) -> stages.Discovery:
    return stages.discover(log)


@task(cache_policy=NO_CACHE)
def load_model(config: KaizenConfig, process: Process) -> DesignedModel:
    return stages.designed_model(config, process)


def check_conformance(
    config: KaizenConfig, process: Process, log: EventLog
) -> tuple[DesignedModel, ConformanceResult]:
    """Composed here, not in a task: alignment chunks must reach the flow's own task runner.

    Only cases that changed since the last night are checked; the others' results are kept.
    """
    model = load_model(config, process)
    aligner = cached_aligner(
        stages.alignment_cache(config), process.alignment_timeout_seconds,
        submit_chunks(process.alignment_timeout_seconds), config.execution.chunk_size,
    )
    result, checked = check_changed_cases(config, process, model, aligner, log)
    get_run_logger().info("%s: %d of %d cases changed and were checked, the others' results kept",
                          process.name, checked, result.cases)
    return model, result


@task(cache_policy=NO_CACHE)
def find_patterns(
    process: Process, log: EventLog, result: ConformanceResult
) -> list[DeviationPattern]:
    return stages.patterns(process, log, result)


@task(cache_policy=NO_CACHE)
def record_run(
    config: KaizenConfig, process: Process, run_id: str, started_at: datetime, log: EventLog,
    result: ConformanceResult, found: list[DeviationPattern], accepted: list[Deviation],
) -> list[TaskChange]:
    return stages.record(config, process, run_id, started_at, log, result, found, accepted)


@task(cache_policy=NO_CACHE)
def write_report(
    config: KaizenConfig, process: Process, summary: RunSummary, log: EventLog, model: DesignedModel,
    result: ConformanceResult,
) -> Path:
    """The HTML report, and beside it the exports for BI tools."""
    directory = config.path(config.reports_directory)
    examples = {case for pattern in summary.patterns for case in pattern.example_case_ids}
    sequences = {str(case): seq for case, seq in case_sequences(log.events).items() if str(case) in examples}
    path = write_run_report(
        summary, directory, stages.run_history(config, process, before=summary.run_id),
        model_svg=designed_model_svg(model, *deviation_counts(result.deviations)),
        case_alignments=alignments_by_case(sorted(examples), sequences, result.alignments),
    )
    write_exports(directory, summary.run_id, result.deviations, summary.patterns,
                  summary_record(summary), process=summary.process)
    return path


@task(cache_policy=NO_CACHE, retries=0)
def deliver_task_events(config: KaizenConfig) -> str:
    """Push task events to where people work; failures stay in the outbox and never fail the run."""
    logger = get_run_logger()
    try:
        report = stages.deliver_task_events(config)
    except Exception as error:  # noqa: BLE001 - delivery must not fail the night
        logger.warning("task delivery failed, events stay pending: %s", type(error).__name__)
        return "failed"
    logger.info("task delivery: %s", report.summary())
    return report.summary()


def _publish(summary: RunSummary) -> None:
    key = artifact_key(summary.process)
    create_markdown_artifact(summary_markdown(summary), key=f"{key}-summary",
                             description=f"kaizenflow run {summary.run_id}")
    create_table_artifact(pattern_rows(summary), key=f"{key}-deviation-patterns",
                          description="Deviation patterns of this run")
    if summary.report_path:
        create_link_artifact(Path(summary.report_path).resolve().as_uri(), link_text="HTML report",
                             key=f"{key}-report")


@flow(name="kaizen-nightly")
def nightly(config_path: str, process_name: str | None = None) -> list[RunSummary]:
    """One night for every configured process (or one): each stage is a task over a plain function."""
    stages.quiet_pm4py()
    logger = get_run_logger()
    config = load_config(config_path)
    processes = [config.process(process_name)] if process_name else config.processes
    summaries = []
    for process in processes:
        started_at = datetime.now(UTC)
        run_id = stages.new_run_id(started_at)
        seconds: dict[str, float] = {}

        clock = time.perf_counter()
        batches: list[Extracted] = []
        try:
            watermarks = stages.committed_watermarks(config, process)
            for source in process.sources:
                batches.append(extract_source(config, process, source, watermarks))
            seconds["extract"] = time.perf_counter() - clock
            clock = time.perf_counter()
            loaded = load_events(config, process, run_id, batches)
            seconds["load"] = time.perf_counter() - clock
        finally:
            discard(batches)  # staged files: gone once stored, or when a later source failed
        logger.info("%s: %d new events stored, %d bad rows quarantined", process.name, loaded.added,
                    loaded.quarantined)

        clock = time.perf_counter()
        log = read_log(config, process)
        discovery = discover(log)
        seconds["discover"] = time.perf_counter() - clock
        clock = time.perf_counter()
        model, result = check_conformance(config, process, log)
        result, accepted = stages.set_aside_accepted_deviations(config, process, log, result)
        seconds["check"] = time.perf_counter() - clock
        logger.info("%s: %d cases checked, %d conforming", process.name, result.cases,
                    result.conforming_cases)
        clock = time.perf_counter()
        found = find_patterns(process, log, result)
        changes = record_run(config, process, run_id, started_at, log, result, found, accepted)
        seconds["patterns and tasks"] = time.perf_counter() - clock

        summary = stages.summarize(config, process, run_id, started_at, log, discovery, model,
                                   result, found, changes, loaded.added, seconds)
        summary.quarantined_rows = loaded.quarantined
        summary.accepted_patterns = stages.patterns(process, log, result.with_deviations(accepted))
        summary.source_watermarks = stages.source_positions(config, process)
        summary.drift = stages.drift(log)
        summary.report_path = str(write_report(config, process, summary, log, model, result))
        _publish(summary)
        summaries.append(summary)
    if config.sinks:
        deliver_task_events(config)
    return summaries


def task_runner_for(execution: Execution) -> TaskRunner[Any]:
    """Processes on one machine by default; Dask (prefect-dask) when a cluster is configured."""
    if execution.task_runner == "thread":
        return ThreadPoolTaskRunner(max_workers=execution.workers)
    if execution.task_runner == "process":
        return ProcessPoolTaskRunner(max_workers=execution.workers)
    try:
        from prefect_dask import DaskTaskRunner
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
    with run_lock(config.state_directory, config.state_url, config.execution.lock_wait_seconds), \
            one_embedded_server(config.execution):
        return nightly.with_options(task_runner=runner)(config_path, process_name)


@contextmanager
def one_embedded_server(execution: Execution) -> Iterator[None]:
    """Worker processes on this machine report to the flow's own embedded Prefect server.

    In Prefect's embedded mode the server's address is no setting, so each process-pool or local
    Dask worker would start a server of its own on the same database: seconds each, and on two
    busy cores past Prefect's start-up timeout. The server is started here instead and named in
    the settings that Prefect hands to every worker. Not for a remote Dask cluster
    (``dask_address``), whose machines cannot reach this one's loopback address.
    """
    from prefect.settings import PREFECT_API_URL, temporary_settings

    if execution.task_runner == "thread" or execution.dask_address or PREFECT_API_URL.value():
        yield
        return
    from prefect.server.api.server import SubprocessASGIServer

    server = SubprocessASGIServer()  # the one Prefect's own client would start in this process
    server.start()
    with temporary_settings(updates={PREFECT_API_URL: server.api_url}):
        yield
