"""The nightly stages as plain functions over a night's resources: what ``run_night`` composes."""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pandas as pd

from kaizenflow.conformance.alignments import Aligner
from kaizenflow.conformance.check import check_log, map_activities
from kaizenflow.conformance.models import DesignedModel, load_model
from kaizenflow.conformance.patterns import result_patterns
from kaizenflow.conformance.rules import RuleSpec
from kaizenflow.conformance.types import ConformanceResult, Deviation, DeviationPattern
from kaizenflow.core.events import (
    CaseCost,
    EventLog,
    UnknownAttributeError,
    member_of,
    positions_in,
    same_ids,
)
from kaizenflow.core.window import Window, window_of_log
from kaizenflow.improvement.acceptance import set_aside_accepted
from kaizenflow.improvement.lifecycle import measured_since
from kaizenflow.improvement.measurement import cases_with_pattern, measure
from kaizenflow.improvement.raising import propose_tasks
from kaizenflow.improvement.types import DISMISSED, TaskChange
from kaizenflow.mining.contributions import WindowContributions
from kaizenflow.mining.discovery import case_throughput_hours, discover_process_map, discover_variants
from kaizenflow.mining.discovery import throughput as throughput_of
from kaizenflow.mining.discovery import throughput_of as throughput_from_hours
from kaizenflow.mining.drift import newest_period_drift, recent_period_drift, seen_in
from kaizenflow.mining.types import ProcessMap, Throughput, Variant
from kaizenflow.pipeline.config import ConfigError, KaizenConfig, Process, Source
from kaizenflow.pipeline.names import check_names
from kaizenflow.pipeline.resources import Resources
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.sinks import Sink
from kaizenflow.sinks.delivery import DeliveryReport
from kaizenflow.storage import AppendResult
from kaizenflow.storage.findings import KeptFindings
from kaizenflow.storage.staging import Extracted, discard


def new_run_id(now: datetime | None = None) -> str:
    moment = now or datetime.now(UTC)
    return moment.strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(3)


def committed_watermarks(resources: Resources, process: Process) -> dict[str, str]:
    """Each source's committed watermark, read once for all of a process's sources."""
    if not any(source.incremental for source in process.sources):
        return {}
    return resources.events.watermarks(process.name)


def extract(
    resources: Resources, process: Process, source: Source, watermarks: Mapping[str, str] | None = None,
) -> Extracted:
    """Canonical events of one source of one process, past its committed watermark if it has one.

    ``watermarks`` are the process's committed ones (``committed_watermarks``) when the caller
    has them already; otherwise they are read from the event store.
    """
    if watermarks is None:
        watermarks = committed_watermarks(resources, process) if source.incremental else {}
    return source.extract(resources.config, process.name, watermarks, resources.staging)


def load(
    resources: Resources, process: Process, run_id: str, extracted: Sequence[Extracted]
) -> AppendResult:
    """Append every source's staged events of this run and their watermarks, published at once.

    The staged chunks are stored in source order (``EventStore.append_staged``) and removed
    afterwards whether the load committed or failed.
    """
    try:
        ranks = {source.name: rank for rank, source in enumerate(process.sources)}
        zones = {source.name: source.timezone for source in process.sources}
        watermarks = {
            source.name: e.watermark
            for source, e in zip(process.sources, extracted, strict=True)
            if e.watermark is not None
        }
        return resources.events.append_staged(
            process.name, run_id, [path for e in extracted for path in e.event_files()],
            ranks, watermarks, source_timezones=zones,
            reject_files=[path for e in extracted for path in e.reject_files()],
            distinct_ids=all(e.distinct_ids for e in extracted),
        )
    finally:
        discard(extracted)


def ingest(resources: Resources, process: Process, run_id: str) -> AppendResult:
    """Extract every source and store the events, without Prefect (tools, benchmarks, tests).

    A source that fails leaves nothing stored and no staged files of the sources before it.
    """
    extracted: list[Extracted] = []
    watermarks = committed_watermarks(resources, process)
    try:
        for source in process.sources:
            extracted.append(extract(resources, process, source, watermarks))
        return load(resources, process, run_id, extracted)
    finally:
        discard(extracted)


