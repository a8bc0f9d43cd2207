"""The designed BPMN model drawn as its owner drew it, with how often cases left each task.

Tasks are rounded boxes, gateways diamonds, events circles, pools and lanes bands, sequence
flows arrows. With BPMN DI in the file every shape sits where the modeller put it and every
flow follows its waypoints; without, Graphviz lays the same shapes out left to right. Each task
cases skipped or did out of place carries a red "skipped N" and an amber "inserted N" badge,
and activities the cases did that the model lacks are drawn in a dashed row beneath.

Every string of the model is data: it reaches the SVG only through :func:`_text`, which escapes
it and drops characters XML cannot carry. All else is numbers formatted here.
"""

from __future__ import annotations

import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import graphviz

from kaizenflow.conformance.bpmn_diagram import (
    END,
    EXCLUSIVE,
    INCLUSIVE,
    INTERMEDIATE,
    PARALLEL,
    START,
    SUB_PROCESS,
    TASK,
    Bounds,
    BpmnDiagram,
    DiagramNode,
)
from kaizenflow.reports.formatting import format_count

_INK = "#1f2937"
_MUTED = "#6b7280"
_LINE = "#94a3b8"
_ACCENT = "#2563eb"
_TASK_FILL = "#eff6ff"
_BAND_FILL = "#f8fafc"
_BAND_HEAD = "#f1f5f9"
_START = "#16a34a"
_END = "#dc2626"
_BAD = "#b91c1c"
_BAD_SOFT = "#fef2f2"
_AMBER = "#b45309"
_FONT = "-apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif"

#: Text sizes in diagram units. Modellers draw at about one unit a pixel, and the page never
#: shrinks the drawing below MIN_SCALE (a narrow screen scrolls it sideways instead), so names
#: stay at 10.8 px and badges at 10 px or more on any screen.
FONT_SIZE = 15.0
SMALL_FONT = 14.0
MIN_SCALE = 0.72
_CHAR_WIDTH = 0.52  # average glyph width of a sans-serif face, in ems
_LINE_HEIGHT = 1.25
_PAD = 24.0
_BADGE_HEIGHT = 18.0
_BAND_HEADER = 30.0

_UNSAFE = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _text(value: str) -> str:
    """Text or attribute content: escaped, without characters an XML parser would reject."""
    return html.escape(_UNSAFE.sub(" ", value), quote=True)


