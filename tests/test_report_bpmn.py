"""Tests of the designed BPMN model as the report draws it: read from the file, drawn as designed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path

import pytest
from report_fixtures import SCRIPT, SVG_NS, designed_model, make_summary, parse

from kaizenflow.conformance.bpmn_diagram import END, EXCLUSIVE, PARALLEL, START, TASK, Bounds
from kaizenflow.conformance.models import load_model
from kaizenflow.reports.bpmn_drawing import bpmn_svg, is_bpmn_drawing, wrap
from kaizenflow.reports.html import render_run_report
from kaizenflow.reports.model_overlay import designed_model_svg

SAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.bpmn"

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
NAMESPACES = (
    'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
    'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" xmlns:di="http://www.omg.org/spec/DD/20100524/DI"'
)


def shape(element: str, x: int, y: int, width: int, height: int) -> str:
    return (f'<bpmndi:BPMNShape id="{element}_di" bpmnElement="{element}">'
            f'<dc:Bounds x="{x}" y="{y}" width="{width}" height="{height}"/></bpmndi:BPMNShape>')


def waypoints(element: str, *points: tuple[int, int]) -> str:
    inner = "".join(f'<di:waypoint x="{x}" y="{y}"/>' for x, y in points)
    return f'<bpmndi:BPMNEdge id="{element}_di" bpmnElement="{element}">{inner}</bpmndi:BPMNEdge>'


def lane_model(first: str = "Order goods", second: str = "Pay supplier", *, with_di: bool = True) -> str:
    """A pool with two lanes, one task in each; BPMN DI positions unless ``with_di`` is False."""
    positions = "".join((
        shape("Pool", 100, 50, 700, 300), shape("L1", 130, 50, 670, 150), shape("L2", 130, 200, 670, 150),
        shape("S", 170, 107, 36, 36), shape("T1", 260, 85, 100, 80), shape("T2", 420, 235, 100, 80),
        shape("E", 600, 257, 36, 36),
        waypoints("F1", (206, 125), (260, 125)),
        waypoints("F2", (360, 125), (390, 125), (390, 275), (420, 275)),
        waypoints("F3", (520, 275), (600, 275)),
    ))
    diagram = f'<bpmndi:BPMNDiagram id="D"><bpmndi:BPMNPlane id="P" bpmnElement="Collab">{positions}' \
              "</bpmndi:BPMNPlane></bpmndi:BPMNDiagram>"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="{BPMN}" {NAMESPACES} id="Defs" targetNamespace="http://example.com">
  <collaboration id="Collab"><participant id="Pool" name="Procurement" processRef="Proc"/></collaboration>
  <process id="Proc" name="Buy">
    <laneSet id="LS">
      <lane id="L1" name="Buyer"><flowNodeRef>S</flowNodeRef><flowNodeRef>T1</flowNodeRef></lane>
      <lane id="L2" name="Accounts payable"><flowNodeRef>T2</flowNodeRef><flowNodeRef>E</flowNodeRef></lane>
    </laneSet>
    <startEvent id="S" name="Need"/>
    <task id="T1" name="{first}"/>
    <task id="T2" name="{second}"/>
    <endEvent id="E" name="Paid"/>
    <sequenceFlow id="F1" sourceRef="S" targetRef="T1"/>
    <sequenceFlow id="F2" sourceRef="T1" targetRef="T2"/>
    <sequenceFlow id="F3" sourceRef="T2" targetRef="E"/>
  </process>{diagram if with_di else ""}
</definitions>
"""


def write(tmp_path: Path, text: str, name: str = "model.bpmn") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def texts(svg: str) -> list[str]:
    """Every line of text the drawing shows (tspans of wrapped names included)."""
    root = ET.fromstring(svg)
    return [node.text or "" for node in root.iter() if node.tag in (f"{SVG_NS}text", f"{SVG_NS}tspan")]


def titles(svg: str) -> list[str]:
    return [node.text or "" for node in ET.fromstring(svg).iter(f"{SVG_NS}title")]


@pytest.fixture(scope="module")
def sample_svg() -> str:
    model = load_model(SAMPLE)
    approve = "Approve Purchase Order"
    return designed_model_svg(model, {approve: 133}, {approve: 128, "Fax": 3})


def test_the_sample_model_keeps_its_tasks_gateways_events_and_positions() -> None:
    diagram = load_model(SAMPLE).diagram
    assert diagram is not None and diagram.has_layout
    kinds = [node.kind for node in diagram.nodes]
    assert kinds.count(TASK) == 7 and kinds.count(EXCLUSIVE) == 2 and kinds.count(PARALLEL) == 2
    assert kinds.count(START) == 1 and kinds.count(END) == 1 and len(diagram.flows) == 14
    create = next(node for node in diagram.nodes if node.name == "Create Purchase Requisition")
    assert create.bounds == Bounds(240, 160, 100, 80)  # where the modeller put it
    assert {flow.name for flow in diagram.flows} >= {"yes", "no"}


