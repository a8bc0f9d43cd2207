"""Models too large or too hostile to keep as files, written as ProM and bpmn.io export them."""

from __future__ import annotations

from itertools import count

_BPMN_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
    'id="Definitions_generated" targetNamespace="http://bpmn.io/schema/bpmn" '
    'exporter="bpmn-js (https://demo.bpmn.io)" exporterVersion="17.0.2">\n'
)
_BPMN_TAIL = (
    '  <bpmndi:BPMNDiagram id="BPMNDiagram_1"><bpmndi:BPMNPlane id="BPMNPlane_1" bpmnElement="Process_1">'
    '<bpmndi:BPMNShape id="Start_di" bpmnElement="Start"><dc:Bounds x="152" y="102" width="36" height="36" />'
    "</bpmndi:BPMNShape></bpmndi:BPMNPlane></bpmndi:BPMNDiagram>\n</bpmn:definitions>\n"
)


def branch_activities(branch: int) -> tuple[str, str, str]:
    """The activities of one branch of ``prom_concurrent_pnml``: A, optional B, C (C may repeat B..C)."""
    return f"Prepare part {branch}", f"Inspect part {branch}", f"Fit part {branch}"


def prom_concurrent_pnml(branches: int) -> str:
    """A ProM 6 PNML export of an inductive-miner-like net: "Open", then ``branches`` parallel
    branches (A; optional B; C; back to B or on), joined, then "Close". 5 places a branch + 3."""
    ids = count(1)
    places: list[str] = []
    transitions: list[str] = []
    arcs: list[tuple[str, str]] = []

    def place(name: str | None = None, tokens: int = 0) -> str:
        node = f"n{next(ids)}"
        marking = f"<initialMarking><text>{tokens}</text></initialMarking>" if tokens else ""
        places.append(
            f'<place id="{node}"><name><text>{name or node}</text></name>'
            f'<toolspecific tool="ProM" version="6.4" localNodeID="{node}-lid"/>'
            f'<graphics><position x="11.25" y="11.25"/><dimension x="12.5" y="12.5"/></graphics>'
            f"{marking}</place>")
        return node

    def transition(label: str | None) -> str:
        node = f"n{next(ids)}"
        invisible = ('<toolspecific tool="ProM" version="6.4" activity="$invisible$" '
                     f'localNodeID="{node}-lid"/>' if label is None else "")  # ProM marks silent steps only
        transitions.append(
            f'<transition id="{node}"><name><text>{label or "tau"}</text></name>{invisible}'
            f'<graphics><position x="17.5" y="15.0"/><dimension x="25.0" y="20.0"/></graphics></transition>')
        return node

    source, sink = place("source", 1), place("sink")
    opened, join, closing, close = transition("Open"), transition(None), place(), transition("Close")
    arcs += [(source, opened), (join, closing), (closing, close), (close, sink)]
    for branch in range(branches):
        first, second, third = branch_activities(branch)
        p0, p1, p2, p3, p4 = (place() for _ in range(5))
        a, b, skip, c, redo, done = (transition(first), transition(second), transition(None),
                                     transition(third), transition(None), transition(None))
        arcs += [(opened, p0), (p0, a), (a, p1), (p1, b), (b, p2), (p1, skip), (skip, p2), (p2, c), (c, p3),
                 (p3, redo), (redo, p1), (p3, done), (done, p4), (p4, join)]
    arc_elements = [
        f'<arc id="n{next(ids)}" source="{s}" target="{t}"><name><text>1</text></name>'
        f'<toolspecific tool="ProM" version="6.4" localNodeID="arc-{s}-{t}"/><arctype><text>normal</text>'
        "</arctype></arc>" for s, t in arcs]
    return "\n".join([
        '<?xml version="1.0" encoding="ISO-8859-1"?>', "<pnml>",
        '<net id="net1" type="http://www.pnml.org/version-2009/grammar/pnmlcoremodel">',
        f"<name><text>Concurrent assembly ({branches} branches)</text></name>", '<page id="n0">',
        *places, *transitions, *arc_elements, "</page>",
        f'<finalmarkings><marking><place idref="{sink}"><text>1</text></place></marking></finalmarkings>',
        "</net>", "</pnml>", ""])


