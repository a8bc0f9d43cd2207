"""XES reading benchmark: `kaizen inspect` of a 262k-event log against `pm4py.read_xes` of the same file.

The log is BPI-2012-like (13,087 cases, 262,200 events, about 4,400 variants, a case amount and
a registration date, resource and lifecycle on every event), generated with a fixed seed and
written by ``pm4py.write_xes``, so it has no ``<extension>`` declarations: the form that
kaizenflow used to refuse. Each contender runs in a fresh process and its imports are timed
with it (kaizenflow's CLI imports nothing of pm4py to inspect a file; pm4py's import is part of
what ``pm4py.read_xes`` costs a user). kaizenflow does more than read: the safety pass, the
checks, the validated events and the whole profile ``kaizen inspect`` prints.

Run alone: ``python -m benchmarks.xes_reading [--scratch DIR] [--rounds N]``; it byte-compiles
kaizenflow first (as ``make bench`` does) and writes its section into docs/benchmarks.md
(replacing its previous one). ``section`` gives the same lines
to benchmarks/run.py.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import resource
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.measure import Measurement, machine, median_run, replace_section, run_contender

TITLE = "XES reading: `kaizen inspect` against `pm4py.read_xes` (a 262,200-event BPI-2012-like log)"
CASES = 13_087
EVENTS = 262_200
VARIANTS = 4_366
SEED = 2012
_ACTIVITIES = (
    "A_SUBMITTED", "A_PARTLYSUBMITTED", "A_PREACCEPTED", "A_ACCEPTED", "A_FINALIZED", "A_DECLINED",
    "A_CANCELLED", "A_APPROVED", "A_REGISTERED", "A_ACTIVATED", "O_SELECTED", "O_CREATED", "O_SENT",
    "O_SENT_BACK", "O_ACCEPTED", "O_CANCELLED", "O_DECLINED", "W_Afhandelen leads",
    "W_Completeren aanvraag", "W_Nabellen offertes", "W_Valideren aanvraag",
    "W_Nabellen incomplete dossiers", "W_Beoordelen fraude", "W_Wijzigen contractgegevens",
)


def build(path: Path) -> Path:
    """Write the log (deterministic) unless it is already there."""
    if path.exists():
        return path
    import numpy as np
    import pandas as pd
    import pm4py

    rng = np.random.default_rng(SEED)
    # variants: random walks over the activities; cases: every variant once, then a skewed choice
    lengths = np.clip(rng.poisson(19, VARIANTS), 3, 90)
    steps = [rng.choice([1, 1, 1, 2, -1, 3], size=n, p=[0.4, 0.2, 0.1, 0.1, 0.1, 0.1]) for n in lengths]
    variants = [tuple(_ACTIVITIES[int(i) % len(_ACTIVITIES)] for i in np.cumsum(s)) for s in steps]
    weights = 1.0 / np.arange(1, VARIANTS + 1) ** 0.9
    picks = np.concatenate([np.arange(VARIANTS),
                            rng.choice(VARIANTS, size=CASES - VARIANTS, p=weights / weights.sum())])
    sequences = [list(variants[i]) for i in picks]
    total = sum(len(s) for s in sequences)
    sequences[-1] = sequences[-1][: max(1, len(sequences[-1]) - (total - EVENTS))] if total > EVENTS \
        else sequences[-1] + [sequences[-1][-1]] * (EVENTS - total)
    counts = np.array([len(s) for s in sequences])
    case_ids = np.repeat(np.arange(173_688, 173_688 + CASES), counts).astype(str)
    starts = pd.Timestamp("2011-10-01") + pd.to_timedelta(rng.integers(0, 166 * 86_400, CASES), "s")
    gaps = pd.to_timedelta(rng.exponential(3_600, EVENTS).astype("int64"), "s")
    offsets = pd.Series(gaps).groupby(np.repeat(np.arange(CASES), counts)).cumsum().to_numpy()
    frame = pd.DataFrame({
        "case:concept:name": case_ids,
        "concept:name": [a for s in sequences for a in s],
        "time:timestamp": (np.repeat(starts.to_numpy(), counts) + offsets).astype("datetime64[ns]"),
        "org:resource": (10_000 + rng.integers(0, 60, EVENTS)).astype(str),
        "lifecycle:transition": "COMPLETE",
        "case:AMOUNT_REQ": np.repeat(rng.integers(1, 100, CASES) * 500.0, counts),
        "case:REG_DATE": np.repeat(starts.to_numpy(), counts).astype("datetime64[ns]"),
    })
    frame["time:timestamp"] = frame["time:timestamp"].dt.tz_localize("UTC")
    frame["case:REG_DATE"] = frame["case:REG_DATE"].dt.tz_localize("UTC")
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial.xes")
    pm4py.write_xes(frame, str(partial), case_id_key="case:concept:name")
    partial.replace(path)
    return path


def kaizen_inspect(path: str) -> dict[str, object]:
    """What `kaizen inspect FILE --json` does, in this process (its output is captured)."""
    import json

    from kaizenflow.cli.main import app

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        app(["inspect", path, "--json"], standalone_mode=False)
    profile = json.loads(out.getvalue())
    return {"cases": profile["cases"], "events": profile["events"], "variants": profile["variants"],
            "read_warnings": len(profile["read_warnings"])}


def pm4py_read_xes(path: str) -> dict[str, object]:
    import pm4py

    frame = pm4py.read_xes(path, show_progress_bar=False)
    return {"events": len(frame), "cases": int(frame["case:concept:name"].nunique())}


CONTENDERS: dict[str, Callable[[str], dict[str, object]]] = {
    "kaizen inspect": kaizen_inspect,
    "pm4py.read_xes": pm4py_read_xes,
}


def _timed(name: str, path: Path) -> tuple[Measurement, float]:
    """One run, with the CPU seconds (user + system) its process used, start-up included."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    measured = run_contender("benchmarks.xes_reading", name, str(path))
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return measured, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def measure(scratch: Path, rounds: int = 3) -> dict[str, tuple[Measurement, float]]:
    """Each contender's median run (by wall time) over ``rounds`` alternating rounds, with its CPU time."""
    path = build(scratch / "bpi2012_like.xes")
    runs: dict[str, list[tuple[Measurement, float]]] = {name: [] for name in CONTENDERS}
    for _ in range(rounds):
        for name in CONTENDERS:
            runs[name].append(_timed(name, path))
    chosen = {}
    for name, measured in runs.items():
        middle = median_run([m for m, _ in measured])
        chosen[name] = next(run for run in measured if run[0] is middle)
    return chosen


