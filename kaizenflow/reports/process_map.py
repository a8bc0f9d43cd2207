"""Rendering of a directly-follows graph (ProcessMap) as an inline-ready SVG through Graphviz."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import graphviz

from kaizenflow.mining.types import MapEdge, ProcessMap, Variant
from kaizenflow.reports.formatting import format_count, format_duration

#: Colours of the report's palette, so the map looks like part of the page.
_INK = "#1f2937"
_MUTED = "#6b7280"
_ACCENT = "#2563eb"
_NODE_FILL = "#eff6ff"
_FAINT = "#9ca3af"
_START = "#16a34a"
_END = "#dc2626"
_FONT = "Helvetica"

_MIN_PEN = 1.0
_MAX_PEN = 6.0
#: The main path is drawn at least this wide, in the accent colour, whatever its frequency.
_MAIN_PEN = 3.5

_SVG_START = re.compile(r"<svg\b")
_SVG_WIDTH = re.compile(r'\bwidth="([0-9.]+)pt"')
#: The smallest share of its natural size a Graphviz drawing is shown at (9 pt labels: 9 px).
MIN_SCALE = 0.75

_INSTALL_HINT = (
    "The Graphviz 'dot' program is needed to draw the process map but was not found on PATH. "
    "Install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: brew install graphviz) "
    "and run again."
)


def _label(*lines: str) -> str:
    """A DOT label made of literal text lines.

    ``graphviz.escape`` doubles backslashes (so "C:\\new" is not read as an escString with a
    newline) and marks the text as not-HTML (so "<b>x</b>" is not an HTML-like label); quotes
    are escaped by graphviz's quoting. Ampersands are written as "&amp;" because dot decodes
    entities in plain labels: without this, an activity called "R&amp;D" would be drawn as
    "R&D". Lines are joined with the DOT line break ``\\n`` and the whole label is marked
    not-HTML again, because joining yields a plain ``str``.
    """
    return str(graphviz.nohtml("\\n".join(graphviz.escape(line.replace("&", "&amp;")) for line in lines)))


def wrap_name(name: str, width: int = 16) -> list[str]:
    """An activity name in lines of about ``width`` characters, at most three.

    The map flows left to right, so every character of a box's widest line widens the whole
    drawing; "Create Purchase Requisition" on two lines keeps it readable without shrinking.
    """
    lines: list[str] = []
    for word in name.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    if len(lines) > 3:
        lines = lines[:2] + [" ".join(lines[2:])]
    return lines or [name]


def _pen_width(frequency: int, highest: int) -> str:
    """Pen width grows with frequency so the main flow stands out at a glance."""
    if highest <= 0:
        return f"{_MIN_PEN:.2f}"
    return f"{_MIN_PEN + (_MAX_PEN - _MIN_PEN) * frequency / highest:.2f}"


def _edge_label(edge: MapEdge) -> str:
    """The count, and below it the median wait: short lines, as each widens the gap it labels."""
    if edge.median_wait_hours is None:
        return _label(format_count(edge.frequency))
    return _label(format_count(edge.frequency), f"wait {format_duration(edge.median_wait_hours)}")


def _kept_edges(process_map: ProcessMap, max_edges: int) -> list[MapEdge]:
    """The most frequent edges; a map of hundreds of edges is unreadable, the top ones are not."""
    ranked = sorted(process_map.edges, key=lambda e: (-e.frequency, e.source, e.target))
    return ranked[: max(max_edges, 0)]


def _add_terminal(
    graph: graphviz.Digraph,
    node_id: str,
    counts: dict[str, int],
    ids: dict[str, str],
    *,
    outgoing: bool,
) -> None:
    """The artificial start (or end) dot, linked to the activities cases start (or end) with.

    Its edges are thin and dashed whatever their counts: they frame the process and must not
    compete with the real transitions for the reader's eye.
    """
    if not counts:
        return
    colour = _START if outgoing else _END
    graph.node(
        node_id,
        label="",
        shape="circle" if outgoing else "doublecircle",
        style="filled",
        fillcolor=colour,
        color=colour,
        width="0.22",
        height="0.22",
        fixedsize="true",
    )
    for name, count in sorted(counts.items()):
        ends = (node_id, ids[name]) if outgoing else (ids[name], node_id)
        graph.edge(*ends, label=_label(format_count(count)), style="dashed", color=_FAINT, penwidth="1.2")


def styled_digraph(
    name: str, rankdir: str, spacing: tuple[str, str], node_margin: str, arrowsize: str
) -> graphviz.Digraph:
    """A graph in the report's look: rounded activity boxes, muted edges, one font."""
    graph = graphviz.Digraph(name=name)
    graph.attr(rankdir=rankdir, bgcolor="transparent", nodesep=spacing[0], ranksep=spacing[1])
    graph.attr("node", shape="box", style="rounded,filled", fillcolor=_NODE_FILL, color=_ACCENT,
               fontname=_FONT, fontsize="11", fontcolor=_INK, margin=node_margin)
    graph.attr("edge", color=_MUTED, fontname=_FONT, fontsize="9", fontcolor=_MUTED, arrowsize=arrowsize)
    return graph


