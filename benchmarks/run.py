"""`make bench`: every benchmark, side by side with plain pm4py, written to docs/benchmarks.md."""

from __future__ import annotations

import argparse
import compileall
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from benchmarks import (
    conformance,
    extraction,
    floors,
    hard_models,
    ingestion,
    mining,
    models,
    nights,
    startup,
    xes_reading,
)
from benchmarks import web as web_load
from benchmarks.measure import COMMENTARY, DOCS, Measurement, machine, replace_section

SHARED_LOGS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "logs"
PACKAGES = ("benchmarks", "kaizenflow")


def compile_project() -> None:
    """Byte-compile our modules first, as pip does for an installed package such as pm4py.

    An editable install under PYTHONDONTWRITEBYTECODE would otherwise compile them in every
    contender's fresh process, a cost no installed kaizenflow pays.
    """
    root = Path(__file__).resolve().parent.parent
    for package in PACKAGES:
        compileall.compile_dir(root / package, quiet=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scratch", type=Path, default=Path("/tmp/kaizen-bench"))
    parser.add_argument("--p2p-cases", type=int, default=100_000)
    parser.add_argument("--history-events", type=int, default=10_000_000)
    parser.add_argument("--only", nargs="+", choices=sorted(RERUNNABLE), metavar="SECTION",
                        help=f"run only these sections ({', '.join(sorted(RERUNNABLE))}) and replace them "
                             "in docs/benchmarks.md, each with its own machine, time and command")
    arguments = parser.parse_args()
    arguments.scratch.mkdir(parents=True, exist_ok=True)
    _HISTORY_EVENTS[0] = arguments.history_events
    compile_project()
    if arguments.only:
        _run_alone(arguments.only, arguments.scratch)
        return
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
        f"`make bench` (`python -m benchmarks.run --p2p-cases {arguments.p2p_cases} "
        f"--history-events {arguments.history_events}`).",
        "Each contender runs in its own fresh process; peak memory is its high-water mark (VmHWM). "
        "kaizenflow's modules are byte-compiled first, as pip compiles an installed package such as pm4py.",
        "",
        "## Ingestion of a 1,000,000-event source",
        "",
        "kaizenflow: extract with SQLAlchemy (or read the CSV), map to events with deterministic ids, "
        "append to the DuckDB event store. Plain pm4py way: pandas reads the same rows, "
        "`pm4py.format_dataframe` formats them (no store).",
        "",
        "| contender | events | seconds | events/s | peak memory |",
        "|---|---:|---:|---:|---:|",
    ]
    events, measurements = ingestion.run(arguments.scratch / "ingestion")
    for m in measurements:
        count = int(m.result["events"])  # type: ignore[call-overload]
        rate = count / m.seconds
        lines.append(f"| {m.name} | {count:,} | {m.seconds:.1f} | {rate:,.0f} | {m.peak_mib:,.0f} MiB |")
    night = mining.run(arguments.scratch / "ingestion")
    figures = night.result
    timings = figures["mining"]
    assert isinstance(timings, dict)
    total = sum(timings.values())
    lines += [
        "",
        f"## One night's analyses on the same history ({figures['events']:,} events, "
        f"{figures['cases']:,} cases)",
        "",
        "| analysis | seconds |",
        "|---|---:|",
        *[f"| {name} | {seconds:.2f} |" for name, seconds in timings.items()],
        f"| **all analyses** | **{total:.2f}** |",
        f"| analyses the nightly flow runs (process map, variants, throughput, drift) "
        f"| {sum(timings[k] for k in ('process map', 'variants', 'throughput', 'drift')):.2f} |",
        f"| conformance stage (cold, one process, {figures['variants']} variants) "
        f"| {figures['conformance']:.2f} |",
    ]
    lines += [
        "",
        "## Conformance: alignments against pm4py.conformance_diagnostics_alignments",
        "",
        "Same inputs (events as Parquet, a model file), costs compared case by case. kaizenflow runs on a "
        "cold alignment cache, then on a warm one (a night whose variants were all seen before). Three "
        "rounds of the three runs, each round on a new cache; the table gives each contender's median run.",
        "",
        "| data | cases | variants | pm4py | kaizenflow cold | kaizenflow warm | speed-up cold / warm "
        "| peak memory pm4py / kaizenflow | identical costs |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    checks = conformance.run(arguments.scratch / "conformance", arguments.p2p_cases)
    for row in checks:
        lines.append(
            f"| {row.dataset} | {row.cases:,} | {row.variants:,} | {row.pm4py.seconds:.1f} s "
            f"| {row.cold.seconds:.2f} s | {row.warm.seconds:.2f} s "
            f"| {row.pm4py.seconds / row.cold.seconds:.1f}x / {row.pm4py.seconds / row.warm.seconds:.1f}x "
            f"| {row.pm4py.peak_mib:,.0f} / {row.cold.peak_mib:,.0f} MiB "
            f"| {'yes' if row.identical else 'NO'} |"
        )
    commentary = DOCS.read_text(encoding="utf-8").partition(COMMENTARY)[2] if DOCS.exists() else ""
    _write(lines, commentary)
    scratch = arguments.scratch
    nights_measured: dict[str, object] = {}  # the night rows, for the floors
    sections: list[tuple[str, Callable[[], list[str]]]] = [
        (startup.TITLE, lambda: startup.section(scratch / "startup")),
        (INCREMENTAL, lambda: _incremental(scratch, nights_measured)),
        (FULL_NIGHT, lambda: _full_night(scratch, nights_measured)),
        (f"A {arguments.history_events:,}-event history (the same stages, two years of simulated ERP)",
         lambda: _large_history(scratch, arguments.history_events)),
        (DASK, lambda: _dask(scratch)),
        (web_load.TITLE, lambda: web_load.run(scratch)),
        *[(title, lambda section=section: section(scratch)) for title, section in ALONE.values()],
        (FLOORS, lambda: _floors(scratch, checks, nights_measured)),
        (models.TITLE, lambda: models.section(scratch / "models")),
        (xes_reading.TITLE, lambda: xes_reading.section(scratch / "xes")),
    ]
    for title, section in sections:
        lines += _measured(title, section)
        _write(lines, commentary)  # a long run keeps what it measured if a later part fails
    sys.stdout.write("\n".join(lines) + "\n")


def _hard_models(scratch: Path) -> list[str]:
    row = hard_models.run(scratch / "hard-models")
    pm4py, ours = row.pm4py, row.kaizen
    workers = ours.result["workers"]
    worker_peak = ours.result["worker_peak_kib"]
    assert isinstance(worker_peak, int)
    return [
        f"A claims process with four parallel branches and redo loops "
        f"(`kaizenflow.sample_logs.concurrent`, seed {hard_models.SEED}, noise {hard_models.NOISE}) "
        f"played out for {row.cases:,} cases; its inductive-miner model (noise threshold 0.2: "
        f"{row.places} places, {row.transitions} transitions of which {row.silent} silent). pm4py: "
        "`conformance_diagnostics_alignments` in one process. kaizenflow: a night's check on a cold "
        f"alignment cache, its variants aligned longest first in {workers} worker processes "
        "(`conformance.parallel.pool_chunks`). Costs compared variant by variant; one run each.",
        "",
        "| contender | variants | seconds | peak memory | largest worker's peak |",
        "|---|---:|---:|---:|---:|",
        f"| pm4py | {row.variants:,} | {pm4py.seconds:.1f} | {pm4py.peak_mib:,.0f} MiB | |",
        f"| kaizenflow, cold | {row.variants:,} | {ours.seconds:.1f} | {ours.peak_mib:,.0f} MiB "
        f"| {worker_peak / 1024:,.0f} MiB |",
        "",
        f"Speed-up: {pm4py.seconds / ours.seconds:.1f}x; variants left unchecked: "
        f"{ours.result['unchecked']}; "
        f"identical costs for every variant: {'yes' if row.identical else f'NO ({row.differing} differ)'}.",
    ]


def _extraction(scratch: Path) -> list[str]:
    work = scratch / "ingestion"
    if not (work / "p2p.db").exists():
        ingestion.prepare(work)
    lines = [
        "The ingestion benchmark's simulated ERP (SQLite) read source by source, as a night reads its "
        "seven queries: fetching only, by each way there is, and the whole first load (extract, map to "
        "events with deterministic ids, stage, append to the event store) through ADBC and through "
        "SQLAlchemy. Each in a fresh process, once.",
        "",
        "| way | rows | seconds | rows/s | peak memory |",
        "|---|---:|---:|---:|---:|",
    ]
    loads: dict[str, object] = {}
    for row in extraction.run(work):
        m = row.measured
        if m is None:
            lines.append(f"| {row.name} | not measured: {row.reason} | | | |")
            continue
        count = int(m.result["rows"])  # type: ignore[call-overload]
        lines.append(f"| {row.name} | {count:,} | {m.seconds:.1f} | {count / m.seconds:,.0f} "
                     f"| {m.peak_mib:,.0f} MiB |")
        if "events" in m.result:
            loads[row.name] = m.result["events"]
    same = len(set(loads.values())) == 1 and len(loads) == 2
    return lines + ["", f"Same stored events (ids, cases, activities, times, resources, attributes) "
                        f"through ADBC and SQLAlchemy: {'yes' if same else 'NO'}."]


def _history_nights(scratch: Path) -> list[str]:
    row = nights.history_nights(_HISTORY_EVENTS[0], scratch)
    lines = [
        f"The {_HISTORY_EVENTS[0]:,}-event simulated ERP after its first night "
        f"({'an existing scratch state, reused' if row.reused else 'made and its first night run here'}), "
        "advanced by one simulated day: the night that adds it (the flow's stage functions without "
        "Prefect or report), the same night on a copy without case ledger, alignment cache and case "
        "contributions (a full recomputation), then a night with nothing new. Each in a fresh process; "
        "three rounds, each on fresh copies of the history; the table gives each night's median run.",
        "",
    ]
    lines += _night_table("night", [(f"incremental night (+{row.new_cases:,} window cases)", row.incremental),
                                    ("same night, full recomputation", row.full),
                                    ("next night: nothing new", row.nothing_new)],
                          {"events": "events", "cases": "cases", "cases checked": "checked"}, 1)
    speed = row.full.seconds / row.incremental.seconds
    return lines + ["", f"Speed-up of the incremental night: {speed:.1f}x; identical findings (figures, "
                        f"process map, variants, patterns, drift): {'yes' if row.identical else 'NO'}; "
                        "the night with nothing new repeated the incremental night's findings without "
                        f"reading the window: {'yes' if row.repeated else 'NO'}."]


#: The size of the history the history-nights section uses (``--history-events``).
_HISTORY_EVENTS = [10_000_000]
HISTORY_NIGHTS = "Nights on the large history: one more day, incrementally and recomputed"
INCREMENTAL = "Nights: incremental against a full recomputation (the 1M-event history, one more day)"
FULL_NIGHT = "A whole night against the plain pm4py way (the 1M-event ERP)"
HARD_MODELS = "Hard models: cold alignments of a 4,000+ variant log against its inductive-miner model"
#: Sections that `--only` runs alone: name -> (title, section).
ALONE: dict[str, tuple[str, Callable[[Path], list[str]]]] = {
    "hard-models": (HARD_MODELS, _hard_models),
    "extraction": ("Extraction of the 1M-event ERP: ADBC, ConnectorX, DuckDB and SQLAlchemy", _extraction),
    "history-nights": (HISTORY_NIGHTS, _history_nights),
}


def _whole_night_alone(scratch: Path) -> list[str]:
    if not (scratch / "ingestion" / "p2p.db").exists():
        ingestion.prepare(scratch / "ingestion")
    return _full_night(scratch, {})


#: What `--only` can rerun: the sections above, and the whole night of `make bench`'s nights.
RERUNNABLE: dict[str, tuple[str, Callable[[Path], list[str]]]] = {
    **ALONE, "whole-night": (FULL_NIGHT, _whole_night_alone),
}


def _run_alone(names: list[str], scratch: Path) -> None:
    """Each named section measured now and put in docs/benchmarks.md in place of its last figures
    (or before the commentary), under a line giving this machine, the time and the command."""
    sized = f" --history-events {_HISTORY_EVENTS[0]}" if "history-nights" in names else ""
    command = f"python -m benchmarks.run --only {' '.join(names)}{sized}"
    for name in names:
        title, section = RERUNNABLE[name]
        body = _measured(title, lambda section=section: section(scratch))  # type: ignore[misc]
        when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
        replace_section(title, [f"Machine: {machine()}. Run {when} with `{command}`.", "", *body[3:]])
    sys.stdout.write(DOCS.read_text(encoding="utf-8"))


def _write(lines: list[str], commentary: str) -> None:
    """The figures so far, and the hand-written commentary about a run (kept, to be checked)."""
    DOCS.parent.mkdir(exist_ok=True)
    text = "\n".join(lines + (["", COMMENTARY + commentary.rstrip("\n")] if commentary else []))
    DOCS.write_text(text + "\n", encoding="utf-8")


def _measured(title: str, section: Callable[[], list[str]]) -> list[str]:
    """A section's lines, or the reason one of its contenders failed, in its place."""
    try:
        return ["", f"## {title}", "", *section()]
    except RuntimeError as error:
        reason = str(error).strip().splitlines()[-1]
        return ["", f"## {title}", "", f"Not measured in this run: {reason}"]


def _night_table(
    first_column: str, nights_measured: list[tuple[str, Measurement]], counts: dict[str, str], digits: int
) -> list[str]:
    """A table of measured nights: the counts (heading -> result key), seconds, seconds per stage,
    peak memory."""
    headings = " | ".join([first_column, *counts, "seconds", "stages (s)", "peak memory"])
    rows = [f"| {headings} |", "|---|" + "---:|" * (len(counts) + 1) + "---|---:|"]
    for name, m in nights_measured:
        stages = m.result["seconds"]
        assert isinstance(stages, dict)
        detail = ", ".join(f"{k} {v:.{digits}f}" for k, v in stages.items())
        figures = " | ".join(f"{m.result[key]:,}" for key in counts.values())
        rows.append(f"| {name} | {figures} | {m.seconds:.{digits}f} | {detail} | {m.peak_mib:,.0f} MiB |")
    return rows


DASK = "Conformance on a local Dask cluster against one process (the nightly flow)"
FLOORS = "Floors: each speed target's budget against the least work inside it"


def _incremental(scratch: Path, measured: dict[str, object]) -> list[str]:
    row = nights.incremental_against_full(scratch / "ingestion", scratch / "nights")
    measured["incremental"] = row
    lines = [
        "The flow's stage functions without Prefect or report (extract and load, read, discover, check, "
        "patterns, tasks and KPIs), each night in a fresh process. The full recomputation runs the same "
        "night on a copy of the state without the case ledger and the alignment cache. The two nights "
        "run three times each, in turn, on fresh copies of the state; the table gives the median run.",
        "",
    ]
    lines += _night_table("night", [("first night (fills the ledger and the cache)", row.first),
                                    (f"incremental night (+{row.new_cases} new cases)", row.incremental),
                                    ("same night, full recomputation", row.full)],
                          {"cases": "cases", "cases checked": "checked"}, 1)
    speed = row.full.seconds / row.incremental.seconds
    return lines + ["", f"Speed-up of the incremental night: {speed:.1f}x; "
                        f"identical deviation summary (conforming cases, fitness, cases per pattern): "
                        f"{'yes' if row.identical else 'NO'}."]


def _full_night(scratch: Path, measured: dict[str, object]) -> list[str]:
    full = nights.full_night_against_pm4py(scratch / "ingestion", scratch / "full-night")
    measured["full"] = full
    lines = [
        "kaizenflow's stages as above: once from empty state (every event extracted, mapped and stored), "
        "once recomputing everything over its stored events (no case ledger, no alignment cache). The "
        "plain pm4py way has no store, so it reads the ERP again every night: pandas reads every event, "
        "`pm4py.format_dataframe`, `discover_dfg`, `discover_performance_dfg`, `get_variants`, "
        "`get_all_case_durations`, `conformance_diagnostics_alignments` against the same Petri net, and "
        "pm4py's alignment-based log fitness. Three rounds of the three, each kaizenflow night on fresh "
        "state; the table gives each contender's median run.",
        "",
    ]
    lines += _night_table("contender", [("kaizenflow, first night", full.first),
                                        ("kaizenflow, full recomputation", full.recomputed),
                                        ("plain pm4py", full.pm4py)],
                          {name: name for name in ("events", "cases", "variants")}, 1)
    first, again, plain = full.first, full.recomputed, full.pm4py
    speed = (f"first night {plain.seconds / first.seconds:.1f}x, "
             f"full recomputation {plain.seconds / again.seconds:.1f}x")
    memory = f"{first.peak_mib / plain.peak_mib:.0%} / {again.peak_mib / plain.peak_mib:.0%}"
    return lines + ["", f"Speed-up against plain pm4py: {speed}; peak memory {memory} of pm4py's; "
                        f"log fitness {plain.result['fitness']:.9f}; same events, cases, variants and "
                        f"fitness (to 1e-9): {'yes' if full.identical else 'NO'}."]


def _large_history(scratch: Path, history_events: int) -> list[str]:
    history = nights.large_history(history_events, scratch / "history")
    return _night_table(
        "night", [("first night: bulk load of the whole history, every case checked", history.first),
                  ("next night: nothing new, nothing checked again", history.next_night)],
        {"events": "events"}, 0)


def _dask(scratch: Path) -> list[str]:
    receipt = SHARED_LOGS / "receipt.xes.gz"
    model = scratch / "conformance" / "receipt-inductive.pnml"
    if not (receipt.exists() and model.exists()):
        return ["Not measured in this run: ../shared/data/logs/receipt.xes.gz is not there."]
    dask = nights.dask_against_one_process(receipt, model, scratch / "dask")
    return [
        "`kaizen run`'s flow in Prefect's embedded mode on receipt.xes.gz against its inductive-miner "
        "model, cold caches: `execution.task_runner: thread` with one worker, then `dask` with two "
        "workers (chunks of up to 60 variants).",
        "",
        "| runner | check stage | whole run | identical findings |",
        "|---|---:|---:|---|",
        f"| one thread | {dask.one.result['check_seconds']:.1f} s | {dask.one.seconds:.1f} s | |",
        f"| Dask, 2 workers | {dask.dask.result['check_seconds']:.1f} s | {dask.dask.seconds:.1f} s "
        f"| {'yes' if dask.identical else 'NO'} |",
    ]


def _floors(
    scratch: Path, checks: list[conformance.ConformanceRow], measured: dict[str, object]
) -> list[str]:
    """Each target's budget from this run's own figures, against the part of its work that no
    implementation can leave out (benchmarks/floors.py), measured the same way."""
    found = [floors.parquet_floor(row.dataset, row.parquet, row.pm4py.seconds, row.variants)
             for row in checks]
    erp = str(scratch / "ingestion" / "p2p.db")
    incremental, full = measured.get("incremental"), measured.get("full")
    if isinstance(incremental, nights.IncrementalRow):
        found.append(floors.Floor("incremental night 50x its full recomputation",
                                  incremental.full.seconds / 50,
                                  "import SQLAlchemy, connect to the ERP, ask it `SELECT 1`",
                                  floors.floor("ask-erp", erp)))
    if isinstance(full, nights.FullNightRow):
        fetched = floors.floor("fetch-erp", erp)
        found.append(floors.Floor("first night 10x the plain pm4py night", full.pm4py.seconds / 10,
                                  f"fetch the ERP's {fetched.result['events']:,} events with sqlite3 "
                                  "(no SQLAlchemy), nothing mapped or stored", fetched))
    return [
        "A budget is this run's reference figure divided by the target's factor. Each floor does only "
        "what no implementation can leave out, with none of kaizenflow's code, in a fresh process as the "
        "contenders run (median of three runs): where it alone exceeds the budget, the target cannot be "
        "met on this machine.",
        "",
        *floors.table(found),
    ]


if __name__ == "__main__":
    main()
