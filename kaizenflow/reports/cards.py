"""The headline cards of a run report: figures, change since the previous run, sparklines."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports.formatting import (
    format_count,
    format_count_delta,
    format_duration,
    format_duration_delta,
    format_fitness,
    format_fitness_delta,
    format_percent,
    format_pp_delta,
)
from kaizenflow.reports.sparkline import sparkline_svg

#: How many runs a sparkline spans, the current one included: about two weeks of nightly runs.
SPARKLINE_RUNS = 14

NO_TIMESTAMPS = "n/a \u2014 the log has no timestamps"

HIGHER_IS_BETTER = 1
LOWER_IS_BETTER = -1
NEUTRAL = 0


@dataclass(frozen=True)
class Card:
    """One headline figure as the template shows it; every field is display-ready text.

    ``sparkline`` is SVG made by :func:`reports.sparkline.sparkline_svg` from numbers only,
    the single field the template inserts unescaped.
    """

    label: str
    value: str
    detail: str = ""
    delta: str = ""
    tone: str = "neutral"
    sparkline: str = ""


@dataclass(frozen=True)
class _Metric:
    label: str
    read: Callable[[RunSummary], float | None]
    show: Callable[[float | None], str]
    show_delta: Callable[[float], str]
    direction: int
    detail: Callable[[RunSummary], str] = lambda _: ""


def _count(value: float | None) -> str:
    return format_count(None if value is None else int(value))


def _count_delta(value: float) -> str:
    return format_count_delta(int(value))


def _throughput(read: Callable[[RunSummary], float | None]) -> Callable[[RunSummary], float | None]:
    """Throughput of a run, or None for a log without timestamps (never a fake zero)."""
    return lambda run: read(run) if run.has_timestamps else None


_CASES = _Metric("Cases", lambda r: r.cases, _count, _count_delta, NEUTRAL)
_EVENTS = _Metric(
    "Events",
    lambda r: r.events,
    _count,
    _count_delta,
    NEUTRAL,
    lambda r: f"{format_count(r.new_events)} new this run",
)
_CONFORMING = _Metric(
    "Conforming cases",
    lambda r: r.conforming_share if r.cases else None,
    format_percent,
    format_pp_delta,
    HIGHER_IS_BETTER,
    lambda r: f"{format_count(r.conforming_cases)} of {format_count(r.cases)} cases",
)
_FITNESS = _Metric(
    "Fitness",
    lambda r: r.fitness,
    format_fitness,
    format_fitness_delta,
    HIGHER_IS_BETTER,
    lambda _: "1.000 = every case fits the model",
)
_MEDIAN = _Metric(
    "Median throughput time",
    _throughput(lambda r: r.throughput.median_hours),
    format_duration,
    format_duration_delta,
    LOWER_IS_BETTER,
    lambda _: "first to last event of a case",
)
_P90 = _Metric(
    "90th percentile throughput",
    _throughput(lambda r: r.throughput.p90_hours),
    format_duration,
    format_duration_delta,
    LOWER_IS_BETTER,
    lambda _: "9 in 10 cases finish within this",
)
_INCOMPLETE = _Metric(
    "Incomplete cases",
    lambda r: r.incomplete_cases,
    _count,
    _count_delta,
    NEUTRAL,
    lambda _: "still running",
)
_UNCHECKED = _Metric(
    "Unchecked cases",
    lambda r: r.unchecked_cases,
    _count,
    _count_delta,
    LOWER_IS_BETTER,
    lambda _: "could not be checked against the model",
)


def _tone(delta: float, direction: int) -> str:
    if delta == 0 or direction == NEUTRAL:
        return "neutral"
    return "good" if (delta > 0) == (direction == HIGHER_IS_BETTER) else "bad"


def _card(metric: _Metric, summary: RunSummary, history: Sequence[RunSummary]) -> Card:
    current = metric.read(summary)
    delta_text, tone, spark = "", "neutral", ""
    if history:
        previous = metric.read(history[-1])
        if current is not None and previous is not None:
            delta = current - previous
            delta_text = metric.show_delta(delta)
            # A change too small to show ("±0.0 pp") is no change to colour good or bad.
            tone = "neutral" if delta_text.startswith("\u00b1") else _tone(delta, metric.direction)
        series = [metric.read(run) for run in history[-(SPARKLINE_RUNS - 1) :]] + [current]
        spark = sparkline_svg(series)
    return Card(metric.label, metric.show(current), metric.detail(summary), delta_text, tone, spark)


def headline_cards(summary: RunSummary, history: Sequence[RunSummary] | None = None) -> list[Card]:
    """The cards in reading order; ``history`` holds earlier runs of the process, oldest first.

    A log without timestamps gets one throughput card saying so, instead of two cards with
    a meaningless zero. The unchecked card only appears when some cases were not checked.
    """
    runs = list(history or [])
    cards = [_card(m, summary, runs) for m in (_CASES, _EVENTS, _CONFORMING, _FITNESS)]
    if summary.has_timestamps:
        cards += [_card(_MEDIAN, summary, runs), _card(_P90, summary, runs)]
    else:
        cards.append(Card("Throughput time", NO_TIMESTAMPS))
    cards.append(_card(_INCOMPLETE, summary, runs))
    if summary.unchecked_cases > 0:
        cards.append(_card(_UNCHECKED, summary, runs))
    return cards
