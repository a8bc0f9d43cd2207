"""One-off commands on any log file, no configuration needed: check, inspect and map."""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer

if TYPE_CHECKING:  # at run time imported where needed: `kaizen --help` stays fast
    from kaizenflow.core.events import CaseCost, EventLog
    from kaizenflow.sources.bending import ReadWarning

LogArgument = Annotated[Path, typer.Argument(help="event log: CSV, Parquet, XES, XES.gz or OCEL 2.0")]
ObjectTypeOption = Annotated[
    str | None, typer.Option("--object-type", help="OCEL 2.0 logs: the object type a case is")
]
StrictOption = Annotated[bool, typer.Option(
    "--strict", help="refuse what a lenient read bends (XES: undeclared prefixes, keyless attributes, ...)")]


class CostPer(StrEnum):
    event = "event"
    case = "case"


def _read(path: Path, object_type: str | None, cost: CaseCost | None = None) -> EventLog:
    from kaizenflow.api import read_log

    if cost is None:
        return read_log(path, object_type=object_type)
    return read_log(path, object_type=object_type, cost_attribute=cost.attribute, cost_per=cost.per)


def _load(path: Path, object_type: str | None, cost: CaseCost | None = None,
          strict: bool = False) -> tuple[EventLog, tuple[ReadWarning, ...]]:
    """The log of a file and what its reader bent to load it (see docs/compatibility.md)."""
    from kaizenflow.sources.files import events_to_log, load_events_file, load_log_file

    options: dict[str, object] = {"source": path.name}
    if object_type:
        options["object_type"] = object_type
    if cost is None:
        return load_log_file(path, strict=strict, **options)
    loaded = load_events_file(path, None, strict=strict, **options)
    return events_to_log(loaded.events, cost), loaded.warnings


def _start_reading(path: Path) -> None:
    """An XES file's safety pass begins now, on a thread, while the command imports its readers."""
    if path.name.lower().endswith((".xes", ".xes.gz")):
        from kaizenflow.sources.xes_scan import start

        start(path)


def read_warning_lines(warnings: tuple[ReadWarning, ...]) -> list[str]:
    """What the reader bent, one line each, for people."""
    return [f"  read warning ({w.code}): {w.line()}" for w in warnings]


def check(
    log: Annotated[Path, typer.Option("--log", help="event log file")],
    model: Annotated[Path, typer.Option("--model", help="designed model: BPMN, PNML or PTML")],
    object_type: ObjectTypeOption = None,
    cost_attribute: Annotated[str | None, typer.Option(
        "--cost-attribute", help="numeric attribute whose sum over a case's events is its cost")] = None,
    cost_per: Annotated[CostPer, typer.Option(
        "--cost-per", help="case: the attribute is the case's cost, not summed")] = CostPer.event,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    strict: StrictOption = False,
) -> None:
    """Check any log against any model: fitness, precision, conforming cases and patterns."""
    _start_reading(log)
    from kaizenflow.conformance.check import check_log
    from kaizenflow.conformance.models import load_model
    from kaizenflow.conformance.patterns import result_patterns
    from kaizenflow.conformance.precision import variant_precision
    from kaizenflow.core.events import CaseCost
    from kaizenflow.mining.discovery import case_throughput_hours

    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"
    per: Literal["event", "case"] = "case" if cost_per is CostPer.case else "event"
    cost = CaseCost(cost_attribute, per) if cost_attribute else None
    events, read_warnings = _load(log, object_type, cost, strict)
    designed = load_model(model)
    # a one-off log is a closed export: no case is still running
    result = check_log(events, designed, open_case_horizon_days=1e-9)
    patterns = result_patterns(result, events.case_attributes, case_throughput_hours(events),
                               case_costs=events.case_costs)
    figures = {
        "log": str(log),
        "model": str(model),
        "cases": result.cases,
        "events": events.event_count,
        "conforming_cases": result.conforming_cases,
        "conforming_share": result.conforming_share,
        "fitness": result.fitness,
        "precision": variant_precision(
            designed, {a.activities: a.cases for a in result.alignments}).value,
        "unchecked_cases": result.unchecked_cases,
        "has_timestamps": events.has_timestamps,
        "patterns": [
            {"kind": p.kind, "activity": p.activity, "cases": p.cases, "share": p.share,
             "extra_throughput_median_hours": p.extra_throughput_median_hours,
             **({"extra_cost_median": p.extra_cost_median, "extra_cost_p90": p.extra_cost_p90,
                 "extra_cost_total": p.extra_cost_total} if cost else {})}
            for p in patterns
        ],
        "read_warnings": [w.to_dict() for w in read_warnings],
        "model_warnings": list(designed.warnings),
    }
    if as_json:
        typer.echo(json.dumps(figures, indent=2))
        return
    fitness = "n/a" if result.fitness is None else f"{result.fitness:.4f}"
    typer.echo(f"{log.name} against {model.name}: {result.cases:,} cases, {events.event_count:,} events")
    typer.echo(f"  fitness {fitness}, precision {figures['precision']:.4f}")
    typer.echo(f"  conforming cases {result.conforming_cases:,} ({result.conforming_share:.1%})")
    for p in patterns[:10]:
        extra = (f"  extra cost {p.extra_cost_median:+,.2f} median, {p.extra_cost_total:+,.2f} in all"
                 if p.extra_cost_median is not None and p.extra_cost_total is not None else "")
        typer.echo(f"  {p.kind:<22} {p.activity:<40} {p.cases:>6,} ({p.share:.1%}){extra}")
    for line in read_warning_lines(read_warnings):
        typer.echo(line)
    for warning in designed.warnings:
        typer.echo(f"  model warning: {warning}")


