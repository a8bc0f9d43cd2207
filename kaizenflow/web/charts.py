"""A task's KPI over the nights as inline SVG: the values, the baseline, the target, the change.

Built by hand from numbers formatted here (no script, no library); the only text, the axis
labels, is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 640.0
HEIGHT = 220.0
LEFT, RIGHT, TOP, BOTTOM = 48.0, 16.0, 14.0, 34.0


@dataclass(frozen=True)
class KpiPoint:
    run_id: str
    value: float
    cases: int
    cases_in_scope: int


def kpi_chart_svg(points: Sequence[KpiPoint], baseline: float, target: float,
                  change_index: int | None = None) -> Markup:
    """The KPI (a share, 0..1) by run, oldest left; ``change_index``: the first run after the change."""
    if not points:
        return Markup("")
    high = max([p.value for p in points] + [baseline, target, 0.01]) * 1.15
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    steps = max(len(points) - 1, 1)

    def x(index: float) -> float:
        return LEFT + inner_w * (index / steps if len(points) > 1 else 0.5)

    def y(value: float) -> float:
        return TOP + inner_h * (1 - value / high)

    parts = [
        f'<svg class="kpi-chart" viewBox="0 0 {WIDTH:.0f} {HEIGHT:.0f}" role="img" '
        f'aria-label="KPI by run with baseline and target">',
        f'<line class="axis" x1="{LEFT}" y1="{y(0):.1f}" x2="{WIDTH - RIGHT}" y2="{y(0):.1f}"/>',
    ]
    for fraction in (0.0, 0.5, 1.0):
        value = high / 1.15 * fraction
        parts.append(f'<text class="tick" x="{LEFT - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
                     f"{value:.0%}</text>")
    for name, value in (("baseline", baseline), ("target", target)):
        parts.append(f'<line class="{name}" x1="{LEFT}" y1="{y(value):.1f}" x2="{WIDTH - RIGHT}" '
                     f'y2="{y(value):.1f}"/>'
                     f'<text class="{name}-label" x="{WIDTH - RIGHT}" y="{y(value) - 4:.1f}" '
                     f'text-anchor="end">{name} {value:.1%}</text>')
    if change_index is not None and 0 <= change_index <= len(points):
        at = x(change_index - 0.5) if len(points) > 1 else x(0)
        parts.append(f'<line class="change" x1="{at:.1f}" y1="{TOP}" x2="{at:.1f}" y2="{y(0):.1f}"/>'
                     f'<text class="change-label" x="{at + 4:.1f}" y="{TOP + 10}">change done</text>')
    path = " ".join(f"{x(i):.1f},{y(p.value):.1f}" for i, p in enumerate(points))
    parts.append(f'<polyline class="kpi" points="{path}"/>')
    for index, point in enumerate(points):
        parts.append(f'<circle class="kpi-point" cx="{x(index):.1f}" cy="{y(point.value):.1f}" r="3">'
                     f"<title>{escape(point.run_id)}: {point.value:.1%} "
                     f"({point.cases} of {point.cases_in_scope} cases)</title></circle>")
    first, last = points[0].run_id[:8], points[-1].run_id[:8]
    parts.append(f'<text class="tick" x="{LEFT}" y="{HEIGHT - 10}">{escape(first)}</text>')
    if len(points) > 1:
        parts.append(f'<text class="tick" x="{WIDTH - RIGHT}" y="{HEIGHT - 10}" text-anchor="end">'
                     f"{escape(last)}</text>")
    parts.append("</svg>")
    return Markup("".join(parts))