def designed_model(resources: Resources, process: Process) -> DesignedModel:
    config = resources.config
    called = {called_id: config.path(path) for called_id, path in process.models.items()}
    return load_model(config.path(process.model), called_models=called)


def rule_specs(process: Process) -> list[RuleSpec]:
    """The configuration's rules as the pure checking code knows them."""
    return process.rule_specs()


def read_log(resources: Resources, process: Process) -> EventLog:
    cost = CaseCost(process.cost.attribute, process.cost.per) if process.cost else None
    try:
        log = resources.events.read_log(process.name, window_days=process.window_days, cost=cost)
    except UnknownAttributeError as error:
        position = resources.config.processes.index(process)
        raise ConfigError(f"processes.{position}.cost.attribute: {error}") from None
    check_names(resources.config, process, log)  # a misspelt rule or mapping would be silently off
    return map_activities(log, process.activity_mapping)


def check(
    process: Process, log: EventLog, model: DesignedModel, aligner: Aligner | None = None
) -> ConformanceResult:
    return check_log(
        log, model, rule_specs(process), process.open_case_horizon_days,
        timeout_seconds=process.alignment_timeout_seconds, aligner=aligner,
    )


def patterns(process: Process, log: EventLog | Window, result: ConformanceResult) -> list[DeviationPattern]:
    hours = case_throughput_hours(log) if isinstance(log, EventLog) else log.throughput_hours()
    return result_patterns(result, log.case_attributes, hours,
                           min_support=process.root_cause_min_support, case_costs=log.case_costs)


def record(
    resources: Resources,
    process: Process,
    run_id: str,
    started_at: datetime,
    log: EventLog | Window,
    result: ConformanceResult,
    found: list[DeviationPattern],
    accepted: Sequence[Deviation] = (),
    awaiting_report: AppendResult | None = None,
    timing: Throughput | None = None,
    findings: KeptFindings | None = None,
) -> list[TaskChange]:
    """Store the run, raise tasks and follow the existing ones, in one transaction; given
    ``awaiting_report`` (the night's load), the run is held as unreported until its report is
    written, so that a rerun after a kill completes it instead of recording it again. ``timing``
    is the window's throughput when the night has it from discovery (else it is measured here).
    ``findings`` (the night's summary and inputs, ``pipeline.repeat``) are kept with the run.

    KPIs count finished cases only: a running case may not have reached its deviation yet. They
    count ``accepted`` deviations too (those set aside by an acceptance): accepting a pattern
    stops it counting against conformance and raising tasks, but its cases still show it, and a
    task's KPI falling to zero would read as an improvement (and close the task as absent).
    """
    window = log if isinstance(log, Window) else window_of_log(log)
    raising = process.tasks
    is_finished = ~member_of(log.case_attributes.index.astype(str), result.incomplete_case_ids)
    finished_attributes = log.case_attributes[is_finished]
    pattern_cases = cases_with_pattern(result.deviation_table)
    # which cases with a pattern are finished (not a set of every finished case: 166,666 strings)
    deviating = pd.Index(sorted(set().union(*pattern_cases.values())), dtype=object)
    finished = set(deviating[member_of(deviating, finished_attributes.index)].tolist())
    policy = raising.policy()
    proposals = propose_tasks(
        process.name, found,
        {key: sorted(cases & finished) for key, cases in pattern_cases.items()},
        finished_attributes, len(finished_attributes), policy,
    )
    if timing is None:
        timing = throughput_from_hours(window.throughput_hours(), window.case_count)
    store = resources.state
    starts = window.cases["first"]
    latest = window.latest
    shown = dict(pattern_cases)
    for key, cases in cases_with_pattern(accepted).items():
        shown[key] = shown.get(key, set()) | cases
    measurements = {
        task.task_id: measure(
            task.pattern_key, task.business_object, shown, finished_attributes,
            starts, measured_since(task),
            timedelta(days=raising.effect_window_days), latest,
        )
        for task in store.list_tasks(process=process.name) if task.status != DISMISSED
    }
    return store.record_run(
        run_id, process.name, started_at, datetime.now(UTC),
        {"cases": result.cases, "events": window.event_count, "fitness": result.fitness,
         "conforming_cases": result.conforming_cases,
         "conforming_share": result.conforming_share,
         "incomplete_cases": result.incomplete_cases,
         "unchecked_cases": result.unchecked_cases,
         "throughput_median_hours": timing.median_hours,
         "throughput_p90_hours": timing.p90_hours,
         "patterns": len(found)},
        result.deviation_table, proposals, measurements,
        raising.lifecycle(),
        sinks=sink_names(resources.config, process.name),
        deviation_runs_kept=resources.config.storage.deviation_runs_kept,
        awaiting_report=None if awaiting_report is None else asdict(awaiting_report),
        findings=findings,
    )


