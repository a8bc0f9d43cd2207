"""Tiny inline SVG sparklines for the headline cards, built by hand: no JS, no library."""

from __future__ import annotations

from collections.abc import Sequence

_WIDTH = 96.0
_HEIGHT = 24.0
_PAD = 2.5


def sparkline_svg(values: Sequence[float | None], width: float = _WIDTH, height: float = _HEIGHT) -> str:
    """A polyline of the values, oldest left, with a dot on the latest value.

    Missing values (None) are skipped rather than drawn as zero, which would fake a dip.
    Returns "" when fewer than two values are known: one point shows no trend. The output
    is made only of numbers formatted here, so it is safe to insert into the page unescaped.
    """
    known = [(index, float(v)) for index, v in enumerate(values) if v is not None]
    if len(known) < 2:
        return ""
    low = min(v for _, v in known)
    high = max(v for _, v in known)
    span = high - low
    steps = max(len(values) - 1, 1)

    def point(index: int, value: float) -> tuple[float, float]:
        x = _PAD + (width - 2 * _PAD) * index / steps
        # A flat series is drawn across the middle rather than glued to an edge.
        ratio = 0.5 if span == 0 else (value - low) / span
        y = height - _PAD - (height - 2 * _PAD) * ratio
        return x, y

    points = [point(index, value) for index, value in known]
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    last_x, last_y = points[-1]
    return (
        f'<svg class="spark" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-hidden="true">'
        f'<polyline points="{path}" fill="none" stroke="currentColor" stroke-width="1.5" '
        f'stroke-linejoin="round" stroke-linecap="round"/>'
        f'<circle cx="{last_x:.1f}" cy="{last_y:.1f}" r="2.2" fill="currentColor"/>'
        "</svg>"
    )