def test_the_sample_is_drawn_as_bpmn_shapes_not_as_a_petri_net(sample_svg: str) -> None:
    root = ET.fromstring(sample_svg)
    assert is_bpmn_drawing(sample_svg)
    groups = [g.get("class", "") for g in root.iter(f"{SVG_NS}g")]
    assert sum(c.startswith("bpmn-task") for c in groups) == 7
    assert groups.count("bpmn-gateway") == 4 and groups.count("bpmn-event") == 2
    assert len(list(root.iter(f"{SVG_NS}polyline"))) == 14  # one arrow per sequence flow
    assert "Change needed?" in texts(sample_svg) and "yes" in texts(sample_svg)


def test_tasks_carry_their_skipped_and_inserted_counts(sample_svg: str) -> None:
    assert "skipped 133" in texts(sample_svg) and "inserted 128" in texts(sample_svg)
    assert any(t.startswith("Approve Purchase Order \u2014 133 cases skipped it; 128 cases did it")
               for t in titles(sample_svg))
    deviated = [g for g in ET.fromstring(sample_svg).iter(f"{SVG_NS}g") if "deviated" in g.get("class", "")]
    assert len(deviated) == 1


def test_activities_the_model_lacks_are_drawn_beside_it(sample_svg: str) -> None:
    assert "Done, but not in the model:" in texts(sample_svg)
    assert "Fax" in texts(sample_svg) and "inserted 3" in texts(sample_svg)


def test_the_drawing_needs_no_url_reference(sample_svg: str) -> None:
    """Arrowheads are drawn polygons: the report forbids url() (no markers, no remote anything)."""
    assert "url(" not in sample_svg and "marker" not in sample_svg


def test_pools_and_lanes_are_drawn_as_named_bands(tmp_path: Path) -> None:
    model = load_model(write(tmp_path, lane_model()))
    diagram = model.diagram
    assert diagram is not None
    assert [(b.name, b.pool) for b in diagram.bands] == [("Procurement", True), ("Buyer", False),
                                                        ("Accounts payable", False)]
    svg = designed_model_svg(model, {}, {})
    assert {"Procurement", "Buyer", "Accounts payable"} <= set(texts(svg))


def test_a_model_without_positions_is_laid_out_by_graphviz_left_to_right(tmp_path: Path) -> None:
    model = load_model(write(tmp_path, lane_model(with_di=False)))
    assert model.diagram is not None and not model.diagram.has_layout
    svg = designed_model_svg(model, {"Pay supplier": 4}, {})
    assert is_bpmn_drawing(svg)
    shown = " ".join(texts(svg))
    assert "Order goods" in shown and "Pay supplier" in shown and "skipped 4" in shown
    assert len(list(ET.fromstring(svg).iter(f"{SVG_NS}polygon"))) >= 3  # arrowheads are drawn shapes


def test_hostile_task_names_are_text(tmp_path: Path) -> None:
    name = SCRIPT.replace("<", "&lt;").replace(">", "&gt;")  # as the XML file must hold it
    model = load_model(write(tmp_path, lane_model(first=name)))
    assert model.diagram is not None
    unplaced = replace(model.diagram, nodes=tuple(replace(n, bounds=None) for n in model.diagram.nodes))
    for svg in (designed_model_svg(model, {SCRIPT: 2}, {}), bpmn_svg(unplaced, {SCRIPT: 2}, {})):
        assert "<script" not in svg
        assert SCRIPT in "".join(texts(svg))  # the name, broken over lines of its box, as text
        assert ET.fromstring(svg) is not None  # well-formed: nothing broke out of its text node


def test_a_petri_net_model_keeps_the_petri_net_drawing() -> None:
    svg = designed_model_svg(designed_model(("A", "B", "C", "D")), {"B": 2}, {})
    assert not is_bpmn_drawing(svg)


def test_the_report_explains_bpmn_shapes_for_a_bpmn_model(sample_svg: str) -> None:
    html = render_run_report(make_summary(), model_svg=sample_svg)
    section = html.split('id="designed-model"', 1)[1].split("</section>", 1)[0]
    assert "gateways (diamonds)" in section and "black bars" not in section
    assert 'class="map model bpmn-wrap"' in section
    assert "skipped 133" in parse(section).texts


@pytest.mark.parametrize(
    ("name", "width", "lines"),
    [
        ("Create Purchase Requisition", 90, ["Create", "Purchase", "Requisition"]),
        ("Pay", 90, ["Pay"]),
        ("Approve the purchase order of the requisition", 90, ["Approve the", "purchase", "order of\u2026"]),
    ],
)
def test_names_wrap_to_the_width_of_their_box(name: str, width: float, lines: list[str]) -> None:
    assert wrap(name, width, 15, 3) == lines