def _n(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def _rect(x: float, y: float, width: float, height: float, look: str) -> str:
    return f'<rect x="{_n(x)}" y="{_n(y)}" width="{_n(width)}" height="{_n(height)}" {look}/>'


def wrap(name: str, width: float, font: float, max_lines: int) -> list[str]:
    """The name in lines that fit ``width`` at ``font`` size; the last shown line ends in "…" if cut."""
    per_line = max(int(width / (font * _CHAR_WIDTH)), 4)
    lines: list[str] = []
    current = ""
    for word in name.split():
        while len(word) > per_line:  # a word longer than the box is broken
            if current:
                lines.append(current)
                current = ""
            lines.append(word[:per_line])
            word = word[per_line:]
        candidate = f"{current} {word}".strip()
        if len(candidate) <= per_line:
            current = candidate
        else:
            lines.append(current)
            current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        kept = lines[:max_lines]
        kept[-1] = kept[-1][: max(per_line - 1, 1)].rstrip() + "\u2026"
        return kept
    return lines


@dataclass(frozen=True)
class _Badge:
    text: str
    colour: str

    @property
    def width(self) -> float:
        return len(self.text) * SMALL_FONT * 0.6 + 14


def _badges(name: str, skipped: Mapping[str, int], inserted: Mapping[str, int]) -> list[_Badge]:
    badges = []
    if skipped.get(name):
        badges.append(_Badge(f"skipped {format_count(skipped[name])}", _BAD))
    if inserted.get(name):
        badges.append(_Badge(f"inserted {format_count(inserted[name])}", _AMBER))
    return badges


def _tooltip(name: str, skipped: Mapping[str, int], inserted: Mapping[str, int]) -> str:
    parts = [name]
    if skipped.get(name):
        parts.append(f"{format_count(skipped[name])} cases skipped it")
    if inserted.get(name):
        parts.append(f"{format_count(inserted[name])} cases did it where the model has no place for it")
    return ": ".join(parts[:1]) + ("" if len(parts) == 1 else " \u2014 " + "; ".join(parts[1:]))


class _Canvas:
    """SVG elements in drawing order, and the box they cover, to size the view box."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.left = self.top = float("inf")
        self.right = self.bottom = float("-inf")

    def cover(self, x: float, y: float, width: float = 0, height: float = 0) -> None:
        self.left, self.top = min(self.left, x), min(self.top, y)
        self.right, self.bottom = max(self.right, x + width), max(self.bottom, y + height)

    def add(self, part: str) -> None:
        self.parts.append(part)

    def label(self, x: float, y: float, lines: Sequence[str], size: float = FONT_SIZE,
              colour: str = _INK, anchor: str = "middle", weight: str = "normal") -> None:
        """Lines of text centred on (x, y) vertically."""
        if not lines:
            return
        step = size * _LINE_HEIGHT
        first = y - step * (len(lines) - 1) / 2 + size * 0.35
        spans = "".join(
            f'<tspan x="{_n(x)}" y="{_n(first + i * step)}">{_text(line)}</tspan>'
            for i, line in enumerate(lines)
        )
        self.add(f'<text font-size="{_n(size)}" fill="{colour}" text-anchor="{anchor}" '
                 f'font-weight="{weight}">{spans}</text>')
        widest = max(len(line) for line in lines) * size * _CHAR_WIDTH
        left = x - widest / 2 if anchor == "middle" else x
        self.cover(left, first - size, widest, step * len(lines))

    def svg(self, what: str) -> str:
        left, top = self.left - _PAD, self.top - _PAD
        width, height = self.right - self.left + 2 * _PAD, self.bottom - self.top + 2 * _PAD
        return (
            f'<svg xmlns="http://www.w3.org/2000/svg" class="bpmn" role="img" aria-label="{_text(what)}" '
            f'viewBox="{_n(left)} {_n(top)} {_n(width)} {_n(height)}" '
            f'width="{_n(width)}" height="{_n(height)}" '
            f'style="min-width:{_n(width * MIN_SCALE)}px" font-family="{_FONT}">'
            + "".join(self.parts) + "</svg>"
        )


def _band(canvas: _Canvas, name: str, bounds: Bounds, pool: bool) -> None:
    x, y, w, h = bounds.x, bounds.y, bounds.width, bounds.height
    canvas.cover(x, y, w, h)
    canvas.add(_rect(x, y, w, h, f'fill="{_BAND_FILL if pool else "none"}" stroke="{_LINE}" '
                                 f'stroke-width="{1.5 if pool else 1}"'))
    canvas.add(_rect(x, y, _BAND_HEADER, h, f'fill="{_BAND_HEAD}" stroke="{_LINE}" stroke-width="1"'))
    if name:
        centre_x, centre_y = x + _BAND_HEADER / 2, y + h / 2
        lines = wrap(name, h - 8, FONT_SIZE, 1)
        turn = f"rotate(-90 {_n(centre_x)} {_n(centre_y)})"
        place = f'x="{_n(centre_x)}" y="{_n(centre_y + FONT_SIZE * 0.35)}"'
        canvas.add(f'<g><title>{_text(name)}</title><text transform="{turn}" {place} '
                   f'font-size="{_n(FONT_SIZE)}" font-weight="600" fill="{_INK}" text-anchor="middle">'
                   f"{_text(lines[0])}</text></g>")


def _task(canvas: _Canvas, node: DiagramNode, bounds: Bounds, skipped: Mapping[str, int],
          inserted: Mapping[str, int]) -> None:
    x, y, w, h = bounds.x, bounds.y, bounds.width, bounds.height
    badges = _badges(node.name, skipped, inserted)
    stroke, fill = (_BAD, _BAD_SOFT) if badges else (_ACCENT, _TASK_FILL)
    canvas.cover(x, y, w, h)
    tooltip = _text(_tooltip(node.name, skipped, inserted))
    canvas.add(f'<g class="bpmn-task{" deviated" if badges else ""}"><title>{tooltip}</title>'
               + _rect(x, y, w, h, f'rx="10" fill="{fill}" stroke="{stroke}" '
                             f'stroke-width="{2 if badges else 1.3}"'))
    if node.kind == SUB_PROCESS:  # the collapsed-sub-process marker: a small boxed plus
        mx, my = x + w / 2 - 7, y + h - 17
        canvas.add(f'<rect x="{_n(mx)}" y="{_n(my)}" width="14" height="14" fill="none" stroke="{_INK}"/>'
                   f'<path d="M{_n(mx + 3)},{_n(my + 7)} h8 M{_n(mx + 7)},{_n(my + 3)} v8" stroke="{_INK}"/>')
    room = h - (12 if badges else 8) - (16 if node.kind == SUB_PROCESS else 0)
    max_lines = max(int(room / (FONT_SIZE * _LINE_HEIGHT)), 1)
    lines = wrap(node.name, w - 10, FONT_SIZE, max_lines)
    centre_y = y + (h - (8 if badges else 0) - (16 if node.kind == SUB_PROCESS else 0)) / 2
    canvas.label(x + w / 2, centre_y, lines)
    canvas.add("</g>")
    _draw_badges(canvas, badges, x + w / 2, y + h - 2, w)  # on the bottom edge, clear of the name


def _draw_badges(canvas: _Canvas, badges: Sequence[_Badge], centre_x: float, centre_y: float,
                 room: float) -> None:
    """Pills centred on the task's bottom edge, side by side when they fit, else stacked."""
    if not badges:
        return
    gap = 4.0
    side_by_side = sum(b.width for b in badges) + gap * (len(badges) - 1) <= room + 24
    rows = [list(badges)] if side_by_side else [[b] for b in badges]
    for index, row in enumerate(rows):
        total = sum(b.width for b in row) + gap * (len(row) - 1)
        left = centre_x - total / 2
        top = centre_y - _BADGE_HEIGHT / 2 + index * (_BADGE_HEIGHT + 2)
        for badge in row:
            canvas.cover(left, top, badge.width, _BADGE_HEIGHT)
            canvas.add(_rect(left, top, badge.width, _BADGE_HEIGHT, f'rx="9" fill="{badge.colour}"'))
            baseline = top + _BADGE_HEIGHT / 2 + SMALL_FONT * 0.35
            canvas.add(f'<text x="{_n(left + badge.width / 2)}" y="{_n(baseline)}" '
                       f'font-size="{_n(SMALL_FONT)}" font-weight="600" fill="#ffffff" text-anchor="middle">'
                       f"{_text(badge.text)}</text>")
            left += badge.width + gap


def _gateway(canvas: _Canvas, node: DiagramNode, bounds: Bounds) -> None:
    x, y, w, h = bounds.x, bounds.y, bounds.width, bounds.height
    cx, cy = x + w / 2, y + h / 2
    canvas.cover(x, y, w, h)
    title = {EXCLUSIVE: "exclusive gateway: one way", PARALLEL: "parallel gateway: every way",
             INCLUSIVE: "inclusive gateway: one or more ways"}[node.kind]
    tooltip = _text(f"{node.name} ({title})" if node.name else title)
    corners = f"{_n(cx)},{_n(y)} {_n(x + w)},{_n(cy)} {_n(cx)},{_n(y + h)} {_n(x)},{_n(cy)}"
    canvas.add(f'<g class="bpmn-gateway"><title>{tooltip}</title><polygon points="{corners}" '
               f'fill="#fffbeb" stroke="{_AMBER}" stroke-width="1.5"/>')
    arm = min(w, h) * 0.2
    if node.kind == EXCLUSIVE:
        canvas.add(f'<path d="M{_n(cx - arm)},{_n(cy - arm)} L{_n(cx + arm)},{_n(cy + arm)} M{_n(cx + arm)},'
                   f'{_n(cy - arm)} L{_n(cx - arm)},{_n(cy + arm)}" stroke="{_INK}" stroke-width="3"/>')
    elif node.kind == PARALLEL:
        canvas.add(f'<path d="M{_n(cx - arm * 1.2)},{_n(cy)} h{_n(arm * 2.4)} M{_n(cx)},{_n(cy - arm * 1.2)} '
                   f'v{_n(arm * 2.4)}" stroke="{_INK}" stroke-width="3"/>')
    else:
        canvas.add(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(arm * 1.1)}" fill="none" stroke="{_INK}" '
                   'stroke-width="2.5"/>')
    canvas.add("</g>")
    if node.name:
        canvas.label(cx, y - FONT_SIZE * 0.9, wrap(node.name, max(w * 2.2, 120), SMALL_FONT, 2),
                     SMALL_FONT, _MUTED)


