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

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import yaml

from benchmarks.measure import Measurement, median_run, run_contender

if TYPE_CHECKING:
    from kaizenflow.pipeline.summary import RunSummary

MODULE = "benchmarks.nights"


def stage_night(config_path: str) -> dict[str, object]:
    """One night as the flow runs it (``run_night``), without Prefect or report: what a night
    costs, stage by stage, and what it found."""
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.night import run_night
    from kaizenflow.pipeline.resources import Resources

    config = load_config(config_path)
    with Resources.open(config) as resources:
        night = run_night(resources, config.processes[0])
    seconds = dict(night.summary.stage_seconds)
    found = night.summary.patterns
    summary = night.summary
    return {
        "seconds": seconds, "checked": night.checked_cases, "cases": summary.cases,
        "events": summary.events, "repeated": summary.repeated,
        # every variant of the window (the summary lists the most frequent only)
        "variants": None if night.checked is None else len(night.checked.result.alignments),
        "summary": {"conforming": summary.conforming_cases, "fitness": summary.fitness,
                    "patterns": {p.key: p.cases for p in found}},
        "findings": findings_digest(summary),
    }


def findings_digest(summary: RunSummary) -> str:
    """A digest of what a night's summary says about the process (not when or how fast): two
    nights with the same digest show the same figures, maps, variants, patterns and drift."""
    figures = {field: getattr(summary, field) for field in (
        "cases", "events", "fitness", "conforming_cases", "incomplete_cases", "unchecked_cases",
        "throughput", "process_map", "variants", "patterns", "accepted_patterns", "drift",
        "model_hash", "has_timestamps")}
    return hashlib.sha256(repr(sorted(figures.items())).encode("utf-8")).hexdigest()


def flow_night(config_path: str) -> dict[str, object]:
    """The nightly flow on its configured task runner, in Prefect's embedded mode as `kaizen run`."""
    from kaizenflow.cli import main as cli
    from kaizenflow.pipeline.config import load_config

    cli._quiet_prefect(verbose=False)
    cli._prepare_prefect(load_config(config_path).state_directory, verbose=False)
    from kaizenflow.flows.nightly import run_nightly

    [summary] = run_nightly(config_path)
    return {"check_seconds": summary.stage_seconds["check"], "cases": summary.cases,
            "summary": {"conforming": summary.conforming_cases, "fitness": summary.fitness,
                        "patterns": {p.key: p.cases for p in summary.patterns}}}


def pm4py_night(work: str, model_path: str) -> dict[str, object]:
    """The plain pm4py way of a night on the same ERP, with pm4py's defaults: read every event with
    pandas, format, discover (process map with frequencies and times, variants, case durations),
    align every case against the designed model and aggregate pm4py's fitness."""
    import pm4py
    import sqlalchemy as sa
    from pm4py.algo.evaluation.replay_fitness.variants.alignment_based import evaluate

    from benchmarks.ingestion import UNION
    from kaizenflow.conformance.models import load_model

    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        seconds[name], clock = time.perf_counter() - clock, time.perf_counter()

    engine = sa.create_engine(f"sqlite:///{Path(work) / 'p2p.db'}")
    with engine.connect() as connection:
        frame = pd.read_sql_query(sa.text(UNION), connection)
    engine.dispose()
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    log = pm4py.format_dataframe(frame.copy(), case_id="case_id", activity_key="activity", timestamp_key="ts")
    lap("read")
    pm4py.discover_dfg(log)
    pm4py.discover_performance_dfg(log)
    variants = pm4py.get_variants(log)
    pm4py.get_all_case_durations(log)
    lap("discover")
    net, initial, final = load_model(Path(model_path)).pm4py_net()
    diagnostics = pm4py.conformance_diagnostics_alignments(log, net, initial, final, multi_processing=False)
    lap("align")
    figures = evaluate(diagnostics)
    deviating = sum(1 for d in diagnostics if d["cost"] >= 10_000)  # any move besides silent steps
    lap("aggregate")
    return {"seconds": seconds, "events": len(log), "cases": len(diagnostics), "variants": len(variants),
            "fitness": figures["log_fitness"], "deviating by alignment": deviating}


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {
    "stages": stage_night, "flow": flow_night, "pm4py-night": pm4py_night,
    "cases": lambda config_path: window_cases(config_path),
}