def sink_names(config: KaizenConfig, process: str) -> list[str]:
    return config.sinks_of(process)


def deliver_task_events(resources: Resources) -> DeliveryReport:
    """Send what the outbox holds; a sink that is down keeps its events pending for next time."""
    from kaizenflow.sinks import DatabaseLinks
    from kaizenflow.sinks.delivery import Backoff, deliver
    from kaizenflow.sinks.pages import web_pages

    config = resources.config
    store = resources.state
    links = DatabaseLinks(store.engine)
    pages = web_pages(config.web.base_url)
    sinks: dict[str, Sink] = {}
    try:
        for sink in config.sinks:
            sinks[sink.name] = sink.build(links, pages)
        delivery = config.delivery
        return deliver(store.engine, sinks, max_attempts=delivery.max_attempts,
                       backoff=Backoff(base_seconds=delivery.backoff_seconds,
                                       max_seconds=delivery.backoff_max_seconds))
    finally:
        for built in sinks.values():
            close = getattr(built, "close", None)
            if close is not None:
                close()


def set_aside_accepted_deviations(
    resources: Resources, process: Process, log: EventLog | Window, result: ConformanceResult
) -> tuple[ConformanceResult, list[Deviation]]:
    """Deviations of patterns a process owner accepted (and not yet expired) stop counting."""
    return set_aside_accepted(result, resources.state.accepted(process.name), log.case_attributes)


def source_positions(resources: Resources, process: Process) -> dict[str, str]:
    """For the run manifest: each source's committed watermark, or how it is read."""
    marks = resources.events.watermarks(process.name)
    return {source.name: source.position(marks) for source in process.sources}


def process_time(resources: Resources, process: Process) -> datetime | None:
    """The process's own clock: the time of its latest stored event."""
    return resources.events.latest_time(process.name)


@dataclass(frozen=True)
class Discovery:
    """How work was actually done in this log; ``window`` is what it was aggregated from, when
    it was (each case's variant, for drift)."""

    process_map: ProcessMap
    variants: list[Variant]
    throughput: Throughput
    window: WindowContributions | None = field(default=None, compare=False, repr=False)


#: How many of the most frequent variants a night's summary lists.
TOP_VARIANTS = 50


def discover(log: EventLog, top_variants: int = TOP_VARIANTS) -> Discovery:
    return Discovery(
        process_map=discover_process_map(log), variants=discover_variants(log)[:top_variants],
        throughput=throughput_of(log),
    )


def summarize(
    resources: Resources,
    process: Process,
    run_id: str,
    started_at: datetime,
    log: EventLog | Window,
    discovery: Discovery,
    model: DesignedModel,
    result: ConformanceResult,
    found: list[DeviationPattern],
    changes: list[TaskChange],
    loaded: AppendResult,
    stage_seconds: dict[str, float],
    *,
    accepted_patterns: list[DeviationPattern] | None = None,
    drift: list[str] | None = None,
) -> RunSummary:
    """The run's summary, whole: what the reports, the Prefect artifacts and the CLI show."""
    return RunSummary(
        process=process.name, run_id=run_id, started_at=started_at,
        finished_at=datetime.now(UTC), cases=result.cases, events=log.event_count,
        new_events=loaded.added, quarantined_rows=loaded.quarantined, fitness=result.fitness,
        conforming_cases=result.conforming_cases, incomplete_cases=result.incomplete_cases,
        unchecked_cases=result.unchecked_cases, throughput=discovery.throughput,
        process_map=discovery.process_map, variants=discovery.variants,
        patterns=found, task_changes=changes, model_name=model.name,
        model_hash=model.model_hash, config_hash=resources.config.config_hash,
        has_timestamps=log.has_timestamps, stage_seconds=stage_seconds,
        software=software_versions(), accepted_patterns=accepted_patterns or [],
        source_watermarks=source_positions(resources, process), drift=drift or [],
    )