def parallel_bpmn(branches: int, tasks: int = 2) -> str:
    """A bpmn.io export: one parallel block of ``branches`` branches of ``tasks`` tasks each."""
    lines = ['  <bpmn:process id="Process_1" isExecutable="false">', '    <bpmn:startEvent id="Start" />',
             '    <bpmn:parallelGateway id="Split" />', '    <bpmn:parallelGateway id="Join" />',
             '    <bpmn:endEvent id="End" />',
             '    <bpmn:sequenceFlow id="F_start" sourceRef="Start" targetRef="Split" />',
             '    <bpmn:sequenceFlow id="F_end" sourceRef="Join" targetRef="End" />']
    for branch in range(branches):
        previous = "Split"
        for task in range(tasks):
            node = f"Task_{branch}_{task}"
            lines.append(f'    <bpmn:task id="{node}" name="Branch {branch} step {task}" />')
            lines.append(f'    <bpmn:sequenceFlow id="F_{node}" sourceRef="{previous}" targetRef="{node}" />')
            previous = node
        lines.append(f'    <bpmn:sequenceFlow id="F_join_{branch}" sourceRef="{previous}" '
                     'targetRef="Join" />')
    lines.append("  </bpmn:process>")
    return _BPMN_HEAD + "\n".join(lines) + "\n" + _BPMN_TAIL


def nested_subprocess_bpmn(depth: int) -> str:
    """Sub-processes nested ``depth`` deep, each holding the next between its start and end."""
    opening, closing = [], []
    for level in range(depth):
        inner = f"Sub_{level + 1}"
        opening.append(f'<bpmn:subProcess id="Sub_{level}"><bpmn:startEvent id="S_{level}" />'
                       f'<bpmn:endEvent id="E_{level}" />'
                       f'<bpmn:sequenceFlow id="FA_{level}" sourceRef="S_{level}" targetRef="{inner}" />'
                       f'<bpmn:sequenceFlow id="FB_{level}" sourceRef="{inner}" targetRef="E_{level}" />')
        closing.append("</bpmn:subProcess>")
    opening.append(f'<bpmn:task id="Sub_{depth}" name="Innermost" />')
    return (_BPMN_HEAD + '  <bpmn:process id="Process_1" isExecutable="false"><bpmn:startEvent id="Start" />'
            '<bpmn:endEvent id="End" /><bpmn:sequenceFlow id="F1" sourceRef="Start" targetRef="Sub_0" />'
            '<bpmn:sequenceFlow id="F2" sourceRef="Sub_0" targetRef="End" />'
            + "".join(opening) + "".join(reversed(closing)) + "</bpmn:process>\n" + _BPMN_TAIL)


def doubling_calls_bpmn(levels: int) -> str:
    """Processes each calling the next twice, ``levels`` deep: 2**levels copies once inlined."""
    processes = []
    for level in range(levels):
        if level == levels - 1:
            body = f'<bpmn:task id="T_{level}" name="Work" />'
            flows = (f'<bpmn:sequenceFlow id="F{level}_1" sourceRef="S{level}" targetRef="T_{level}" />'
                     f'<bpmn:sequenceFlow id="F{level}_2" sourceRef="T_{level}" targetRef="E{level}" />')
        else:
            body = (f'<bpmn:callActivity id="C{level}_a" calledElement="P{level + 1}" />'
                    f'<bpmn:callActivity id="C{level}_b" calledElement="P{level + 1}" />')
            flows = (f'<bpmn:sequenceFlow id="F{level}_1" sourceRef="S{level}" targetRef="C{level}_a" />'
                     f'<bpmn:sequenceFlow id="F{level}_2" sourceRef="C{level}_a" targetRef="C{level}_b" />'
                     f'<bpmn:sequenceFlow id="F{level}_3" sourceRef="C{level}_b" targetRef="E{level}" />')
        processes.append(f'  <bpmn:process id="P{level}"><bpmn:startEvent id="S{level}" />{body}'
                         f'<bpmn:endEvent id="E{level}" />{flows}</bpmn:process>')
    return _BPMN_HEAD + "\n".join(processes) + "\n</bpmn:definitions>\n"