def build_digraph(
    process_map: ProcessMap,
    max_edges: int = 60,
    main_path: frozenset[tuple[str, str]] = frozenset(),
) -> graphviz.Digraph:
    """The graph to lay out; separate from rendering so its DOT source can be inspected.

    Nodes get synthetic ids ("a0", "a1", ...) and the activity name only in the label: names
    are data and may hold anything, ids never reach the reader. Edges in ``main_path``
    (source, target) are drawn bold in the accent colour so the usual way through the process
    can be followed among the exceptions.
    """
    graph = styled_digraph("process_map", rankdir="LR", spacing=("0.25", "0.4"),
                           node_margin="0.15,0.06", arrowsize="0.7")

    names = sorted(
        set(process_map.activities)
        | {n for e in process_map.edges for n in (e.source, e.target)}
        | set(process_map.start_activities)
        | set(process_map.end_activities)
    )
    ids = {name: f"a{index}" for index, name in enumerate(names)}
    for name in names:
        count = format_count(process_map.activities.get(name, 0))
        graph.node(ids[name], label=_label(*wrap_name(name), count))

    edges = _kept_edges(process_map, max_edges)
    position = {name: index for index, name in enumerate(flow_order(names, process_map, edges))}
    highest = max((e.frequency for e in edges), default=0)
    for edge in edges:
        pen = _pen_width(edge.frequency, highest)
        # An edge back against the flow (rework, loops) must not pull the layout round: it is
        # drawn, but only the forward edges decide which activity stands left of which.
        forward = {} if position[edge.source] < position[edge.target] else {"constraint": "false"}
        if (edge.source, edge.target) in main_path:
            graph.edge(
                ids[edge.source],
                ids[edge.target],
                label=_edge_label(edge),
                penwidth=f"{max(float(pen), _MAIN_PEN):.2f}",
                color=_ACCENT,
                fontcolor=_ACCENT,
                style="bold",
                **forward,
            )
        else:
            graph.edge(ids[edge.source], ids[edge.target], label=_edge_label(edge), penwidth=pen, **forward)

    _add_terminal(graph, "start", process_map.start_activities, ids, outgoing=True)
    _add_terminal(graph, "end", process_map.end_activities, ids, outgoing=False)
    if process_map.start_activities:
        graph.body.append("{rank=min; start}")
    if process_map.end_activities:
        graph.body.append("{rank=max; end}")
    return graph


def flow_order(names: Sequence[str], process_map: ProcessMap, edges: Sequence[MapEdge]) -> list[str]:
    """The activities in the order cases mostly go through them, for a left-to-right layout.

    A greedy feedback-arc-set ordering (Eades, Lin and Smyth), weighted by frequency: activities
    that only send go first, those that only receive last, and otherwise the one that sends the
    most more than it receives. Cases starting (ending) somewhere count as arrivals from the
    start (departures to the end). The edges this order runs backwards are the fewest cases'
    worth possible for a greedy choice: rework and loops, drawn without ranking the layout.
    """
    weight: dict[tuple[str, str], int] = {}
    for edge in edges:
        if edge.source != edge.target:
            weight[(edge.source, edge.target)] = weight.get((edge.source, edge.target), 0) + edge.frequency
    left = set(names)
    head: list[str] = []
    tail: list[str] = []

    def incoming(name: str) -> int:
        return sum(
            w for (source, target), w in weight.items() if target == name and source in left)

    def outgoing(name: str) -> int:
        return sum(w for (source, target), w in weight.items() if source == name and target in left)

    while left:
        sinks = sorted(n for n in left if outgoing(n) == 0)
        if sinks:
            for name in sorted(sinks, key=lambda n: (-process_map.end_activities.get(n, 0), n)):
                tail.insert(0, name)
                left.discard(name)
            continue
        sources = sorted(n for n in left if incoming(n) == 0)
        if sources:
            for name in sorted(sources, key=lambda n: (-process_map.start_activities.get(n, 0), n)):
                head.append(name)
                left.discard(name)
            continue
        best = max(sorted(left), key=lambda n: (
            outgoing(n) - incoming(n) + process_map.start_activities.get(n, 0)
            - process_map.end_activities.get(n, 0)))
        head.append(best)
        left.discard(best)
    return head + tail


