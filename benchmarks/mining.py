"""Mining benchmark: one night's analyses on a 1,000,000-event history against its conformance stage."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.measure import Measurement, run_contender


def night_analyses(work: str) -> dict[str, object]:
    """Read the stored history once, then time each analysis and the conformance stage on it."""
    from kaizenflow.mining.bottlenecks import find_bottlenecks
    from kaizenflow.mining.discovery import discover_process_map, discover_variants, throughput
    from kaizenflow.mining.organisation import resource_handovers, resources_per_activity
    from kaizenflow.mining.performance import analyse_performance
    from kaizenflow.mining.profile import profile_log
    from kaizenflow.mining.rework import analyse_rework
    from kaizenflow.mining.variants import group_variants
    from kaizenflow.pipeline import stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    config = load_config(Path(work) / "kaizen.yaml")
    process = config.processes[0]
    if not (config.state_directory / "events.duckdb").exists():
        stages.ingest(Resources(config), process, "bench")
    log = stages.read_log(Resources(config), process)
    timings: dict[str, float] = {}
    analyses: dict[str, Callable[[], object]] = {
        "process map": lambda: discover_process_map(log),
        "variants": lambda: discover_variants(log),
        "variant groups": lambda: group_variants(log),
        "throughput": lambda: throughput(log),
        "performance (business calendar)": lambda: analyse_performance(log),
        "bottlenecks": lambda: find_bottlenecks(log),
        "rework": lambda: analyse_rework(log),
        "resources and hand-overs": lambda: (resources_per_activity(log), resource_handovers(log)),
        "profile": lambda: profile_log(log),
        "drift": lambda: stages.drift(log),
    }
    for name, analysis in analyses.items():
        started = time.perf_counter()
        analysis()
        timings[name] = time.perf_counter() - started
    started = time.perf_counter()
    result = stages.check(process, log, stages.designed_model(Resources(config), process))
    conformance = time.perf_counter() - started
    return {"events": log.event_count, "cases": log.case_count, "mining": timings,
            "conformance": conformance, "variants": len(result.alignments)}


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {"night": night_analyses}


def run(work: Path) -> Measurement:
    """``work`` is a prepared ingestion folder (a 1M-event purchase-to-pay system and its config)."""
    return run_contender("benchmarks.mining", "night", str(work))
