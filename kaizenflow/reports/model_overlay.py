"""The designed model with how often cases left each activity: BPMN as drawn, Petri nets via Graphviz."""

from __future__ import annotations

import html
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import graphviz

from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import INSERTED, REPEATED, SKIPPED, WRONG_ORDER, Deviation, VariantAlignment
from kaizenflow.reports.bpmn_drawing import bpmn_svg
from kaizenflow.reports.formatting import format_count
from kaizenflow.reports.process_map import render_svg, styled_digraph

_INK = "#1f2937"
_MUTED = "#6b7280"
_ACCENT = "#2563eb"
_NODE_FILL = "#eff6ff"
_START = "#16a34a"
_END = "#dc2626"
_BAD = "#b91c1c"
_BAD_SOFT = "#fef2f2"
_FONT = "Helvetica"

#: Characters an HTML-like Graphviz label cannot carry: its XML parser rejects control
#: characters (dot fails on them) and lone surrogates cannot even be encoded for it.
_UNSAFE_CHARACTERS = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def move_counts(alignments: Iterable[VariantAlignment]) -> tuple[dict[str, int], dict[str, int]]:
    """(skipped, inserted): model-only and log-only moves per activity, weighted by variant size.

    Each move of a variant's alignment stands for every case of that variant, so counts are
    weighted by ``cases``. A model move is work the model required that the case did not do
    (skipped); a log move is work the case did where the model allows none (inserted). An
    activity done at the wrong point shows as both, which is exactly what the alignment says:
    missing where the model wanted it, extra where it happened. Silent routing steps are not
    deviations and unchecked variants have no moves, so neither is counted.

    An alignment cannot tell a running case's pending step from a skipped one, so for logs
    with running cases these skips are an upper bound; :func:`deviation_counts` is exact.
    """
    skipped: Counter[str] = Counter()
    inserted: Counter[str] = Counter()
    for alignment in alignments:
        for move in alignment.moves:
            if move.log is None and move.model is not None:
                skipped[move.model] += alignment.cases
            elif move.log is not None and move.model is None:
                inserted[move.log] += alignment.cases
    return dict(sorted(skipped.items())), dict(sorted(inserted.items()))


def deviation_counts(deviations: Iterable[Deviation]) -> tuple[dict[str, int], dict[str, int]]:
    """(skipped, inserted): distinct cases per activity, from the checked per-case deviations.

    The same reading as :func:`move_counts` (a wrong-order step is missing in one place and
    extra in another, a repeated step is extra), but per case and without the work that
    running cases have simply not reached yet: alignments alone cannot tell a running case's
    pending step from a skipped one, the conformance check can. Prefer this for the overlay
    when the deviations are at hand, so its badges agree with the pattern table.
    """
    skipped: dict[str, set[str]] = {}
    inserted: dict[str, set[str]] = {}
    for deviation in deviations:
        if deviation.kind in (SKIPPED, WRONG_ORDER):
            skipped.setdefault(deviation.activity, set()).add(deviation.case_id)
        if deviation.kind in (INSERTED, REPEATED, WRONG_ORDER):
            inserted.setdefault(deviation.activity, set()).add(deviation.case_id)
    return (
        {activity: len(cases) for activity, cases in sorted(skipped.items())},
        {activity: len(cases) for activity, cases in sorted(inserted.items())},
    )


FITS = "fits"
FITS_SO_FAR = "fits so far"
DEVIATES = "deviates"
UNCHECKED = "not checked"


def variant_verdicts(alignments: Iterable[VariantAlignment]) -> dict[tuple[str, ...], str]:
    """Whether each variant follows the model, from its alignment, for the variants chart.

    A variant with only synchronous moves fits; one whose only deviations are model moves at
    its end fits so far (a running case has simply not reached the rest); any other log or
    model move deviates; a variant whose alignment ran out of time is not checked.
    """
    verdicts = {}
    for alignment in alignments:
        if not alignment.checked:
            verdicts[alignment.activities] = UNCHECKED
            continue
        kinds = [move.kind for move in alignment.moves if move.log is not None or move.model is not None]
        while kinds and kinds[-1] == "model":
            kinds.pop()
        trailing = len(kinds) < len([m for m in alignment.moves if m.log is not None or m.model is not None])
        if any(kind != "sync" for kind in kinds):
            verdicts[alignment.activities] = DEVIATES
        else:
            verdicts[alignment.activities] = FITS_SO_FAR if trailing else FITS
    return verdicts


def html_text(text: str) -> str:
    """Literal text for an HTML-like Graphviz label.

    Graphviz parses these labels as XML, so ``<``, ``>``, ``&`` and quotes are written as
    entities; it then still expands escString sequences such as ``\\N`` (the node's id) or
    ``\\G`` in the text, so backslashes are doubled. Control characters would make dot fail
    on the whole drawing, and a line break would be dropped silently: both become a space.
    """
    cleaned = _UNSAFE_CHARACTERS.sub(" ", text)
    return html.escape(cleaned, quote=True).replace("\\", "\\\\")


def _badges(skipped: int, inserted: int) -> str:
    cells = []
    if skipped:
        cells.append(f"skipped {format_count(skipped)}")
    if inserted:
        cells.append(f"inserted {format_count(inserted)}")
    return "".join(
        f'<TD BGCOLOR="{_BAD}" STYLE="rounded" CELLPADDING="2">'
        f'<FONT COLOR="white" POINT-SIZE="9">{html_text(cell)}</FONT></TD>'
        for cell in cells
    )