def _event(canvas: _Canvas, node: DiagramNode, bounds: Bounds) -> None:
    x, y, w, h = bounds.x, bounds.y, bounds.width, bounds.height
    cx, cy, r = x + w / 2, y + h / 2, min(w, h) / 2
    canvas.cover(x, y, w, h)
    colour, width, fill = {START: (_START, 2.0, "#f0fdf4"), END: (_END, 4.0, "#fef2f2")}.get(
        node.kind, (_MUTED, 1.5, "#ffffff"))
    kind = {START: "start event", END: "end event"}.get(node.kind, "intermediate event")
    tooltip = _text(f"{node.name} ({kind})" if node.name else kind)
    canvas.add(f'<g class="bpmn-event"><title>{tooltip}</title>'
               f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r - width / 2)}" fill="{fill}" stroke="{colour}" '
               f'stroke-width="{_n(width)}"/>')
    if node.kind == INTERMEDIATE:
        canvas.add(f'<circle cx="{_n(cx)}" cy="{_n(cy)}" r="{_n(r - 5)}" fill="none" stroke="{colour}" '
                   'stroke-width="1.5"/>')
    canvas.add("</g>")
    if node.name:
        lines = wrap(node.name, max(w * 2.6, 110), SMALL_FONT, 2)
        canvas.label(cx, y + h + 6 + SMALL_FONT * _LINE_HEIGHT * len(lines) / 2, lines, SMALL_FONT, _MUTED)