def section(scratch: Path, rounds: int = 3) -> list[str]:
    """The section's lines under its heading (as benchmarks/run.py's ``_measured`` wants them)."""
    before = os.getloadavg()[0]
    measured = measure(scratch, rounds)
    after = os.getloadavg()[0]
    (ours, our_cpu), (theirs, their_cpu) = measured["kaizen inspect"], measured["pm4py.read_xes"]
    size = (scratch / "bpi2012_like.xes").stat().st_size
    lines = [
        f"The log: {CASES:,} cases, {EVENTS:,} events, {ours.result['variants']:,} variants, "
        f"{size / 1e6:.0f} MB, written by `pm4py.write_xes` (no `<extension>` declarations; kaizenflow "
        f"counts {ours.result['read_warnings']} read warning, the undeclared prefixes). Each contender in a "
        f"fresh process, imports included; median of {rounds} alternating rounds. kaizenflow runs the "
        "safety pass and byte gate, the Rust reader it checks, the validated events (case, time and "
        "lifecycle checks) and the whole profile; pm4py only reads. Both use more than one core at "
        "times (r4pm's threads; kaizenflow's safety pass runs beside its imports), so CPU time may "
        f"exceed wall time. Load average (1 min) {before:.1f} before and {after:.1f} after: other work "
        "shared the two cores.",
        "",
        "| contender | events | seconds | CPU seconds (process) | peak memory |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, (m, cpu) in measured.items():
        events = int(str(m.result["events"]))
        lines.append(f"| {name} | {events:,} | {m.seconds:.2f} | {cpu:.2f} | {m.peak_mib:,.0f} MiB |")
    lines += ["", f"`kaizen inspect` takes {ours.seconds / theirs.seconds:.2f}x the wall time and "
              f"{our_cpu / their_cpu:.2f}x the CPU time of `pm4py.read_xes`."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/kaizen-bench/xes"))
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    from benchmarks.run import compile_project  # here: run.py may import this module

    compile_project()  # as `make bench` does: an installed kaizenflow is byte-compiled, as pm4py is
    lines = section(arguments.scratch, arguments.rounds)
    lines += ["", f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
              f"`python -m benchmarks.xes_reading --rounds {arguments.rounds}` (this section alone)."]
    replace_section(TITLE, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
