"""Inline SVG charts of the report, built by hand from numbers: a task's KPI over the nights.

No script and no library: the page must read the same offline. Every string placed in a chart
is escaped here; everything else is a number formatted here.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from kaizenflow.reports.formatting import as_utc, format_percent

_WIDTH = 360.0
_HEIGHT = 150.0
_LEFT = 44.0
_RIGHT = 12.0
_TOP = 14.0
_BOTTOM = 26.0
_FONT = 11.5

_LINE = "#2563eb"
_BASELINE = "#9ca3af"
_TARGET = "#15803d"
_CHANGE = "#b45309"
_GRID = "#e5e7eb"
_TEXT = "#6b7280"


@dataclass(frozen=True)
class KpiPoint:
    """The KPI (a share in [0, 1]) as one night measured it; ``after_change`` once the task was done."""

    at: datetime
    value: float
    after_change: bool = False


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _day(moment: datetime, with_time: bool = False) -> str:
    """An axis end: "3 Dec", or "3 Dec 14:07 UTC" when the nights shown lie within two days."""
    text = as_utc(moment).strftime("%d %b %H:%M" if with_time else "%d %b").lstrip("0")
    return f"{text} UTC" if with_time else text


def kpi_chart_svg(
    points: Sequence[KpiPoint],
    baseline: float,
    target: float,
    changed_at: datetime | None = None,
    label: str = "KPI",
) -> str:
    """The KPI night by night against its baseline (grey dashes) and target (green dashes).

    Nights are evenly spaced, oldest left. The change is a vertical amber line before the first
    night measured after the task was marked done (``after_change``): the task's ``changed_at``
    is process time (the time of the events), which the nights' own clock cannot place, so it is
    named in the line's hover text instead. The y axis spans the values, baseline and target
    with a margin, never a misleading zoom onto a flat line. Returns "" without points.
    """
    known = sorted(points, key=lambda p: as_utc(p.at))
    if not known:
        return ""
    values = [p.value for p in known] + [baseline, target]
    low, high = max(min(values) - 0.02, 0.0), min(max(values) + 0.02, 1.0)
    if high - low < 0.04:
        low, high = max(low - 0.02, 0.0), min(high + 0.02, 1.0)
    plot_w, plot_h = _WIDTH - _LEFT - _RIGHT, _HEIGHT - _TOP - _BOTTOM
    steps = len(known) - 1

    def x(index: float) -> float:
        return _LEFT + plot_w / 2 if steps == 0 else _LEFT + plot_w * index / steps

    def y(value: float) -> float:
        return _TOP + plot_h * (1 - (value - low) / (high - low))

    parts = [
        f'<svg class="kpi-chart" viewBox="0 0 {_n(_WIDTH)} {_n(_HEIGHT)}" width="{_n(_WIDTH)}" '
        f'height="{_n(_HEIGHT)}" role="img" aria-label="{html.escape(label, quote=True)} over the nights">',
        f'<line x1="{_n(_LEFT)}" y1="{_n(_TOP + plot_h)}" x2="{_n(_WIDTH - _RIGHT)}" '
        f'y2="{_n(_TOP + plot_h)}" stroke="{_GRID}"/>',
    ]
    for value in (low, high):
        parts.append(f'<text x="{_n(_LEFT - 6)}" y="{_n(y(value) + 4)}" font-size="{_n(_FONT)}" '
                     f'fill="{_TEXT}" text-anchor="end">{html.escape(format_percent(value, 0))}</text>')
    for value, colour, name in ((baseline, _BASELINE, "baseline"), (target, _TARGET, "target")):
        parts.append(
            f'<g><title>{name} {html.escape(format_percent(value))}</title>'
            f'<line x1="{_n(_LEFT)}" y1="{_n(y(value))}" x2="{_n(_WIDTH - _RIGHT)}" y2="{_n(y(value))}" '
            f'stroke="{colour}" stroke-width="1.5" stroke-dasharray="5 4"/></g>'
        )
    first_after = next((i for i, p in enumerate(known) if p.after_change), None)
    if first_after is not None:
        cx = x(first_after - 0.5) if first_after > 0 else _LEFT
        stamp = "" if changed_at is None else as_utc(changed_at).strftime("%Y-%m-%d %H:%M UTC")
        when = f" (events of {stamp})" if stamp else ""
        parts.append(
            f"<g><title>change made{html.escape(when)}: the nights right of this line measure cases "
            f"after it</title>"
            f'<line x1="{_n(cx)}" y1="{_n(_TOP)}" x2="{_n(cx)}" y2="{_n(_TOP + plot_h)}" stroke="{_CHANGE}" '
            f'stroke-width="2"/></g>'
            f'<text x="{_n(min(cx + 4, _WIDTH - _RIGHT - 44))}" y="{_n(_TOP + 10)}" font-size="{_n(_FONT)}" '
            f'fill="{_CHANGE}">change</text>'
        )
    coordinates = [(x(i), y(p.value)) for i, p in enumerate(known)]
    if len(coordinates) > 1:
        path = " ".join(f"{_n(px)},{_n(py)}" for px, py in coordinates)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{_LINE}" stroke-width="2" '
                     'stroke-linejoin="round"/>')
    for point, (px, py) in zip(known, coordinates, strict=True):
        when = as_utc(point.at).strftime("%Y-%m-%d %H:%M UTC")
        parts.append(f"<circle cx=\"{_n(px)}\" cy=\"{_n(py)}\" r=\"3\" fill=\"{_LINE}\">"
                     f"<title>{when}: {html.escape(format_percent(point.value))}</title></circle>")
    span = (as_utc(known[-1].at) - as_utc(known[0].at)).total_seconds()
    short = span < 2 * 86400
    parts.append(f'<text x="{_n(_LEFT)}" y="{_n(_HEIGHT - 8)}" font-size="{_n(_FONT)}" fill="{_TEXT}">'
                 f"{html.escape(_day(known[0].at, short))}</text>")
    if steps:
        parts.append(f'<text x="{_n(_WIDTH - _RIGHT)}" y="{_n(_HEIGHT - 8)}" font-size="{_n(_FONT)}" '
                     f'fill="{_TEXT}" text-anchor="end">{html.escape(_day(known[-1].at, short))}</text>')
    parts.append("</svg>")
    return "".join(parts)