@dataclass(frozen=True)
class IncrementalRow:
    first: Measurement
    incremental: Measurement
    full: Measurement
    new_cases: int
    identical: bool


def incremental_against_full(history: Path, scratch: Path, repeats: int = 3) -> IncrementalRow:
    """``history`` is the ingestion benchmark's folder: the simulated ERP, its config and store.

    After the first night and the new day, each round runs both nights on fresh copies of that
    state; the runs of median time are reported, and every round must find the same.
    """
    from kaizenflow.sample_logs import append_days

    work = scratch / "incremental"
    shutil.rmtree(scratch, ignore_errors=True)
    shutil.copytree(history, work, ignore=shutil.ignore_patterns("events.csv", "csv-state"))
    first = run_contender(MODULE, "stages", str(work / "kaizen.yaml"))
    append_days(f"sqlite:///{work / 'p2p.db'}", 1)
    incremental_runs, full_runs = [], []
    for round_number in range(repeats):
        tonight, full = scratch / f"tonight-{round_number}", scratch / f"full-{round_number}"
        shutil.copytree(work, tonight)
        _copy_without_derived_state(work, full)
        incremental_runs.append(run_contender(MODULE, "stages", str(tonight / "kaizen.yaml")))
        full_runs.append(run_contender(MODULE, "stages", str(full / "kaizen.yaml")))
        shutil.rmtree(tonight)
        shutil.rmtree(full)
    incremental, recomputed = median_run(incremental_runs), median_run(full_runs)
    new_cases = int(incremental.result["cases"]) - int(first.result["cases"])  # type: ignore[call-overload]
    summaries = [run.result["summary"] for run in incremental_runs + full_runs]
    identical = all(summary == summaries[0] for summary in summaries)
    return IncrementalRow(first, incremental, recomputed, new_cases, identical)


@dataclass(frozen=True)
class FullNightRow:
    first: Measurement
    recomputed: Measurement
    pm4py: Measurement
    identical: bool


def full_night_against_pm4py(history: Path, scratch: Path, repeats: int = 3) -> FullNightRow:
    """A whole night on the 1M-event ERP: kaizenflow from empty state (every event extracted and
    stored), kaizenflow recomputing everything over its stored events (no ledger, no alignment
    cache), and the plain pm4py way, which has no store and reads the ERP again each night.
    Three rounds of the three, each kaizenflow night on fresh state; the runs of median time."""
    shutil.rmtree(scratch, ignore_errors=True)
    firsts, recomputations, references = [], [], []
    for round_number in range(repeats):
        empty, again = scratch / f"first-{round_number}", scratch / f"recomputed-{round_number}"
        shutil.copytree(history, empty, ignore=shutil.ignore_patterns("events.csv", "csv-state", "state"))
        firsts.append(run_contender(MODULE, "stages", str(empty / "kaizen.yaml")))
        _copy_without_derived_state(empty, again)
        recomputations.append(run_contender(MODULE, "stages", str(again / "kaizen.yaml")))
        references.append(run_contender(MODULE, "pm4py-night", str(history),
                                        str(empty / "purchase_to_pay.bpmn")))
        shutil.rmtree(again)
        shutil.rmtree(empty)
    reference = references[0]
    same = all(
        (m.result["events"], m.result["cases"], m.result["variants"])
        == (reference.result["events"], reference.result["cases"], reference.result["variants"])
        and abs(float(m.result["summary"]["fitness"]) - float(reference.result["fitness"])) < 1e-9  # type: ignore[index, arg-type]
        for m in firsts + recomputations
    ) and all({**r.result, "seconds": None} == {**reference.result, "seconds": None} for r in references)
    return FullNightRow(median_run(firsts), median_run(recomputations), median_run(references), same)


def _copy_without_derived_state(work: Path, target: Path) -> None:
    """A copy of a night's folder whose next night recomputes everything: no case ledger, no
    alignment cache, no case contributions (events, watermarks, tasks and KPIs stay)."""
    shutil.copytree(work, target)
    for derived in ("case_checks.duckdb", "alignments.db", "case_contributions.duckdb"):
        (target / "state" / derived).unlink(missing_ok=True)