def inspect(
    log: LogArgument,
    object_type: ObjectTypeOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
    strict: StrictOption = False,
) -> None:
    """Profile a log: cases, events, activities, variants, time span, attributes and warnings."""
    _start_reading(log)
    from kaizenflow.mining.profile import profile_log

    events, read_warnings = _load(log, object_type, strict=strict)
    profile = profile_log(events)
    if as_json:
        figures = profile.to_dict() | {"read_warnings": [w.to_dict() for w in read_warnings]}
        typer.echo(json.dumps(figures, indent=2, default=str))
        return
    typer.echo("\n".join(profile_lines(log.name, profile) + read_warning_lines(read_warnings)))


def profile_lines(name: str, profile: Any) -> list[str]:
    """``kaizen inspect`` for people: the sizes on one line, then a table of the attributes."""
    sizes = {"cases": profile.cases, "events": profile.events, "activities": profile.activities,
             "variants": profile.variants, "resources": profile.resources}
    lines = [f"{name}: " + ", ".join(f"{count:,} {what}" for what, count in sizes.items())]
    if profile.has_timestamps:
        span = f" ({profile.span_days:,.1f} days)" if profile.span_days is not None else ""
        lines.append(f"  from {profile.first_timestamp} to {profile.last_timestamp}{span}"
                     + ("; events have start times" if profile.has_start_times else ""))
    else:
        lines.append("  no timestamps: events are ordered as in the file, timing figures are unavailable")
    if profile.attributes:
        width = max(len("attribute"), *(len(a.name) for a in profile.attributes))
        lines.append(f"  {'attribute':<{width}}  level  type         distinct  missing  examples")
        lines += [f"  {a.name:<{width}}  {a.level:<5}  {a.inferred_type:<11}  {a.cardinality:>8,}  "
                  f"{a.missing:>7,}  {', '.join(a.examples)}" for a in profile.attributes]
    lines += [f"  warning ({w.code}): {w.message}" for w in profile.warnings]
    return lines


def draw_map(
    log: LogArgument,
    out: Annotated[Path, typer.Option("--out", help="SVG file to write")],
    object_type: ObjectTypeOption = None,
    coverage: Annotated[
        float, typer.Option(min=0.05, max=1.0, help="keep paths covering this share of cases")
    ] = 1.0,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Draw a log's process map (directly-follows graph) as SVG."""
    from kaizenflow.mining.discovery import discover_process_map, discover_variants
    from kaizenflow.mining.process_map import simplify_process_map
    from kaizenflow.reports.archive import output_problem, write_atomically
    from kaizenflow.reports.process_map import process_map_svg

    problem = output_problem(out)  # before reading: a wrong --out should not cost the read
    if problem:
        typer.echo(f"kaizen: error: --out {problem}", err=True)
        raise typer.Exit(code=1)
    events = _read(log, object_type)
    process_map = discover_process_map(events)
    if coverage < 1.0:
        process_map = simplify_process_map(process_map, coverage, discover_variants(events)).process_map
    write_atomically(out, process_map_svg(process_map))
    if as_json:
        typer.echo(json.dumps({"log": str(log), "out": str(out), "coverage": coverage,
                               "activities": len(process_map.activities),
                               "edges": len(process_map.edges)}, indent=2))
        return
    typer.echo(f"process map of {log.name} written to {out}")


def register(app: typer.Typer, reported: Any) -> None:
    app.command("check")(reported(check))
    app.command("inspect")(reported(inspect))
    app.command("map")(reported(draw_map))
