"""The run report page (one self-contained HTML file per run) and the report folder's index."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from kaizenflow.conformance.types import DeviationPattern, RootCause
from kaizenflow.improvement.acceptance import AcceptanceNote
from kaizenflow.improvement.types import CREATED, UNCHANGED, UPDATED, TaskChange
from kaizenflow.mining.types import Variant
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports import archive
from kaizenflow.reports.bpmn_drawing import is_bpmn_drawing
from kaizenflow.reports.cards import SPARKLINE_RUNS, Card, headline_cards
from kaizenflow.reports.case_alignments import CaseSteps, Pair, case_steps
from kaizenflow.reports.charts import KpiPoint, kpi_chart_svg
from kaizenflow.reports.formatting import (
    as_utc,
    cause_sentence,
    describe_position,
    format_count,
    format_duration,
    format_duration_delta,
    format_fitness,
    format_percent,
    format_pp_delta,
    format_seconds,
    format_utc,
    humanize,
    iso_utc,
    kind_words,
)
from kaizenflow.reports.model_overlay import DEVIATES, FITS, FITS_SO_FAR, UNCHECKED
from kaizenflow.reports.process_map import main_path, process_map_svg, top_variants_map
from kaizenflow.reports.sparkline import sparkline_svg

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
class Moment:
    """A moment as the page shows it: UTC said explicitly, ISO 8601 in ``<time datetime>``.

    The page runs no script (its Content-Security-Policy forbids them), so it cannot turn a
    moment into each reader's local time; it writes UTC with its name instead of a bare clock
    time a reader might take for their own.
    """

    iso: str
    text: str


def moment(value: datetime | None) -> Moment | None:
    return None if value is None else Moment(iso_utc(value), format_utc(value))


@dataclass(frozen=True)
class CauseRow:
    attribute: str
    value: str
    cases: str
    support: str
    lift: str
    plain: str = ""

    @property
    def sentence(self) -> str:
        """The cause in plain words, as the pattern's row shows it: "happens 3.9 times as often..."."""
        return self.plain[:1].upper() + self.plain[1:]

    @property
    def statistics(self) -> str:
        """The figures behind the sentence, for the hover title and the details table."""
        return (f"{self.attribute} = {self.value}: {self.support} of the pattern's cases ({self.cases}), "
                f"lift {self.lift}")


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
    key: str = ""  # "kind:activity", the form `kaizen tasks accept --pattern` takes
    trend: str = ""  # sparkline SVG of the pattern's cases over the nights ("" without history)
    trend_note: str = ""

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
    bar: float = 0.0  # bar length in % of the chart, the largest variant filling it
    verdict: str = UNCHECKED

    @property
    def verdict_code(self) -> str:
        return {FITS: "fits", FITS_SO_FAR: "so-far", DEVIATES: "deviates"}.get(self.verdict, "unchecked")


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
    chart: str = ""  # the KPI over the nights, inline SVG from numbers ("" without a figure)
    changed: Moment | None = None


def _cause(cause: RootCause) -> CauseRow:
    return CauseRow(
        cause.attribute,
        cause.value,
        format_count(cause.cases),
        format_percent(cause.support, 0),
        f"{cause.lift:.1f}\u00d7",
        cause_sentence(cause.attribute, cause.value, cause.lift),
    )


def _pattern_trend(pattern: DeviationPattern, past: Sequence[archive.IndexEntry]) -> tuple[str, str]:
    """A sparkline of the pattern's cases over the earlier nights and this one, and its reading."""
    if not past:
        return "", ""
    recent = list(past)[-(SPARKLINE_RUNS - 1):]
    series: list[float | None] = [
        float(e.patterns.get(pattern.key, 0)) if e.patterns else None for e in recent
    ]
    series.append(float(pattern.cases))
    known = [v for v in series if v is not None]
    if len(known) < 2:
        return "", ""
    return sparkline_svg(series), f"cases over the last {len(series)} runs: " + ", ".join(
        "?" if v is None else format_count(int(v)) for v in series)