def render_svg(graph: graphviz.Digraph, what: str) -> str:
    """Lay a graph out with dot and return its ``<svg>`` element, ready to inline in HTML.

    Graphviz escapes label text for XML itself, which is why the report may insert this SVG
    unescaped. The XML prolog, doctype and generator comments are cut off: they are not
    allowed inside HTML and the doctype carries a remote DTD address. ``what`` names the
    drawing in error messages.
    """
    try:
        raw: bytes = graph.pipe(format="svg")
    except graphviz.ExecutableNotFound as error:
        raise RuntimeError(_INSTALL_HINT) from error
    svg = raw.decode("utf-8")
    start = _SVG_START.search(svg)
    if start is None:
        raise RuntimeError(f"Graphviz returned no <svg> element for the {what}")
    return _keep_readable(svg[start.start() :].strip())


def _keep_readable(svg: str) -> str:
    """Let the page shrink a wide drawing only so far that its text stays readable.

    Graphviz sizes the drawing in points; below MIN_SCALE of that the labels would be smaller
    than 9 px, so the drawing keeps at least that width and its panel scrolls sideways instead.
    """
    found = _SVG_WIDTH.search(svg[: svg.find(">") + 1])
    if found is None:
        return svg
    pixels = float(found.group(1)) * 4 / 3 * MIN_SCALE
    return svg.replace("<svg", f'<svg style="min-width:{pixels:.0f}px"', 1)


def process_map_svg(
    process_map: ProcessMap,
    max_edges: int = 60,
    main_path: frozenset[tuple[str, str]] = frozenset(),
) -> str:
    """The process map as an ``<svg>`` element, ready to be inlined in an HTML page."""
    return render_svg(build_digraph(process_map, max_edges=max_edges, main_path=main_path), "process map")


def main_path(variants: Sequence[Variant]) -> frozenset[tuple[str, str]]:
    """The directly-follows pairs of the most frequent variant: the way most cases go."""
    if not variants:
        return frozenset()
    top = max(variants, key=lambda v: v.cases).activities
    return frozenset(zip(top, top[1:], strict=False))


def top_variants_map(variants: Sequence[Variant], limit: int = 5) -> ProcessMap:
    """The process map of only the cases that follow one of the ``limit`` most frequent variants.

    Frequencies are recounted from those cases, so every number on this map is about them.
    Waiting times are left out (None): they were measured over all cases, and a median of the
    whole log written on a filtered map would claim something nobody measured.
    """
    ranked = sorted(variants, key=lambda v: -v.cases)[: max(limit, 0)]
    activities: Counter[str] = Counter()
    pairs: Counter[tuple[str, str]] = Counter()
    cases_with: Counter[tuple[str, str]] = Counter()
    starts: Counter[str] = Counter()
    ends: Counter[str] = Counter()
    for variant in ranked:
        steps = variant.activities
        if not steps:
            continue
        for activity in steps:
            activities[activity] += variant.cases
        followed = list(zip(steps, steps[1:], strict=False))
        for pair in followed:
            pairs[pair] += variant.cases
        for pair in set(followed):
            cases_with[pair] += variant.cases
        starts[steps[0]] += variant.cases
        ends[steps[-1]] += variant.cases
    edges = tuple(
        MapEdge(source, target, frequency, cases_with[(source, target)], None, None)
        for (source, target), frequency in sorted(pairs.items())
    )
    return ProcessMap(dict(sorted(activities.items())), edges, dict(starts), dict(ends))