def _arrowhead(before: tuple[float, float], tip: tuple[float, float], size: float = 9.0) -> str:
    """A filled triangle at the end of a flow (drawn, not a marker: the page allows no url())."""
    (x1, y1), (x2, y2) = before, tip
    length = math.hypot(x2 - x1, y2 - y1) or 1.0
    ux, uy = (x2 - x1) / length, (y2 - y1) / length
    bx, by = x2 - ux * size, y2 - uy * size
    half = size * 0.45
    corners = (f"{_n(x2)},{_n(y2)} {_n(bx - uy * half)},{_n(by + ux * half)} "
               f"{_n(bx + uy * half)},{_n(by - ux * half)}")
    return f'<polygon points="{corners}" fill="{_MUTED}"/>'


def _flow(canvas: _Canvas, points: Sequence[tuple[float, float]], name: str) -> None:
    for px, py in points:
        canvas.cover(px, py)
    path = " ".join(f"{_n(px)},{_n(py)}" for px, py in points)
    canvas.add(f'<polyline points="{path}" fill="none" stroke="{_MUTED}" stroke-width="1.5" '
               'stroke-linejoin="round"/>')
    canvas.add(_arrowhead(points[-2], points[-1]))
    if name:
        (x1, y1), (x2, y2) = points[0], points[1]
        horizontal = abs(x2 - x1) >= abs(y2 - y1)
        x, y = ((x1 + x2) / 2, min(y1, y2) - 7) if horizontal else (max(x1, x2) + 6, (y1 + y2) / 2)
        canvas.label(x, y, wrap(name, 140, SMALL_FONT, 2), SMALL_FONT, _MUTED,
                     anchor="middle" if horizontal else "start")


