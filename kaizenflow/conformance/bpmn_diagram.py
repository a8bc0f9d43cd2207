"""The BPMN diagram an owner drew: its elements, flows, lanes and, when the file has them, positions.

The workflow net (:mod:`kaizenflow.conformance.bpmn`) is what cases are checked against; this is
what a report draws, so an owner recognises the model they designed instead of a Petri net.
Positions come from the file's BPMN DI (``bpmndi:BPMNShape`` bounds, ``bpmndi:BPMNEdge``
waypoints), as Signavio, Camunda and bpmn.io export it; without DI, ``has_layout`` is False and
a drawing lays the elements out itself. Only the chosen process is read (its pool and lanes);
a sub-process is one element of it, as a collapsed sub-process is drawn.
"""

from __future__ import annotations

from dataclasses import dataclass
from xml.etree.ElementTree import Element

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_DI = "{http://www.omg.org/spec/BPMN/20100524/DI}"
_DC = "{http://www.omg.org/spec/DD/20100524/DC}"
_DD_DI = "{http://www.omg.org/spec/DD/20100524/DI}"

TASK = "task"
SUB_PROCESS = "subprocess"
START = "start"
END = "end"
INTERMEDIATE = "intermediate"
EXCLUSIVE = "exclusive"
PARALLEL = "parallel"
INCLUSIVE = "inclusive"

_KINDS = {
    **dict.fromkeys(("task", "userTask", "serviceTask", "manualTask", "scriptTask", "businessRuleTask",
                     "sendTask", "receiveTask"), TASK),
    "subProcess": SUB_PROCESS,
    "callActivity": SUB_PROCESS,
    "startEvent": START,
    "endEvent": END,
    "intermediateCatchEvent": INTERMEDIATE,
    "intermediateThrowEvent": INTERMEDIATE,
    "exclusiveGateway": EXCLUSIVE,
    "parallelGateway": PARALLEL,
    "inclusiveGateway": INCLUSIVE,
}


@dataclass(frozen=True)
class Bounds:
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class DiagramNode:
    """A flow element: ``kind`` is one of TASK, SUB_PROCESS, START, END, INTERMEDIATE or a gateway.

    ``name`` is the element's name with its whitespace runs made single spaces, the form the
    net's activity labels take, so a task's name matches the activity the checks count.
    """

    element_id: str
    kind: str
    name: str
    bounds: Bounds | None = None


@dataclass(frozen=True)
class DiagramFlow:
    element_id: str
    source: str
    target: str
    name: str
    waypoints: tuple[tuple[float, float], ...] = ()


@dataclass(frozen=True)
class DiagramBand:
    """A pool or a lane: a named band the elements sit in (``pool`` False for a lane)."""

    element_id: str
    name: str
    pool: bool
    bounds: Bounds | None = None


@dataclass(frozen=True)
class BpmnDiagram:
    nodes: tuple[DiagramNode, ...]
    flows: tuple[DiagramFlow, ...]
    bands: tuple[DiagramBand, ...] = ()

    @property
    def has_layout(self) -> bool:
        """Whether every element and flow has a position from the file (its BPMN DI)."""
        return bool(self.nodes) and all(n.bounds is not None for n in self.nodes) and all(
            len(f.waypoints) >= 2 for f in self.flows)


def _local(element: Element) -> str | None:
    tag = element.tag
    return tag[len(_BPMN):] if isinstance(tag, str) and tag.startswith(_BPMN) else None


def _name(element: Element) -> str:
    return " ".join((element.get("name") or "").split())


def _bounds(shape: Element) -> Bounds | None:
    found = shape.find(f"{_DC}Bounds")
    if found is None:
        return None
    try:
        return Bounds(*(float(found.get(key, "")) for key in ("x", "y", "width", "height")))
    except ValueError:
        return None


def _waypoints(edge: Element) -> tuple[tuple[float, float], ...]:
    points = []
    for point in edge.findall(f"{_DD_DI}waypoint"):
        try:
            points.append((float(point.get("x", "")), float(point.get("y", ""))))
        except ValueError:
            return ()
    return tuple(points)


def choose_process(root: Element, choice: str | None) -> Element | None:
    """The process the net was built from (the same choice rules, without their error messages).

    :func:`kaizenflow.conformance.bpmn.bpmn_net` has already refused an ambiguous or unknown
    choice by the time a diagram is read, so None here only means "nothing to draw".
    """
    processes = root.findall(f"{_BPMN}process")
    pools = {p.get("processRef"): p for p in root.iter(f"{_BPMN}participant")}
    if choice is not None:
        for process in processes:
            pool = pools.get(process.get("id"))
            names = {process.get("id"), process.get("name")}
            if pool is not None:
                names |= {pool.get("id"), pool.get("name")}
            if choice in names:
                return process
        return None
    called = {c.get("calledElement") for c in root.iter(f"{_BPMN}callActivity")}
    candidates = [p for p in processes if p.get("id") not in called
                  and any(_local(c) in _KINDS for c in p)]
    return candidates[0] if len(candidates) == 1 else None


def read_diagram(root: Element, process: str | None = None) -> BpmnDiagram | None:
    """The diagram of the chosen process of a safely parsed BPMN file; None when there is none.

    A diagram is a drawing aid: anything it cannot read (a shape without bounds, a waypoint that
    is not a number) leaves that position unknown, and the drawing falls back to its own layout.
    """
    scope = choose_process(root, process)
    if scope is None:
        return None
    shapes: dict[str, Bounds] = {}
    edges: dict[str, tuple[tuple[float, float], ...]] = {}
    for shape in root.iter(f"{_DI}BPMNShape"):
        found = _bounds(shape)
        if found is not None and shape.get("bpmnElement"):
            shapes[shape.get("bpmnElement", "")] = found
    for edge in root.iter(f"{_DI}BPMNEdge"):
        if edge.get("bpmnElement"):
            edges[edge.get("bpmnElement", "")] = _waypoints(edge)
    nodes = []
    flows = []
    for child in scope:
        tag = _local(child)
        element_id = child.get("id", "")
        if tag in _KINDS and element_id:
            nodes.append(DiagramNode(element_id, _KINDS[tag], _name(child), shapes.get(element_id)))
        elif tag == "sequenceFlow" and element_id:
            flows.append(DiagramFlow(element_id, child.get("sourceRef", ""), child.get("targetRef", ""),
                                     _name(child), edges.get(element_id, ())))
    known = {node.element_id for node in nodes}
    flows = [f for f in flows if f.source in known and f.target in known]
    return BpmnDiagram(tuple(nodes), tuple(flows), _bands(root, scope, shapes))


def _bands(root: Element, scope: Element, shapes: dict[str, Bounds]) -> tuple[DiagramBand, ...]:
    bands = [
        DiagramBand(pool.get("id", ""), _name(pool), True, shapes.get(pool.get("id", "")))
        for pool in root.iter(f"{_BPMN}participant") if pool.get("processRef") == scope.get("id")
    ]
    for lane_set in scope.findall(f"{_BPMN}laneSet"):
        for lane in lane_set.iter(f"{_BPMN}lane"):
            bands.append(DiagramBand(lane.get("id", ""), _name(lane), False, shapes.get(lane.get("id", ""))))
    return tuple(bands)