def pattern_rows(
    patterns: Sequence[DeviationPattern],
    case_alignments: Mapping[str, Sequence[Pair]] | None = None,
    past: Sequence[archive.IndexEntry] = (),
) -> list[PatternRow]:
    """Largest patterns first; root causes keep the order the pattern analysis ranked them in.

    Example cases with an entry in ``case_alignments`` carry their alignment, so an owner can
    see where in the case the deviation happened, not only that it did.
    """
    alignments = case_alignments or {}
    rows = []
    for pattern in sorted(patterns, key=lambda p: -p.cases):
        causes = tuple(_cause(c) for c in pattern.root_causes)
        trend, trend_note = _pattern_trend(pattern, past)
        rows.append(
            PatternRow(
                kind=kind_words(pattern.kind),
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
                key=pattern.key,
                trend=trend,
                trend_note=trend_note,
            )
        )
    return rows


def _extra_cost(pattern: DeviationPattern) -> str:
    if pattern.extra_cost_median is None or pattern.extra_cost_total is None:
        return ""
    return (f"{pattern.extra_cost_median:+,.2f} a case (median against conforming cases), "
            f"{pattern.extra_cost_total:+,.2f} in all")


def variant_rows(
    variants: Sequence[Variant],
    limit: int = MAX_VARIANTS,
    verdicts: Mapping[tuple[str, ...], str] | None = None,
) -> list[VariantRow]:
    """The most frequent variants as bars, each marked whether it follows the model.

    The long tail of one-off variants says little to an owner. ``verdicts`` come from
    :func:`reports.model_overlay.variant_verdicts`; a variant without one is "not checked".
    """
    ranked = sorted(variants, key=lambda v: -v.cases)[:limit]
    largest = max((v.cases for v in ranked), default=0)
    known = verdicts or {}
    return [
        VariantRow(
            rank,
            v.activities,
            format_count(v.cases),
            format_percent(v.share),
            format_duration(v.median_throughput_hours),
            round(100 * v.cases / largest, 1) if largest else 0.0,
            known.get(v.activities, UNCHECKED),
        )
        for rank, v in enumerate(ranked, start=1)
    ]


def _kpi_points(change: TaskChange, finished: datetime, past: Sequence[archive.IndexEntry]) -> list[KpiPoint]:
    """The task's KPI on each earlier night the folder recorded it, then tonight's."""
    points = []
    for entry in past:
        figure = next((f for f in entry.tasks if f.task_id == change.task.task_id), None)
        if figure is not None:
            points.append(KpiPoint(entry.finished_at, figure.kpi, figure.changed_at is not None))
    points.append(KpiPoint(as_utc(finished), change.task.current_value, change.task.changed_at is not None))
    return points


def task_rows(
    changes: Sequence[TaskChange],
    finished: datetime | None = None,
    past: Sequence[archive.IndexEntry] = (),
) -> list[TaskRow]:
    """New tasks first, then updated ones, then the unchanged: what needs attention leads.

    With ``finished`` (the run's end) each task gets its KPI chart: the earlier nights'
    figures from the report folder's sidecars (``past``), tonight's, the baseline, the
    target, and the day the change was marked made.
    """
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
            chart="" if finished is None else kpi_chart_svg(
                _kpi_points(c, finished, past), c.task.baseline_value, c.task.target_value,
                c.task.changed_at, c.task.kpi_name),
            changed=moment(c.task.changed_at),
        )
        for c in ordered
    ]


def _manifest(summary: RunSummary) -> dict[str, object]:
    seconds = (summary.finished_at - summary.started_at).total_seconds()
    return {
        "model_name": summary.model_name,
        "model_hash": summary.model_hash,
        "config_hash": summary.config_hash,
        "started": moment(summary.started_at),
        "finished": moment(summary.finished_at),
        "duration": format_seconds(seconds),
        "software": sorted(summary.software.items()),
        "stages": [(name, format_seconds(s)) for name, s in summary.stage_seconds.items()],
        "stages_total": format_seconds(sum(summary.stage_seconds.values())),
    }


_MAP_VIEW_KEYS = ("map_svg", "top_map_svg", "main_path_share", "top_map_cases", "top_map_share", "map_wide")
#: A drawing at least this wide (CSS px, at the smallest scale its text allows) outgrows the page.
_PAGE_WIDTH = 1100
_MIN_WIDTH = re.compile(r'min-width:([0-9.]+)px')


