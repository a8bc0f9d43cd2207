"""One night of one process, written once: the Prefect flow, ``kaizen run``, the tests and the
benchmarks all call ``run_night``.

The night is a sequence of stages over plain functions (``stages``). Who calls it decides how
each stage runs through a ``StageRunner``: directly, or as a Prefect task (``flows.nightly``),
which then shows every stage as a task run with its own duration. The night itself times the
stages for the run summary, so every caller gets the same figures.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from kaizenflow.conformance.alignments import Aligner, ChunkMapper, cached_aligner
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import ConformanceResult, Deviation, DeviationPattern
from kaizenflow.core.window import Window
from kaizenflow.improvement.types import TaskChange
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.acceptances import acceptance_summary
from kaizenflow.pipeline.config import Process
from kaizenflow.pipeline.incremental import check_changed_cases, discover_changed_cases
from kaizenflow.pipeline.repeat import kept_findings, night_inputs, repeated_night
from kaizenflow.pipeline.resources import Resources
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.pipeline.window import read_window
from kaizenflow.storage import AppendResult
from kaizenflow.storage.staging import Extracted, discard

T = TypeVar("T")


class StageRunner(Protocol):
    """Runs one stage of the night: ``name`` says which (``extract:orders`` for one source's)."""

    def __call__(self, name: str, stage: Callable[..., T], /, *args: Any) -> T: ...


def run_directly(name: str, stage: Callable[..., T], /, *args: Any) -> T:
    return stage(*args)


@dataclass(frozen=True)
class Checked:
    """The check stage's outcome: what counts tonight and what an acceptance set aside."""

    model: DesignedModel
    result: ConformanceResult
    accepted: list[Deviation]
    checked_cases: int


@dataclass
class Night:
    """What one night of one process found and did; ``summary`` is what reports and the CLI show.

    A night that found nothing new (``summary.repeated``) read no events and checked nothing: it
    has no ``log`` or ``checked`` of its own (``pipeline.repeat``).
    """

    summary: RunSummary
    window: Window | None
    checked: Checked | None
    loaded: AppendResult
    changes: list[TaskChange] = field(default_factory=list)

    @property
    def result(self) -> ConformanceResult:
        return self.analysed.result

    @property
    def model(self) -> DesignedModel:
        return self.analysed.model

    @property
    def analysed(self) -> Checked:
        """The night's check; a ValueError for a night that repeated its newest run's findings."""
        if self.checked is None:
            raise ValueError(f"run {self.summary.run_id}: the night found nothing new and checked nothing")
        return self.checked

    @property
    def checked_cases(self) -> int:
        return 0 if self.checked is None else self.checked.checked_cases


ReportWriter = Callable[[Resources, Process, Night], str]


def extract_and_load(
    resources: Resources, process: Process, run_id: str, run: StageRunner = run_directly
) -> AppendResult:
    """Every source's new events, stored and published at once; staged files never outlive it."""
    extracted: list[Extracted] = []
    try:
        watermarks = run("watermarks", stages.committed_watermarks, resources, process)
        for source in process.sources:
            extracted.append(run(f"extract:{source.name}", stages.extract, resources, process, source,
                                 watermarks))
        return run("load", stages.load, resources, process, run_id, extracted)
    finally:
        discard(extracted)  # gone once stored, or when a later source failed


def check(resources: Resources, process: Process, log: Window, aligner: Aligner) -> Checked:
    """The window's conformance, checking only the cases that changed since the last night; then
    the deviations of patterns an owner accepted are set aside."""
    model = stages.designed_model(resources, process)
    result, checked = check_changed_cases(resources, process, model, aligner, log)
    result, accepted = stages.set_aside_accepted_deviations(resources, process, log, result)
    return Checked(model, result, accepted, checked)


def find_patterns(
    process: Process, log: Window, checked: Checked
) -> tuple[list[DeviationPattern], list[DeviationPattern]]:
    """The patterns that count, and those of accepted deviations (the report lists them apart)."""
    found = stages.patterns(process, log, checked.result)
    accepted = stages.patterns(process, log, checked.result.with_deviations(checked.accepted))
    return found, accepted


def run_night(
    resources: Resources,
    process: Process,
    *,
    run_id: str | None = None,
    run: StageRunner = run_directly,
    parallel: Callable[[Process], ChunkMapper] | None = None,
    report: ReportWriter | None = None,
) -> Night:
    """Extract, load, read the window, discover, check, find patterns, record the run and its
    tasks, summarise, and (given a ``report`` writer) write the report.

    A run recorded by a night that was killed before writing its report is completed by the next
    night that finds nothing new: same run id, no second record (``storage.unreported``). Any
    other night that finds nothing new, with the settings, model and acceptances as they were,
    repeats the newest findings and records nothing (``pipeline.repeat``).

    Variants no earlier night aligned are aligned here, or, given ``parallel``, in chunks by the
    mapper it makes for the process (the flow's fans them out to its task runner).
    """
    stages.quiet_pm4py()
    started_at = datetime.now(UTC)
    run_id = run_id or stages.new_run_id(started_at)
    seconds: dict[str, float] = {}

    def timed(name: str, stage: Callable[..., T], *args: Any) -> T:
        clock = time.perf_counter()
        try:
            return run(name, stage, *args)
        finally:
            key = name.partition(":")[0]
            seconds[key] = seconds.get(key, 0.0) + time.perf_counter() - clock

    aligner = cached_aligner(
        resources.alignments, process.alignment_timeout_seconds,
        parallel(process) if parallel else None, resources.config.execution.chunk_size,
    )
    loaded = extract_and_load(resources, process, run_id, timed)
    # a night killed after recording its run and before its report: its rerun finds nothing new
    # and completes that run, so that runs and KPI history equal an uninterrupted night's
    unreported = resources.state.newest_unreported(process.name) \
        if report is not None and loaded.added == 0 else None
    if unreported is not None:
        run_id, started_at = unreported.run_id, unreported.started_at
        held = unreported.loaded
        loaded = AppendResult(batch_id=str(held["batch_id"]), offered=int(held["offered"]),
                              added=int(held["added"]), quarantined=int(held["quarantined"]))
    inputs = night_inputs(resources, process)
    if unreported is None and loaded.added == 0:
        repeated = repeated_night(resources, process, inputs, loaded, started_at, report is not None)
        if repeated is not None:
            repeated.stage_seconds = seconds
            return Night(repeated, None, None, loaded)
    log = timed("read", read_window, resources, process)
    discovery = timed("discover", discover_changed_cases, resources, process, log)
    checked = timed("check", check, resources, process, log, aligner)
    found, accepted_patterns = timed("patterns", find_patterns, process, log, checked)
    drift = timed("drift", stages.drift, log, 7, 28, discovery)
    summary = stages.summarize(
        resources, process, run_id, started_at, log, discovery, checked.model, checked.result, found,
        [], loaded, seconds, accepted_patterns=accepted_patterns, drift=drift,
    )
    summary.acceptances, summary.acceptance_effect = acceptance_summary(
        resources, process, log.case_attributes, checked.result, checked.accepted)
    # the findings are kept in the transaction that records the run (or, with a report, in the one
    # that marks it reported): a recorded night always leaves them for the nights after it
    if unreported is not None:
        changes = timed("record", resources.state.changes_of, unreported)
    else:
        changes = timed("record", stages.record, resources, process, run_id, started_at, log,
                        checked.result, found, checked.accepted,
                        loaded if report is not None else None, discovery.throughput,
                        None if report is not None else kept_findings(summary, inputs))
    summary.task_changes, summary.finished_at = changes, datetime.now(UTC)
    night = Night(summary, log, checked, loaded, changes)
    if report is not None:
        summary.report_path = timed("report", report, resources, process, night)
        resources.state.reported(run_id, kept_findings(summary, inputs))
    return night


def run_nights(
    resources: Resources, processes: Sequence[Process], *, run: StageRunner = run_directly,
    parallel: Callable[[Process], ChunkMapper] | None = None, report: ReportWriter | None = None,
) -> list[Night]:
    """One night per process, then the task events of all of them delivered to the sinks."""
    nights = [run_night(resources, process, run=run, parallel=parallel, report=report)
              for process in processes]
    if resources.config.sinks:
        run("deliver", deliver, resources)
    return nights


def deliver(resources: Resources) -> str:
    """Push task events to where people work; failures stay in the outbox and never fail the night."""
    try:
        return stages.deliver_task_events(resources).summary()
    except Exception as error:  # noqa: BLE001 - delivery must not fail the night
        return f"failed ({type(error).__name__}); events stay pending"
