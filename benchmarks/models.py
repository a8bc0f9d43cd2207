"""Large and hostile models (issues 23 and 24): loading, soundness and a first check, bounded."""

from __future__ import annotations

from pathlib import Path

from benchmarks.measure import Measurement, run_contender
from benchmarks.model_generators import (
    branch_activities,
    doubling_calls_bpmn,
    nested_subprocess_bpmn,
    parallel_bpmn,
    prom_concurrent_pnml,
)

TITLE = "Models: large concurrent nets and hostile BPMN (load, soundness, one conforming case)"


def load_and_check(path: str, *trace: str) -> dict[str, object]:
    """Load the model; align the trace (or only the model's cheapest run when there is none)."""
    from kaizenflow.conformance.alignments import align_variants
    from kaizenflow.conformance.models import ModelError, load_model

    try:
        model = load_model(Path(path))
    except ModelError as error:
        return {"outcome": "refused: " + str(error).split(": ", 1)[1]}
    aligned = align_variants(model, [(tuple(trace), 1)] if trace else [], timeout_seconds=120)
    fitness = f", fitness {aligned[0].fitness}" if aligned else ""
    return {"outcome": f"{model.soundness.split(' (')[0]} ({len(model.net.places)} places){fitness}"}


CONTENDERS = {"kaizenflow": load_and_check}


def cases(scratch: Path) -> list[tuple[str, Path, tuple[str, ...]]]:
    scratch.mkdir(parents=True, exist_ok=True)
    written: list[tuple[str, Path, tuple[str, ...]]] = []

    def write(name: str, text: str, description: str, trace: tuple[str, ...] = ()) -> None:
        path = scratch / name
        path.write_text(text, encoding="iso-8859-1" if name.endswith(".pnml") else "utf-8")
        written.append((description, path, trace))

    for branches in (20, 30):
        write(f"parallel_{branches}.bpmn", parallel_bpmn(branches),
              f"BPMN, {branches} parallel branches of 2 tasks",
              tuple(f"Branch {b} step {s}" for b in range(branches) for s in range(2)))
    for branches in (14, 20):
        conforming = ("Open", *(a for b in range(branches) for a in branch_activities(b)), "Close")
        write(f"prom_{branches}.pnml", prom_concurrent_pnml(branches),
              f"ProM PNML, {branches} parallel branches with choices and loops",
              conforming if branches == 14 else ())
    write("nested_1200.bpmn", nested_subprocess_bpmn(1200), "BPMN, 1,200 nested sub-processes")
    for levels in (16, 24):
        write(f"doubling_{levels}.bpmn", doubling_calls_bpmn(levels),
              f"BPMN, processes calling the next twice, {levels} levels")
    return written


def section(scratch: Path) -> list[str]:
    lines = [
        "Each model is loaded in a fresh process (soundness decided, the model's cheapest run searched) and, "
        "where a trace is given, one conforming case is aligned. Issue 24 reported, before: the 20-branch "
        "BPMN took 38 s and 1.9 GB to be refused as \"final marking cannot be reached\", the 30-branch one "
        "ended in MemoryError, 1,200 nested sub-processes in RecursionError, and the doubling calls hung.",
        "",
        "| model | file | outcome | seconds | peak memory |",
        "|---|---:|---|---:|---:|",
    ]
    for description, path, trace in cases(scratch):
        measured: Measurement = run_contender("benchmarks.models", "kaizenflow", str(path), *trace,
                                              timeout=900)
        lines.append(f"| {description} | {path.stat().st_size / 1024:,.0f} KB | {measured.result['outcome']} "
                     f"| {measured.seconds:.2f} | {measured.peak_mib:,.0f} MiB |")
    return lines


if __name__ == "__main__":
    print("\n".join([f"## {TITLE}", "", *section(Path("/tmp/kaizen-bench/models"))]))
