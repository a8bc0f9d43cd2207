"""The verbs a notebook wants, flat as pm4py's: read a log, load a model, check one against the
other, find the deviation patterns, run a night. Plain data in and out; re-exported by the package.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from kaizenflow.conformance.alignments import ChunkMapper
    from kaizenflow.conformance.models import DesignedModel
    from kaizenflow.conformance.types import ConformanceResult, DeviationPattern
    from kaizenflow.core.events import EventLog
    from kaizenflow.pipeline.config import KaizenConfig, Process
    from kaizenflow.pipeline.night import StageRunner
    from kaizenflow.pipeline.summary import RunSummary


def read_log(
    path: str | Path, *, object_type: str | None = None, cost_attribute: str | None = None,
    cost_per: Literal["event", "case"] = "event",
) -> EventLog:
    """An event log file (CSV, Parquet, XES, XES.gz, OCEL 2.0) as an ``EventLog``.

    ``object_type`` picks the case notion of an OCEL log; ``cost_attribute`` makes a numeric
    attribute (summed over a case's events, or taken once with ``cost_per="case"``) each case's cost.
    """
    from kaizenflow.core.events import CaseCost
    from kaizenflow.sources.files import events_to_log, read_events_file

    file = Path(path)
    options: dict[str, object] = {"source": file.name}
    if object_type:
        options["object_type"] = object_type
    cost = CaseCost(cost_attribute, cost_per) if cost_attribute else None
    return events_to_log(read_events_file(file, None, **options), cost)


def load_model(path: str | Path) -> DesignedModel:
    """A designed model: BPMN 2.0, PNML or PTML, checked to be a sound workflow net."""
    from kaizenflow.conformance.models import load_model as load

    return load(Path(path))


def check(log: EventLog, model: DesignedModel, *, running_case_days: float = 0) -> ConformanceResult:
    """Fitness, conforming cases and per-case deviations of ``log`` against ``model``.

    By default the log is a closed export: no case is still running. ``running_case_days`` treats
    cases with an event in that many days before the log's last event as running (their missing
    end is then not a deviation), as a night does with ``open_case_horizon_days``.
    """
    from kaizenflow.conformance.check import check_log

    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
    return check_log(log, model, open_case_horizon_days=running_case_days or 1e-9)


def patterns(log: EventLog, result: ConformanceResult) -> list[DeviationPattern]:
    """The deviations grouped by kind and activity, largest first, with their business root causes."""
    from kaizenflow.conformance.patterns import result_patterns
    from kaizenflow.mining.discovery import case_throughput_hours

    return result_patterns(result, log.case_attributes, case_throughput_hours(log), case_costs=log.case_costs)


def run_night(
    config: str | Path | KaizenConfig, process: str | None = None, *, report: bool = True,
    progress: StageRunner | None = None,
) -> list[RunSummary]:
    """One night of every configured process (or one), in this process and without Prefect: the
    same ``run_night`` the flow runs, under the same run lock, with the report unless ``report``
    is false. ``progress`` runs each stage (``kaizen run`` shows a line per stage with it)."""
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.locking import run_lock
    from kaizenflow.pipeline.night import run_directly, run_nights
    from kaizenflow.pipeline.preflight import preflight
    from kaizenflow.pipeline.resources import Resources
    from kaizenflow.reports.night import write_night_report

    loaded = config if not isinstance(config, str | Path) else load_config(config)
    execution = loaded.execution
    parallel = None
    if execution.task_runner == "process" and execution.workers > 1:
        from kaizenflow.conformance.parallel import pool_chunks

        def parallel(process: Process) -> ChunkMapper:
            """Variants no night aligned before go to a pool of worker processes, longest first."""
            return pool_chunks(execution.workers, process.alignment_timeout_seconds)
    processes = [loaded.process(process)] if process else loaded.processes
    with run_lock(loaded.state_directory, loaded.state_url, loaded.execution.lock_wait_seconds):
        preflight(loaded)  # damaged or lost state stops the night before it changes anything
        with Resources.open(loaded) as resources:
            nights = run_nights(resources, processes, run=progress or run_directly, parallel=parallel,
                                report=write_night_report if report else None)
    return [night.summary for night in nights]