def _wider_than_page(svg: str) -> bool:
    found = _MIN_WIDTH.search(svg[: svg.find(">") + 1])
    return found is not None and float(found.group(1)) > _PAGE_WIDTH


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
    every_path = process_map_svg(summary.process_map, MAX_MAP_EDGES, main)
    return {
        "map_svg": every_path,
        "map_wide": _wider_than_page(every_path),
        "top_map_svg": top,
        "main_path_share": format_percent(leader.share) if leader and len(leader.activities) > 1 else "",
        "top_map_cases": format_count(kept_cases),
        "top_map_share": format_percent(kept_cases / summary.cases) if summary.cases else "",
    }


def _accepted_rows(summary: RunSummary) -> list[dict[str, object]]:
    """Accepted patterns as the page lists them, with who accepted each, why and until when (the
    earliest expiry where several acceptances cover one pattern, e.g. for two plants); an
    acceptance in force that set nothing aside tonight is listed with no cases."""
    notes: dict[str, list[AcceptanceNote]] = {}
    for note in summary.acceptances:
        notes.setdefault(note.pattern_key, []).append(note)
    rows = [_accepted_row(p.kind, p.activity, p.key, p.cases, notes.get(p.key, []))
            for p in summary.accepted_patterns]
    shown = {p.key for p in summary.accepted_patterns}
    for key, group in notes.items():
        if key not in shown:
            kind, _, activity = key.partition(":")
            rows.append(_accepted_row(kind, activity, key, 0, group))
    return rows


def _accepted_row(
    kind: str, activity: str, key: str, cases: int, group: list[AcceptanceNote]
) -> dict[str, object]:
    return {
        "kind": kind_words(kind),
        "activity": activity,
        "key": key,
        "cases": format_count(cases),
        "by": ", ".join(sorted({note.accepted_by for note in group})),
        "reason": "; ".join(note.reason + (f" ({note.business_object})" if note.business_object else "")
                            for note in group),
        "until": moment(min(note.expires_at for note in group)) if group else None,
    }


def render_run_report(
    summary: RunSummary,
    history: list[RunSummary] | None = None,
    model_svg: str | None = None,
    case_alignments: dict[str, list[tuple[str | None, str | None]]] | None = None,
    past: Sequence[archive.IndexEntry] = (),
    variant_fit: Mapping[tuple[str, ...], str] | None = None,
) -> str:
    """The complete report of one run as one HTML page with all CSS and SVG inline.

    Nothing is fetched when the page opens (no fonts, scripts, images or styles from a
    network), so it reads the same from a mail attachment on a plane. ``history`` holds
    earlier runs of the same process, oldest first, for the changes and sparklines.

    ``model_svg`` is the designed model with its deviations, as
    :func:`reports.model_overlay.designed_model_svg` draws it; it is inserted as it is, so it
    must come from there (escaped labels only), never from elsewhere.
    ``case_alignments`` maps case ids to their alignment as (log, model) activity pairs;
    pattern examples found in it show their steps. ``past`` holds the earlier runs of the
    process as the report folder's sidecars recorded them, oldest first: the patterns' trend
    lines and the tasks' KPI charts are drawn from them. ``variant_fit`` says per variant
    whether it follows the model (:func:`reports.model_overlay.variant_verdicts`). All are
    optional: without them the report has no model section, plain example chips, no trend
    lines, one-night KPI charts and variants marked "not checked".
    """
    edges = len(summary.process_map.edges)
    cards: list[Card] = headline_cards(summary, history)
    patterns = pattern_rows(summary.patterns, case_alignments, past)
    return _ENVIRONMENT.get_template("run_report.html.j2").render(
        process=summary.process,
        run_id=summary.run_id,
        finished=moment(summary.finished_at),
        model_name=summary.model_name,
        cards=cards,
        sparkline_runs=min(len(history), SPARKLINE_RUNS - 1) + 1 if history else 0,
        patterns=patterns,
        pattern_runs=any(row.trend for row in patterns),
        model_svg=model_svg or "",
        model_is_bpmn=is_bpmn_drawing(model_svg or ""),
        top_map_variants=TOP_MAP_VARIANTS,
        **_map_views(summary),
        map_note=(
            f"Showing the {MAX_MAP_EDGES} most frequent of {format_count(edges)} transitions."
            if edges > MAX_MAP_EDGES
            else ""
        ),
        variants=variant_rows(summary.variants, verdicts=variant_fit),
        variant_count=len(summary.variants),
        variants_checked=variant_fit is not None,
        tasks=task_rows(summary.task_changes, summary.finished_at, past),
        accepted=_accepted_rows(summary),
        sources=[(name, words, moment(at)) for name, (words, at) in
                 sorted((n, describe_position(p)) for n, p in summary.source_watermarks.items())],
        acceptance_effect=summary.acceptance_effect.describe() if summary.acceptance_effect else "",
        drift=summary.drift,
        manifest=_manifest(summary),
    )


