"""Hard models: cold alignments of a 4,000+ variant log against its inductive-miner model, with pm4py.

The log is played out at benchmark time from a claims process with much concurrency and loops
(kaizenflow.sample_logs.concurrent, seeded) with noise; the inductive miner (noise threshold 0.2)
discovers a model whose parallel block of loops makes many variants costly to align. pm4py aligns
it with ``conformance_diagnostics_alignments`` (one process, as its multiprocessing crashes on small
machines); kaizenflow checks it as a night does on a cold alignment cache, its variants aligned in
a pool of worker processes on every core. Costs are compared variant by variant; peak memory is
the contender's own and, for kaizenflow, its largest worker's.
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from benchmarks.conformance import _pm4py_frame, contender_pm4py, inductive_model
from benchmarks.measure import Measurement, run_contender

MODULE = "benchmarks.hard_models"
CASES = 5_000
SEED = 7
NOISE = 0.1


def _variant_costs(parquet: str, costs: dict[str, float]) -> dict[str, float]:
    """Per variant (activities joined by '|'), the cost of its cases; a variant whose cases got
    different costs keeps them all, so a difference shows."""
    frame = pd.read_parquet(parquet)
    by_case = frame.groupby("case_id", sort=False)["activity"].agg("|".join)
    found: dict[str, float] = {}
    for case, variant in by_case.items():
        cost = costs[str(case)]
        if found.setdefault(variant, cost) != cost:
            found[variant + f" #{case}"] = cost
    return found


def pm4py_cold(parquet: str, model_path: str) -> dict[str, object]:
    result = contender_pm4py(parquet, model_path)
    costs = result["costs"]
    assert isinstance(costs, dict)
    return {"costs": _variant_costs(parquet, costs)}


def kaizen_cold(parquet: str, model_path: str, cache_path: str) -> dict[str, object]:
    """A night's check stage on a cold cache, its variants aligned on every core."""
    import pyarrow.parquet

    from benchmarks.conformance import _in_store_order, _load_model
    from kaizenflow.conformance.alignments import cached_aligner
    from kaizenflow.conformance.check import check_cases, open_cases, summarize_checks
    from kaizenflow.conformance.parallel import pool_chunks, usable_cores
    from kaizenflow.core.events import EventLog
    from kaizenflow.storage.alignment_cache import AlignmentCacheFile

    workers = _WorkerPeak()
    events = _in_store_order(pyarrow.parquet.read_table(parquet)).to_pandas()
    log = EventLog(events=events, case_attributes=pd.DataFrame(index=events["case_id"].unique()))
    model = _load_model(model_path)
    aligner = cached_aligner(AlignmentCacheFile(Path(cache_path)), map_chunks=pool_chunks())
    checks, alignments = check_cases(log, model, open_cases(log, horizon_days=1e-9), aligner=aligner)
    result = summarize_checks(checks, alignments)
    costs = dict(zip(checks.cases.index.tolist(), checks.cases["cost"].tolist(), strict=True))
    unchecked = sum(1 for a in result.alignments if not a.checked)
    return {"costs": _variant_costs(parquet, costs), "variants": len(result.alignments),
            "unchecked": unchecked, "workers": usable_cores(), "worker_peak_kib": workers.stop()}


class _WorkerPeak:
    """The largest high-water mark (VmHWM) among this process's descendants, sampled in a thread
    (pool workers are the forkserver's children, so the kernel's child rusage misses them)."""

    def __init__(self, every: float = 0.2) -> None:
        self.peak = 0
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _watch(self, every: float) -> None:
        while not self._done.wait(every):
            self.peak = max(self.peak, _descendants_peak(os.getpid()))

    def stop(self) -> int:
        self._done.set()
        self._thread.join()
        return self.peak


def _descendants_peak(root: int) -> int:
    parents: dict[int, int] = {}
    peaks: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            status = (entry / "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        parents[int(entry.name)] = int(fields.get("PPid", "0"))
        peaks[int(entry.name)] = int(fields.get("VmHWM", "0 kB").split()[0])

    def descends(pid: int) -> bool:
        while pid in parents and pid != root:
            pid = parents[pid]
        return pid == root

    return max((peak for pid, peak in peaks.items() if pid != root and descends(pid)), default=0)


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {"pm4py": pm4py_cold, "kaizenflow": kaizen_cold}


@dataclass(frozen=True)
class HardModelRow:
    cases: int
    variants: int
    places: int
    transitions: int
    silent: int
    pm4py: Measurement
    kaizen: Measurement
    identical: bool
    differing: int


def prepare(scratch: Path, cases: int = CASES) -> tuple[Path, Path]:
    """The played-out log as Parquet and its inductive-miner model as PNML."""
    from kaizenflow.sample_logs.concurrent import claims_log

    scratch.mkdir(parents=True, exist_ok=True)
    parquet, model = scratch / "claims.parquet", scratch / "claims-inductive.pnml"
    claims_log(cases, seed=SEED, noise=NOISE).to_parquet(parquet)
    inductive_model(parquet, model)
    return parquet, model


def run(scratch: Path, cases: int = CASES) -> HardModelRow:
    """pm4py once and kaizenflow once on a cold cache, in turn, on the same files."""
    from kaizenflow.conformance.models import load_model

    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
    parquet, model_path = prepare(scratch, cases)
    model = load_model(model_path)
    with tempfile.TemporaryDirectory() as cache:
        kaizen = run_contender(MODULE, "kaizenflow", str(parquet), str(model_path),
                               str(Path(cache) / "alignments.db"), timeout=7200)
    reference = run_contender(MODULE, "pm4py", str(parquet), str(model_path), timeout=7200)
    ours, theirs = kaizen.result["costs"], reference.result["costs"]
    assert isinstance(ours, dict) and isinstance(theirs, dict)
    differing = sum(1 for variant in theirs.keys() | ours.keys() if ours.get(variant) != theirs.get(variant))
    frame = _pm4py_frame(pd.read_parquet(parquet))
    variants = kaizen.result["variants"]
    assert isinstance(variants, int)
    transitions = list(model.net.transitions)
    return HardModelRow(
        cases=frame["case:concept:name"].nunique(), variants=variants, places=len(model.net.places),
        transitions=len(transitions), silent=sum(1 for t in transitions if t.label is None),
        pm4py=reference, kaizen=kaizen, identical=differing == 0, differing=differing,
    )


if __name__ == "__main__":
    import sys

    row = run(Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/kaizen-bench/hard-models"))
    print(row.pm4py.seconds, row.kaizen.seconds, row.identical, row.kaizen.result["worker_peak_kib"])
