"""The run report page (one self-contained HTML file per run) and the report folder's index."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kaizenflow.conformance.types import DeviationPattern, RootCause
from kaizenflow.improvement.types import CREATED, UNCHANGED, UPDATED, TaskChange
from kaizenflow.mining.types import Variant
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports import archive
from kaizenflow.reports.cards import SPARKLINE_RUNS, Card, headline_cards
from kaizenflow.reports.case_alignments import CaseSteps, Pair, case_steps
from kaizenflow.reports.formatting import (
    format_count,
    format_duration,
    format_duration_delta,
    format_fitness,
    format_percent,
    format_seconds,
    format_utc,
    humanize,
)
from kaizenflow.reports.process_map import main_path, process_map_svg, top_variants_map

TEMPLATES = Path(__file__).parent / "templates"
MAX_VARIANTS = 15
MAX_MAP_EDGES = 60
#: The filtered map view: the few variants most cases follow, without the long tail.
TOP_MAP_VARIANTS = 5
TOP_ROOT_CAUSES = 2
_CHANGE_ORDER = {CREATED: 0, UPDATED: 1, UNCHANGED: 2}


def make_environment() -> Environment:
    """The Jinja environment of the reports.

    Autoescaping is on for every template (the ".html.j2" names would not match the default
    extension list) because every string in a report comes from event data. StrictUndefined
    turns a misspelt variable into an error instead of a silently empty cell.
    """
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(
            enabled_extensions=("html", "xml", "j2"), default_for_string=True, default=True
        ),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


_ENVIRONMENT = make_environment()


@dataclass(frozen=True)
class CauseRow:
    attribute: str
    value: str
    cases: str
    support: str
    lift: str

    @property
    def sentence(self) -> str:
        """The one-line reading of a cause used in the table's "top root causes" column."""
        return " \u00b7 ".join(
            (f"{self.attribute} = {self.value}", f"{self.support} of cases", f"lift {self.lift}")
        )


@dataclass(frozen=True)
class PatternRow:
    kind: str
    activity: str
    cases: str
    share: str
    extra_median: str
    extra_p90: str
    top_causes: tuple[str, ...]
    causes: tuple[CauseRow, ...]
    examples: tuple[str, ...]
    alignments: tuple[CaseSteps, ...] = ()
    extra_cost: str = ""  # "" when the process has no cost attribute

    @property
    def unaligned(self) -> tuple[str, ...]:
        """Example cases without an alignment to show: they are listed as plain chips."""
        shown = {case.case_id for case in self.alignments}
        return tuple(case_id for case_id in self.examples if case_id not in shown)


@dataclass(frozen=True)
class VariantRow:
    rank: int
    activities: tuple[str, ...]
    cases: str
    share: str
    median: str


@dataclass(frozen=True)
class TaskRow:
    change: str
    change_code: str
    title: str
    business_object: str
    owner: str
    kpi_name: str
    baseline: str
    current: str
    target: str
    status: str


def _cause(cause: RootCause) -> CauseRow:
    return CauseRow(
        cause.attribute,
        cause.value,
        format_count(cause.cases),
        format_percent(cause.support, 0),
        f"{cause.lift:.1f}\u00d7",
    )


def pattern_rows(
    patterns: Sequence[DeviationPattern], case_alignments: Mapping[str, Sequence[Pair]] | None = None
) -> list[PatternRow]:
    """Largest patterns first; root causes keep the order the pattern analysis ranked them in.

    Example cases with an entry in ``case_alignments`` carry their alignment, so an owner can
    see where in the case the deviation happened, not only that it did.
    """
    alignments = case_alignments or {}
    rows = []
    for pattern in sorted(patterns, key=lambda p: -p.cases):
        causes = tuple(_cause(c) for c in pattern.root_causes)
        rows.append(
            PatternRow(
                kind=humanize(pattern.kind),
                activity=pattern.activity,
                cases=format_count(pattern.cases),
                share=format_percent(pattern.share),
                extra_median=format_duration_delta(pattern.extra_throughput_median_hours),
                extra_p90=format_duration_delta(pattern.extra_throughput_p90_hours),
                top_causes=tuple(c.sentence for c in causes[:TOP_ROOT_CAUSES]),
                causes=causes,
                examples=pattern.example_case_ids,
                alignments=case_steps(pattern.example_case_ids, alignments),
                extra_cost=_extra_cost(pattern),
            )
        )
    return rows