@dataclass(frozen=True)
class ProcessTile:
    """One process on the index: its latest run, conformance trend and open tasks."""

    process: str
    latest: Moment
    run_id: str
    href: str | None
    cases: str
    conforming: str
    fitness: str
    trend: str
    trend_note: str
    delta: str
    tone: str
    open_tasks: int
    runs: int


def _tile(runs: Sequence[archive.IndexEntry]) -> ProcessTile:
    """``runs`` newest first, all of one process."""
    latest = runs[0]
    series = [e.conforming_share for e in reversed(runs[:SPARKLINE_RUNS])]
    delta, tone = "", "neutral"
    if len(runs) > 1:
        change = round((latest.conforming_share - runs[1].conforming_share) * 100, 1)
        delta = f"{format_pp_delta(change / 100)} since the run before"
        tone = "good" if change > 0 else "bad" if change < 0 else "neutral"
    return ProcessTile(
        process=latest.process,
        latest=Moment(iso_utc(latest.finished_at), format_utc(latest.finished_at)),
        run_id=latest.run_id,
        href=latest.href,
        cases=format_count(latest.cases),
        conforming=format_percent(latest.conforming_share),
        fitness=format_fitness(latest.fitness),
        trend=sparkline_svg(series, width=160, height=36),
        trend_note=f"conforming cases over the last {len(series)} runs, oldest first: "
        + ", ".join(format_percent(value) for value in series),
        delta=delta,
        tone=tone,
        open_tasks=sum(1 for t in latest.tasks if t.is_open),
        runs=len(runs),
    )


def render_index(directory: Path) -> str:
    """The index page of a report folder: a tile per process, then every run, newest first."""
    found = archive.index_entries(directory)
    by_process: dict[str, list[archive.IndexEntry]] = {}
    for entry in found:
        by_process.setdefault(entry.process, []).append(entry)
    tiles = sorted((_tile(runs) for runs in by_process.values()), key=lambda t: t.process.lower())
    entries = [
        {
            "process": e.process,
            "run_id": e.run_id,
            "finished": Moment(iso_utc(e.finished_at), format_utc(e.finished_at)),
            "cases": format_count(e.cases),
            "conforming": format_percent(e.conforming_share),
            "fitness": format_fitness(e.fitness),
            "href": e.href,
        }
        for e in found
    ]
    return _ENVIRONMENT.get_template("index.html.j2").render(entries=entries, tiles=tiles)


def write_run_report(
    summary: RunSummary,
    directory: Path,
    history: list[RunSummary] | None = None,
    model_svg: str | None = None,
    case_alignments: dict[str, list[tuple[str | None, str | None]]] | None = None,
    variant_fit: Mapping[tuple[str, ...], str] | None = None,
) -> Path:
    """Write ``<directory>/<process-slug>/<run_id>.html``, its sidecar, and refresh the index.

    Each file is replaced atomically, so a mail job or a web server picking up the folder
    never reads a half-written page. The index is rebuilt from all sidecars in the folder,
    which keeps it right even when runs of several processes write into the same folder.
    The earlier runs' sidecars also give the report its trend lines and KPI charts.
    Returns the path of the run's report. ``model_svg``, ``case_alignments`` and
    ``variant_fit`` are passed on to :func:`render_run_report`.
    """
    directory = Path(directory)
    folder = directory / archive.process_slug(summary.process)
    report = folder / f"{archive.run_file_stem(summary.run_id)}.html"
    past = archive.earlier_runs(directory, summary.process, summary.run_id)
    page = render_run_report(summary, history, model_svg, case_alignments, past, variant_fit)
    archive.write_atomically(report, page)
    record = archive.sidecar_record(summary, report, directory)
    archive.write_atomically(report.with_suffix(".json"), json.dumps(record, indent=2) + "\n")
    archive.write_atomically(directory / archive.INDEX_NAME, render_index(directory))
    return report