#: In a large history's folder once its first night ran: how many events it was made with.
HISTORY_MARKER = "benchmark-history.txt"


@dataclass(frozen=True)
class HistoryRow:
    first: Measurement
    next_night: Measurement


def large_history(events: int, scratch: Path) -> HistoryRow:
    """A simulated ERP of about ``events`` events over two years: its first night, then the next."""
    from kaizenflow.cli.demo import prepare_demo

    shutil.rmtree(scratch, ignore_errors=True)
    config, _ = prepare_demo(scratch, cases=events // 6, days=730)
    first = run_contender(MODULE, "stages", str(config), timeout=7200)
    next_night = run_contender(MODULE, "stages", str(config), timeout=7200)
    (scratch / HISTORY_MARKER).write_text(f"{events}\n", encoding="utf-8")  # history_nights reuses it
    return HistoryRow(first, next_night)


@dataclass(frozen=True)
class HistoryNightsRow:
    incremental: Measurement
    full: Measurement
    nothing_new: Measurement
    new_cases: int
    identical: bool
    reused: bool
    #: every night with nothing new repeated the findings of the incremental night before it
    repeated: bool


def history_nights(events: int, scratch: Path, repeats: int = 3) -> HistoryNightsRow:
    """On a simulated ERP of about ``events`` events over two years (``scratch/history``, reused
    when a first night has run on one of that size, else made and its first night run), one more
    day: the night that adds it, the same night recomputed in full (no ledger, cache or
    contributions), and then a night with nothing new. Each in a fresh process; ``repeats``
    rounds, each on fresh copies of the history, and the runs of median time are reported."""
    from kaizenflow.cli.demo import prepare_demo
    from kaizenflow.sample_logs import append_days

    history = scratch / "history"
    marker = history / HISTORY_MARKER
    reused = marker.exists() and marker.read_text(encoding="utf-8").strip() == str(events)
    if not reused:
        shutil.rmtree(history, ignore_errors=True)
        config, _ = prepare_demo(history, cases=events // 6, days=730)
        run_contender(MODULE, "stages", str(config), timeout=7200)
        marker.write_text(f"{events}\n", encoding="utf-8")
    tonight, full = scratch / "history-tonight", scratch / "history-full"
    incrementals, recomputations, nothing_news = [], [], []
    for _ in range(repeats):
        for folder in (tonight, full):
            shutil.rmtree(folder, ignore_errors=True)
        shutil.copytree(history, tonight)
        append_days(f"sqlite:///{tonight / 'p2p.db'}", 1)
        _copy_without_derived_state(tonight, full)
        incrementals.append(run_contender(MODULE, "stages", str(tonight / "kaizen.yaml"), timeout=7200))
        recomputations.append(run_contender(MODULE, "stages", str(full / "kaizen.yaml"), timeout=7200))
        nothing_news.append(run_contender(MODULE, "stages", str(tonight / "kaizen.yaml"), timeout=7200))
    before = run_contender(MODULE, "cases", str(history / "kaizen.yaml"))
    shutil.rmtree(tonight)
    shutil.rmtree(full)
    found = {run.result["findings"] for run in incrementals + recomputations}
    new_cases = int(incrementals[0].result["cases"]) - int(before.result["cases"])  # type: ignore[call-overload]
    repeated = all(again.result["repeated"] and again.result["findings"] == night.result["findings"]
                   for night, again in zip(incrementals, nothing_news, strict=True))
    return HistoryNightsRow(median_run(incrementals), median_run(recomputations), median_run(nothing_news),
                            new_cases, len(found) == 1, reused, repeated)


def window_cases(config_path: str) -> dict[str, object]:
    """How many cases the window of a state's latest night had."""
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    config = load_config(config_path)
    process = config.processes[0]
    with Resources.open(config) as resources:
        runs = resources.state.run_summaries(process.name)
    return {"cases": int(list(runs)[-1].get("cases", 0))}  # type: ignore[call-overload]


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