def _extra_cost(pattern: DeviationPattern) -> str:
    if pattern.extra_cost_median is None or pattern.extra_cost_total is None:
        return ""
    return (f"{pattern.extra_cost_median:+,.2f} a case (median against conforming cases), "
            f"{pattern.extra_cost_total:+,.2f} in all")


def variant_rows(variants: Sequence[Variant], limit: int = MAX_VARIANTS) -> list[VariantRow]:
    """The most frequent variants; the long tail of one-off variants says little to an owner."""
    ranked = sorted(variants, key=lambda v: -v.cases)[:limit]
    return [
        VariantRow(
            rank,
            v.activities,
            format_count(v.cases),
            format_percent(v.share),
            format_duration(v.median_throughput_hours),
        )
        for rank, v in enumerate(ranked, start=1)
    ]


def task_rows(changes: Sequence[TaskChange]) -> list[TaskRow]:
    """New tasks first, then updated ones, then the unchanged: what needs attention leads."""
    ordered = sorted(changes, key=lambda c: _CHANGE_ORDER.get(c.change, len(_CHANGE_ORDER)))
    return [
        TaskRow(
            change=humanize(c.change),
            change_code=c.change if c.change in _CHANGE_ORDER else "other",
            title=c.task.title,
            business_object=c.task.business_object or "\u2014",
            owner=c.task.owner,
            kpi_name=c.task.kpi_name,
            baseline=format_percent(c.task.baseline_value),
            current=format_percent(c.task.current_value),
            target=format_percent(c.task.target_value),
            status=humanize(c.task.status),
        )
        for c in ordered
    ]


def _manifest(summary: RunSummary) -> dict[str, object]:
    seconds = (summary.finished_at - summary.started_at).total_seconds()
    return {
        "model_name": summary.model_name,
        "model_hash": summary.model_hash,
        "config_hash": summary.config_hash,
        "started": format_utc(summary.started_at),
        "finished": format_utc(summary.finished_at),
        "duration": format_seconds(seconds),
        "software": sorted(summary.software.items()),
        "stages": [(name, format_seconds(s)) for name, s in summary.stage_seconds.items()],
        "stages_total": format_seconds(sum(summary.stage_seconds.values())),
    }


_MAP_VIEW_KEYS = ("map_svg", "top_map_svg", "main_path_share", "top_map_cases", "top_map_share")


def _map_views(summary: RunSummary) -> dict[str, object]:
    """The map drawn twice: every path, and only the top variants' cases; the main path bold.

    The filtered view is only offered when it leaves something out (more variants than it
    keeps): otherwise both views would be the same picture.
    """
    if not summary.process_map.activities:
        return dict.fromkeys(_MAP_VIEW_KEYS, "")
    main = main_path(summary.variants)
    top = ""
    if len(summary.variants) > TOP_MAP_VARIANTS:
        top = process_map_svg(top_variants_map(summary.variants, TOP_MAP_VARIANTS), MAX_MAP_EDGES, main)
    leader = max(summary.variants, key=lambda v: v.cases, default=None)
    kept = sorted(summary.variants, key=lambda v: -v.cases)[:TOP_MAP_VARIANTS]
    kept_cases = sum(v.cases for v in kept)
    return {
        "map_svg": process_map_svg(summary.process_map, MAX_MAP_EDGES, main),
        "top_map_svg": top,
        "main_path_share": format_percent(leader.share) if leader and len(leader.activities) > 1 else "",
        "top_map_cases": format_count(kept_cases),
        "top_map_share": format_percent(kept_cases / summary.cases) if summary.cases else "",
    }


