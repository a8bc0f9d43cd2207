"""Conformance benchmark: kaizenflow's checking against pm4py.conformance_diagnostics_alignments.

Both contenders start from the same inputs (an events Parquet file and a model file) in fresh
processes. kaizenflow runs twice: on a cold alignment cache and on a warm one (a night whose
variants were all seen before). Costs per case must be identical. Three rounds; medians.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from benchmarks.measure import Measurement, median_run, run_contender

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def _events(parquet: str) -> pd.DataFrame:
    return pd.read_parquet(parquet)


def _pm4py_frame(events: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "case:concept:name": events["case_id"].astype(str),
        "concept:name": events["activity"].astype(str),
        "time:timestamp": events["timestamp"],
    })


def _load_model(path: str):  # type: ignore[no-untyped-def]
    from kaizenflow.conformance.models import load_model

    return load_model(Path(path))


def contender_pm4py(parquet: str, model_path: str) -> dict[str, object]:
    import pm4py

    events = _events(parquet)
    model = _load_model(model_path)
    frame = _pm4py_frame(events)
    diagnostics = pm4py.conformance_diagnostics_alignments(
        frame, *model.pm4py_net(), multi_processing=False
    )
    cases = list(dict.fromkeys(frame["case:concept:name"]))  # pm4py keeps first-seen case order
    return {"costs": {case: d["cost"] for case, d in zip(cases, diagnostics, strict=True)}}


def contender_kaizen(parquet: str, model_path: str, cache_path: str) -> dict[str, object]:
    """What a night's check stage does: ordered events in, per-case results and log figures out."""
    import pyarrow.parquet

    from kaizenflow.conformance.alignments import cached_aligner
    from kaizenflow.conformance.check import check_cases, open_cases, summarize_checks
    from kaizenflow.core.events import EventLog
    from kaizenflow.storage.alignment_cache import AlignmentCacheFile

    events = _in_store_order(pyarrow.parquet.read_table(parquet)).to_pandas()
    log = EventLog(events=events, case_attributes=pd.DataFrame(index=events["case_id"].unique()))
    model = _load_model(model_path)
    checks, alignments = check_cases(log, model, open_cases(log, horizon_days=1e-9),
                                     aligner=cached_aligner(AlignmentCacheFile(Path(cache_path))))
    result = summarize_checks(checks, alignments)
    return {"costs": dict(zip(checks.cases.index.tolist(), checks.cases["cost"].tolist(), strict=True)),
            "variants": len(result.alignments)}


def _in_store_order(table: pa.Table) -> pa.Table:
    """The events in the order the event store gives them: by case, then time.

    Sorted only when the file is not in that order already (Arrow's sort is stable).
    """
    import pyarrow.compute as pc

    cases, times = table["case_id"].combine_chunks(), table["timestamp"].combine_chunks()
    if len(cases) > 1:
        same_case = pc.equal(cases[1:], cases[:-1])
        in_order = pc.and_(pc.less_equal(cases[:-1], cases[1:]),
                           pc.or_(pc.invert(same_case), pc.less_equal(times[:-1], times[1:])))
        if not pc.all(in_order).as_py():
            return table.sort_by([("case_id", "ascending"), ("timestamp", "ascending")])
    return table


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {
    "pm4py": contender_pm4py,
    "kaizenflow": contender_kaizen,
}


@dataclass(frozen=True)
class ConformanceRow:
    dataset: str
    parquet: Path
    cases: int
    variants: int
    pm4py: Measurement
    cold: Measurement
    warm: Measurement
    identical: bool


def compare(dataset: str, parquet: Path, model: Path, repeats: int = 3) -> ConformanceRow:
    """Each contender ``repeats`` times, in turn, each kaizenflow pair on a new cache; the runs of
    median time are reported, and every run's costs must be the same."""
    module = "benchmarks.conformance"
    references, colds, warms = [], [], []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as scratch:
            cache = str(Path(scratch) / "alignments.db")
            references.append(run_contender(module, "pm4py", str(parquet), str(model)))
            colds.append(run_contender(module, "kaizenflow", str(parquet), str(model), cache))
            warms.append(run_contender(module, "kaizenflow", str(parquet), str(model), cache))
    costs = references[0].result["costs"]
    assert isinstance(costs, dict)
    identical = all(run.result["costs"] == costs for run in references + colds + warms)
    variants = colds[0].result["variants"]
    assert isinstance(variants, int)
    return ConformanceRow(dataset, parquet, len(costs), variants, median_run(references), median_run(colds),
                          median_run(warms), identical)


def xes_to_parquet(xes: Path, target: Path) -> None:
    import pm4py

    frame = pm4py.read_xes(str(xes))
    pd.DataFrame({
        "case_id": frame["case:concept:name"].astype(str),
        "activity": frame["concept:name"].astype(str),
        "timestamp": pd.to_datetime(frame["time:timestamp"], utc=True),
    }).to_parquet(target)


def inductive_model(parquet: Path, target: Path, noise: float = 0.2) -> None:
    import pm4py

    frame = _pm4py_frame(pd.read_parquet(parquet))
    net, im, fm = pm4py.discover_petri_net_inductive(frame, noise_threshold=noise)
    pm4py.write_pnml(net, im, fm, str(target))


def p2p_parquet(cases: int, target: Path) -> Path:
    """A simulated purchase-to-pay system with ``cases`` requisitions, extracted to events."""
    from kaizenflow.cli.demo import prepare_demo
    from kaizenflow.pipeline import stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    work = target.parent / f"p2p-{cases}"
    shutil.rmtree(work, ignore_errors=True)
    config = load_config(prepare_demo(work, cases=cases, days=365)[0])
    process = config.processes[0]
    resources = Resources(config)
    stages.ingest(resources, process, "bench")
    stages.read_log(resources, process).events[["case_id", "activity", "timestamp"]].to_parquet(target)
    return config.path(process.model)


def run(scratch: Path, p2p_cases: int = 100_000) -> list[ConformanceRow]:
    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
    scratch.mkdir(parents=True, exist_ok=True)
    rows = []
    for name in ("receipt", "helpdesk"):
        source = SHARED / "logs" / f"{name}.xes.gz"
        if not source.exists():
            continue
        parquet, model = scratch / f"{name}.parquet", scratch / f"{name}-inductive.pnml"
        xes_to_parquet(source, parquet)
        inductive_model(parquet, model)
        rows.append(compare(f"{name}.xes.gz vs inductive miner (noise 0.2)", parquet, model))
    parquet = scratch / "p2p.parquet"
    bpmn = p2p_parquet(p2p_cases, parquet)
    rows.append(compare(f"purchase-to-pay, {p2p_cases:,} cases, vs its BPMN", parquet, bpmn))
    return rows