def _unmodelled_row(canvas: _Canvas, names: Sequence[str], inserted: Mapping[str, int]) -> None:
    """Activities cases did that the model does not have, as dashed boxes below the drawing."""
    if not names:
        return
    top = canvas.bottom + 36
    left = canvas.left
    canvas.label(left, top, ["Done, but not in the model:"], FONT_SIZE, _BAD, anchor="start", weight="600")
    x, y, w, h = left, top + 18, 150.0, 70.0
    for name in names:
        canvas.cover(x, y, w, h)
        canvas.add(f"<g><title>{_text(_tooltip(name, {}, inserted))}</title>"
                   + _rect(x, y, w, h, f'rx="10" fill="{_BAD_SOFT}" stroke="{_BAD}" stroke-width="1.5" '
                                       'stroke-dasharray="6 3"'))
        canvas.label(x + w / 2, y + (h - 10) / 2, wrap(name, w - 10, FONT_SIZE, 2))
        canvas.add("</g>")
        _draw_badges(canvas, _badges(name, {}, inserted), x + w / 2, y + h - _BADGE_HEIGHT / 2, w)
        x += w + 20


def unmodelled(diagram: BpmnDiagram, inserted: Mapping[str, int]) -> list[str]:
    """Activities with inserted cases that no task of the diagram is named after."""
    modelled = {n.name for n in diagram.nodes if n.kind in (TASK, SUB_PROCESS)}
    return sorted(name for name, count in inserted.items() if count and name not in modelled)


def positioned_svg(diagram: BpmnDiagram, skipped: Mapping[str, int], inserted: Mapping[str, int]) -> str:
    """The diagram at the positions of its BPMN DI; needs ``diagram.has_layout``."""
    canvas = _Canvas()
    for band in sorted(diagram.bands, key=lambda b: not b.pool):  # pools under their lanes
        if band.bounds is not None:
            _band(canvas, band.name, band.bounds, band.pool)
    for flow in diagram.flows:
        _flow(canvas, flow.waypoints, flow.name)
    for node in diagram.nodes:
        bounds = node.bounds
        if bounds is None:
            continue
        if node.kind in (TASK, SUB_PROCESS):
            _task(canvas, node, bounds, skipped, inserted)
        elif node.kind in (EXCLUSIVE, PARALLEL, INCLUSIVE):
            _gateway(canvas, node, bounds)
        else:
            _event(canvas, node, bounds)
    _unmodelled_row(canvas, unmodelled(diagram, inserted), inserted)
    return canvas.svg("designed BPMN model")


def _plain(text: str) -> str:
    """A plain Graphviz label or attribute of literal text (see ``process_map._label``)."""
    return str(graphviz.nohtml(graphviz.escape(_UNSAFE.sub(" ", text).replace("&", "&amp;"))))


def _graphviz_label(name: str, badges: Sequence[_Badge]) -> str:
    """An HTML-like Graphviz label: the wrapped name, then one coloured cell per badge."""
    lines = "<BR/>".join(_text(line).replace("\\", "\\\\") for line in wrap(name, 130, FONT_SIZE, 4))
    rows = f"<TR><TD>{lines}</TD></TR>"
    if badges:
        cells = "".join(f'<TD BGCOLOR="{b.colour}" STYLE="rounded" CELLPADDING="3"><FONT COLOR="white" '
                        f'POINT-SIZE="11"><B>{_text(b.text)}</B></FONT></TD>' for b in badges)
        rows += ('<TR><TD><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="0">'
                 f"<TR>{cells}</TR></TABLE></TD></TR>")
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="2">{rows}</TABLE>>'