def render_run_report(
    summary: RunSummary,
    history: list[RunSummary] | None = None,
    model_svg: str | None = None,
    case_alignments: dict[str, list[tuple[str | None, str | None]]] | None = None,
) -> str:
    """The complete report of one run as one HTML page with all CSS and SVG inline.

    Nothing is fetched when the page opens (no fonts, scripts, images or styles from a
    network), so it reads the same from a mail attachment on a plane. ``history`` holds
    earlier runs of the same process, oldest first, for the changes and sparklines.

    ``model_svg`` is the designed model with its deviations, as
    :func:`reports.model_overlay.designed_model_svg` draws it; it is inserted as it is, so it
    must come from there (Graphviz output of escaped labels), never from elsewhere.
    ``case_alignments`` maps case ids to their alignment as (log, model) activity pairs;
    pattern examples found in it show their steps. Both are optional: without them the
    report simply has no model section and plain example chips.
    """
    edges = len(summary.process_map.edges)
    cards: list[Card] = headline_cards(summary, history)
    return _ENVIRONMENT.get_template("run_report.html.j2").render(
        process=summary.process,
        run_id=summary.run_id,
        finished=format_utc(summary.finished_at),
        model_name=summary.model_name,
        cards=cards,
        sparkline_runs=min(len(history), SPARKLINE_RUNS - 1) + 1 if history else 0,
        patterns=pattern_rows(summary.patterns, case_alignments),
        model_svg=model_svg or "",
        top_map_variants=TOP_MAP_VARIANTS,
        **_map_views(summary),
        map_note=(
            f"Showing the {MAX_MAP_EDGES} most frequent of {format_count(edges)} transitions."
            if edges > MAX_MAP_EDGES
            else ""
        ),
        variants=variant_rows(summary.variants),
        variant_count=len(summary.variants),
        tasks=task_rows(summary.task_changes),
        accepted=[
            {"kind": p.kind.replace("_", " ").capitalize(), "activity": p.activity,
             "cases": format_count(p.cases)}
            for p in summary.accepted_patterns
        ],
        sources=sorted(summary.source_watermarks.items()),
        drift=summary.drift,
        manifest=_manifest(summary),
    )


def render_index(directory: Path) -> str:
    """The index page of a report folder: every run with a sidecar, newest first."""
    entries = [
        {
            "process": e.process,
            "run_id": e.run_id,
            "finished": format_utc(e.finished_at),
            "cases": format_count(e.cases),
            "conforming": format_percent(e.conforming_share),
            "fitness": format_fitness(e.fitness),
            "href": e.href,
        }
        for e in archive.index_entries(directory)
    ]
    return _ENVIRONMENT.get_template("index.html.j2").render(entries=entries)


def write_run_report(
    summary: RunSummary,
    directory: Path,
    history: list[RunSummary] | None = None,
    model_svg: str | None = None,
    case_alignments: dict[str, list[tuple[str | None, str | None]]] | None = None,
) -> Path:
    """Write ``<directory>/<process-slug>/<run_id>.html``, its sidecar, and refresh the index.

    Each file is replaced atomically, so a mail job or a web server picking up the folder
    never reads a half-written page. The index is rebuilt from all sidecars in the folder,
    which keeps it right even when runs of several processes write into the same folder.
    Returns the path of the run's report. ``model_svg`` and ``case_alignments`` are passed
    on to :func:`render_run_report`.
    """
    directory = Path(directory)
    folder = directory / archive.process_slug(summary.process)
    report = folder / f"{archive.run_file_stem(summary.run_id)}.html"
    archive.write_atomically(report, render_run_report(summary, history, model_svg, case_alignments))
    record = archive.sidecar_record(summary, report, directory)
    archive.write_atomically(report.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    archive.write_atomically(directory / archive.INDEX_NAME, render_index(directory))
    return report