def _activity_label(name: str, skipped: int, inserted: int) -> str:
    """An HTML-like label: the activity's name and, below it, a red badge per kind of deviation."""
    rows = f"<TR><TD>{html_text(name)}</TD></TR>"
    badges = _badges(skipped, inserted)
    if badges:
        rows += (
            '<TR><TD><TABLE BORDER="0" CELLBORDER="0" CELLSPACING="3" CELLPADDING="0">'
            f"<TR>{badges}</TR></TABLE></TD></TR>"
        )
    return f'<<TABLE BORDER="0" CELLBORDER="0" CELLSPACING="0" CELLPADDING="1">{rows}</TABLE>>'


def _sorted_by_name(items: Iterable[Any]) -> list[Any]:
    """Petri net parts come in sets; sorting by name keeps the drawing the same every night."""
    return sorted(items, key=lambda item: (str(getattr(item, "label", None) or ""), str(item.name)))


def _add_places(graph: graphviz.Digraph, net: Any, model: DesignedModel) -> dict[Any, str]:
    """Places as small circles; the start place filled green, the end place a red double ring.

    The colours are those of the process map's start and end dots, so both drawings read alike.
    """
    ids: dict[Any, str] = {}
    for index, place in enumerate(_sorted_by_name(net.places)):
        ids[place] = f"p{index}"
        look: dict[str, str] = {"shape": "circle", "color": _MUTED, "fillcolor": "white"}
        if place in model.initial_marking:
            look = {"shape": "circle", "style": "filled", "fillcolor": _START, "color": _START}
        elif place in model.final_marking:
            look = {"shape": "doublecircle", "style": "filled", "fillcolor": _END, "color": _END}
        graph.node(ids[place], label="", width="0.22", height="0.22", fixedsize="true", **look)
    return ids


def _add_transitions(
    graph: graphviz.Digraph, net: Any, skipped: Mapping[str, int], inserted: Mapping[str, int]
) -> dict[Any, str]:
    """Activities as boxes (outlined red when cases deviated there), silent steps as black bars."""
    ids: dict[Any, str] = {}
    for index, transition in enumerate(_sorted_by_name(net.transitions)):
        ids[transition] = f"t{index}"
        label = transition.label
        if label is None:
            graph.node(
                ids[transition],
                label="",
                shape="box",
                style="filled",
                fillcolor=_INK,
                color=_INK,
                width="0.08",
                height="0.34",
                fixedsize="true",
            )
            continue
        skips, inserts = skipped.get(label, 0), inserted.get(label, 0)
        deviated = bool(skips or inserts)
        graph.node(
            ids[transition],
            label=_activity_label(label, skips, inserts),
            color=_BAD if deviated else _ACCENT,
            fillcolor=_BAD_SOFT if deviated else _NODE_FILL,
            penwidth="1.8" if deviated else "1.0",
        )
    return ids


def _add_unmodelled(graph: graphviz.Digraph, names: list[str], inserted: Mapping[str, int]) -> None:
    """Activities the cases did that the model does not know at all, in a box of their own."""
    if not names:
        return
    with graph.subgraph(name="cluster_unmodelled") as cluster:
        cluster.attr(
            label="Done, but not in the model",
            style="dashed,rounded",
            color=_BAD,
            fontcolor=_BAD,
            fontname=_FONT,
            fontsize="10",
        )
        for index, name in enumerate(names):
            cluster.node(
                f"u{index}",
                label=_activity_label(name, 0, inserted[name]),
                color=_BAD,
                fillcolor=_BAD_SOFT,
                style="rounded,filled,dashed",
            )


def build_model_digraph(
    model: DesignedModel, skipped: Mapping[str, int], inserted: Mapping[str, int]
) -> graphviz.Digraph:
    """The graph to lay out; separate from rendering so its DOT source can be inspected.

    Every node gets a synthetic id (p0, t0, u0): place and transition names of a converted
    BPMN file are data too, and only labels, escaped by :func:`html_text`, reach the page.
    """
    net = model.net
    graph = styled_digraph("designed_model", rankdir="LR", spacing=("0.3", "0.35"),
                           node_margin="0.1,0.04", arrowsize="0.6")
    ids = _add_places(graph, net, model) | _add_transitions(graph, net, skipped, inserted)
    arcs = sorted(net.arcs, key=lambda arc: (ids[arc.source], ids[arc.target]))
    for arc in arcs:
        weight = getattr(arc, "weight", 1)
        graph.edge(ids[arc.source], ids[arc.target], label=str(weight) if weight != 1 else "")
    modelled = {t.label for t in net.transitions if t.label is not None}
    unmodelled = sorted(name for name, count in inserted.items() if count and name not in modelled)
    _add_unmodelled(graph, unmodelled, inserted)
    return graph


def designed_model_svg(model: DesignedModel, skipped: dict[str, int], inserted: dict[str, int]) -> str:
    """The designed model with its deviations laid over it, as an ``<svg>`` element to inline.

    ``skipped`` and ``inserted`` count deviating moves per activity, as :func:`move_counts`
    returns them. An owner sees at once where the designed process is not followed; the
    pattern table below says why. A model read from BPMN is drawn as the BPMN its owner drew
    (:mod:`kaizenflow.reports.bpmn_drawing`); a Petri net as one, through Graphviz, which
    escapes the label text for SVG after :func:`html_text` has kept it from being label markup.
    """
    if model.diagram is not None and model.diagram.nodes:
        return bpmn_svg(model.diagram, skipped, inserted)
    return render_svg(build_model_digraph(model, skipped, inserted), "designed model")
