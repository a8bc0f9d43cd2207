"""Night benchmarks: an incremental night against a full recomputation, and Dask against one process.

- Incremental: on the 1,000,000-event purchase-to-pay history, a first night fills the alignment
  cache and the case ledger; the simulated ERP then advances one day (about 0.3 % new cases).
  That night runs twice from the same state: incrementally, and as a full recomputation (ledger
  and alignment cache deleted). The stages are the flow's own functions, without Prefect.
- Large history: a 10,000,000-event ERP, its first night (the bulk load) and the next one.
- Dask: the nightly flow (Prefect, embedded API) on the receipt log against its inductive-miner
  model, cold caches, once on one thread and once on a local Dask cluster of two workers.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml

from benchmarks.measure import Measurement, run_contender

MODULE = "benchmarks.nights"


def stage_night(config_path: str) -> dict[str, object]:
    """One night's stages without Prefect or report: what a night costs, and what it found."""
    from conformance.alignments import cached_aligner
    from kaizenflow import stages
    from kaizenflow.config import load_config
    from kaizenflow.incremental import check_changed_cases

    config = load_config(config_path)
    process = config.processes[0]
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name], clock = time.perf_counter() - clock, time.perf_counter()

    stages.ingest(config, process, stages.new_run_id())
    lap("extract and load")
    log = stages.read_log(config, process)
    lap("read")
    stages.discover(log)
    lap("discover")
    model = stages.designed_model(config, process)
    aligner = cached_aligner(stages.alignment_cache(config))
    result, checked = check_changed_cases(config, process, model, aligner)
    lap("check")
    found = stages.patterns(process, log, result)
    lap("patterns")
    stages.record(config, process, stages.new_run_id(), datetime.now(UTC), log, result, found)
    lap("tasks and KPIs")
    return {
        "seconds": seconds, "checked": checked, "cases": result.cases, "events": log.event_count,
        "summary": {"conforming": result.conforming_cases, "fitness": result.fitness,
                    "patterns": {p.key: p.cases for p in found}},
    }


def flow_night(config_path: str) -> dict[str, object]:
    """The nightly flow on its configured task runner, in Prefect's embedded mode as `kaizen run`."""
    from kaizenflow import cli
    from kaizenflow.config import load_config

    cli._quiet_prefect(verbose=False)
    cli._prepare_prefect(load_config(config_path).state_directory, verbose=False)
    from flows.nightly import run_nightly

    [summary] = run_nightly(config_path)
    return {"check_seconds": summary.stage_seconds["check"], "cases": summary.cases,
            "summary": {"conforming": summary.conforming_cases, "fitness": summary.fitness,
                        "patterns": {p.key: p.cases for p in summary.patterns}}}


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {"stages": stage_night, "flow": flow_night}


@dataclass(frozen=True)
class IncrementalRow:
    first: Measurement
    incremental: Measurement
    full: Measurement
    new_cases: int
    identical: bool


def incremental_against_full(history: Path, scratch: Path) -> IncrementalRow:
    """``history`` is the ingestion benchmark's folder: the simulated ERP, its config and store."""
    from sample_logs import append_days

    work = scratch / "incremental"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(history, work, ignore=shutil.ignore_patterns("events.csv", "csv-state"))
    config = str(work / "kaizen.yaml")
    first = run_contender(MODULE, "stages", config)
    append_days(f"sqlite:///{work / 'p2p.db'}", 1)
    full = scratch / "full"
    shutil.copytree(work, full)
    for derived in ("case_checks.duckdb", "alignments.db"):
        (full / "state" / derived).unlink()
    incremental = run_contender(MODULE, "stages", config)
    recomputed = run_contender(MODULE, "stages", str(full / "kaizen.yaml"))
    new_cases = int(incremental.result["cases"]) - int(first.result["cases"])  # type: ignore[call-overload]
    identical = incremental.result["summary"] == recomputed.result["summary"]
    return IncrementalRow(first, incremental, recomputed, new_cases, identical)


@dataclass(frozen=True)
class HistoryRow:
    first: Measurement
    next_night: Measurement


def large_history(events: int, scratch: Path) -> HistoryRow:
    """A simulated ERP of about ``events`` events over two years: its first night, then the next."""
    from kaizenflow.demo import prepare_demo

    shutil.rmtree(scratch, ignore_errors=True)
    config, _ = prepare_demo(scratch, cases=events // 6, days=730)
    first = run_contender(MODULE, "stages", str(config), timeout=7200)
    next_night = run_contender(MODULE, "stages", str(config), timeout=7200)
    return HistoryRow(first, next_night)


@dataclass(frozen=True)
class DaskRow:
    one: Measurement
    dask: Measurement
    identical: bool


def dask_against_one_process(log: Path, model: Path, scratch: Path) -> DaskRow:
    """The receipt log checked by the nightly flow: one worker thread, then two Dask workers."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)
    measured = []
    for name, execution in (("one", {"task_runner": "thread", "workers": 1, "chunk_size": 60}),
                            ("dask", {"task_runner": "dask", "workers": 2, "chunk_size": 60})):
        config = scratch / f"{name}.yaml"
        config.write_text(yaml.safe_dump({
            "connections": {}, "execution": execution,
            "storage": {"directory": str(scratch / f"state-{name}")},
            "reports_directory": str(scratch / f"reports-{name}"),
            "processes": [{"name": "receipt", "model": str(model),
                           "sources": [{"name": "receipt", "file": str(log)}],
                           "open_case_horizon_days": 1e-9,
                           "tasks": {"owners": {"default": "owner@example.com"}}}],
        }), encoding="utf-8")
        measured.append(run_contender(MODULE, "flow", str(config)))
    one, dask = measured
    return DaskRow(one, dask, one.result["summary"] == dask.result["summary"])