def run_history(resources: Resources, process: Process, before: str, runs: int = 14) -> list[RunSummary]:
    """Headlines of earlier runs, oldest first, for the report's changes and trend lines."""
    figures = list(resources.state.run_summaries(process.name))
    run_ids = resources.state.run_ids(process.name)
    earlier = [(run_id, f) for run_id, f in zip(run_ids, figures, strict=True) if run_id != before]
    history = []
    for run_id, f in earlier[-runs:]:
        history.append(RunSummary(
            process=process.name, run_id=run_id, started_at=datetime.now(UTC), finished_at=datetime.now(UTC),
            cases=int(f.get("cases", 0)), events=int(f.get("events", 0)), new_events=0,  # type: ignore[call-overload]
            fitness=f.get("fitness"), conforming_cases=int(f.get("conforming_cases", 0)),  # type: ignore[arg-type, call-overload]
            incomplete_cases=int(f.get("incomplete_cases", 0)),  # type: ignore[call-overload]
            unchecked_cases=int(f.get("unchecked_cases", 0)),  # type: ignore[call-overload]
            throughput=Throughput(cases=int(f.get("cases", 0)),  # type: ignore[call-overload]
                                  median_hours=f.get("throughput_median_hours"),  # type: ignore[arg-type]
                                  p90_hours=f.get("throughput_p90_hours"), mean_hours=None),  # type: ignore[arg-type]
            process_map=ProcessMap(activities={}, edges=()), variants=[], patterns=[], task_changes=[],
            model_name="", model_hash="", config_hash="",
        ))
    return history


def drift(
    log: EventLog | Window, newest_days: float = 7, previous_days: float = 28,
    discovery: Discovery | None = None,
) -> list[str]:
    """Evidence that the newest week differs from the weeks before it; empty when it does not.

    Cases are grouped by when they started and compared at the same age (mining.drift). Of a
    window, only the events of the cases started in the weeks compared are read: what the cases
    before had comes from the variants of ``discovery``'s kept contributions, when it has them.
    """
    if isinstance(log, EventLog):
        found = newest_period_drift(log, newest_days, previous_days)
        return list(found.evidence) if found is not None else []
    window = log
    contributions = discovery.window if discovery is not None else None
    if not window.has_timestamps or not window.case_count:
        return []
    starts = window.cases["first"]
    snapshot = pd.Timestamp(window.cases["last"].max())
    newest_from = snapshot - pd.Timedelta(days=newest_days)
    previous_from = newest_from - pd.Timedelta(days=previous_days)
    is_before = (starts <= newest_from).to_numpy(dtype=bool)
    at = None
    if contributions is not None:  # nearly always the window's cases, in the same order
        at = np.flatnonzero(is_before) if same_ids(window.cases.index, contributions.cases.index) \
            else positions_in(window.cases.index[is_before], contributions.cases.index)
    if contributions is None or at is None or len(contributions.cases) != window.case_count or (at < 0).any():
        found = newest_period_drift(window.whole(), newest_days, previous_days)
        return list(found.evidence) if found is not None else []
    codes = np.unique(contributions.cases["variant"].to_numpy(dtype=np.int64)[at])
    seen = seen_in([contributions.sequences[code] for code in codes.tolist()])
    recent = window.events_of(window.cases.index[(starts > previous_from).to_numpy(dtype=bool)])
    found = recent_period_drift(recent, starts, snapshot, seen, newest_days, previous_days)
    return list(found.evidence)



def software_versions() -> dict[str, str]:
    found = {}
    for package in ("kaizenflow", "pm4py", "prefect", "duckdb", "sqlalchemy", "pandas"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def quiet_pm4py() -> None:
    """pm4py's own progress bars would flood the flow logs: we report progress per stage."""
    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