def layout_digraph(
    diagram: BpmnDiagram, skipped: Mapping[str, int], inserted: Mapping[str, int]
) -> graphviz.Digraph:
    """The diagram for Graphviz to lay out left to right, for files without BPMN DI.

    Nodes get synthetic ids (n0, n1, ...): element ids are data as much as names are.
    """
    graph = graphviz.Digraph(name="bpmn")
    graph.attr(rankdir="LR", bgcolor="transparent", nodesep="0.35", ranksep="0.45")
    graph.attr("node", fontname="Helvetica", fontsize="13", fontcolor=_INK)
    graph.attr("edge", color=_MUTED, fontname="Helvetica", fontsize="11", fontcolor=_MUTED, arrowsize="0.7")
    ids = {node.element_id: f"n{index}" for index, node in enumerate(diagram.nodes)}
    marks = {EXCLUSIVE: "\u00d7", PARALLEL: "+", INCLUSIVE: "\u25cb"}
    for node in diagram.nodes:
        node_id = ids[node.element_id]
        if node.kind in (TASK, SUB_PROCESS):
            badges = _badges(node.name, skipped, inserted)
            graph.node(node_id, label=_graphviz_label(node.name, badges), shape="box", style="rounded,filled",
                       fillcolor=_BAD_SOFT if badges else _TASK_FILL, color=_BAD if badges else _ACCENT,
                       penwidth="2" if badges else "1.2", margin="0.12,0.06",
                       tooltip=_plain(_tooltip(node.name, skipped, inserted)))
        elif node.kind in marks:
            graph.node(node_id, label=marks[node.kind], shape="diamond", style="filled", fillcolor="#fffbeb",
                       color=_AMBER, width="0.5", height="0.5", fixedsize="true", fontsize="16",
                       xlabel=_plain(node.name) if node.name else "")
        else:
            colour = {START: _START, END: _END}.get(node.kind, _MUTED)
            graph.node(node_id, label="", shape="circle", style="filled", fillcolor="white", color=colour,
                       penwidth="4" if node.kind == END else "2", width="0.35", height="0.35",
                       fixedsize="true",
                       xlabel=_plain(node.name) if node.name else "")
    for flow in diagram.flows:
        graph.edge(ids[flow.source], ids[flow.target],
                   label=_plain(flow.name) if flow.name else "")
    names = unmodelled(diagram, inserted)
    if names:
        with graph.subgraph(name="cluster_unmodelled") as cluster:
            cluster.attr(label="Done, but not in the model", style="dashed,rounded", color=_BAD,
                         fontcolor=_BAD, fontname="Helvetica", fontsize="12")
            for index, name in enumerate(names):
                cluster.node(f"u{index}", label=_graphviz_label(name, _badges(name, {}, inserted)),
                             shape="box", style="rounded,filled,dashed", fillcolor=_BAD_SOFT, color=_BAD)
    return graph


_MARK = 'data-model="bpmn"'


def bpmn_svg(diagram: BpmnDiagram, skipped: Mapping[str, int], inserted: Mapping[str, int]) -> str:
    """The designed BPMN model as an ``<svg>`` element to inline: at its DI positions, else laid out.

    The element carries ``data-model="bpmn"`` so the page can explain BPMN shapes, not a net's.
    """
    if diagram.has_layout:
        svg = positioned_svg(diagram, skipped, inserted)
    else:
        from kaizenflow.reports.process_map import render_svg

        svg = render_svg(layout_digraph(diagram, skipped, inserted), "designed BPMN model")
    return svg.replace("<svg", f"<svg {_MARK}", 1)


def is_bpmn_drawing(svg: str) -> bool:
    """Whether an inline drawing is one of :func:`bpmn_svg` (the mark sits in its first tag)."""
    return _MARK in svg[: svg.find(">") + 1]
