"""Hand-built run summaries and HTML/SVG readers shared by the report tests (HTML and browser)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser

from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import DeviationPattern, RootCause
from kaizenflow.improvement.types import CREATED, IN_PROGRESS, OPEN, UNCHANGED, Task, TaskChange
from kaizenflow.mining.types import MapEdge, ProcessMap, Throughput, Variant
from kaizenflow.pipeline.summary import RunSummary

SCRIPT = "<script>alert(1)</script>"
IMG = '<img src=x onerror="alert(2)">'
QUOTES = 'say "quotes" & more'
BACKSLASHES = "C:\\temp\\new\\x"
HOSTILE = (SCRIPT, IMG, QUOTES, BACKSLASHES)

FINISHED = datetime(2024, 5, 2, 2, 14, tzinfo=UTC)
SVG_NS = "{http://www.w3.org/2000/svg}"
JAVASCRIPT_URL = "javascript:window.pwned=1"
#: Hostile strings that would set window.pwned if the page ever ran them.
PWNING = (
    "<script>window.pwned=1</script>",
    '<img src=x onerror="window.pwned=1">',
    '<svg onload="window.pwned=1"></svg>',
    JAVASCRIPT_URL,
)


# --------------------------------------------------------------------------- builders


def edge(source: str, target: str, frequency: int, wait: float | None = 5.0) -> MapEdge:
    return MapEdge(source, target, frequency, frequency, wait, None if wait is None else wait * 2)


def task_change(change: str, title: str, owner: str, baseline: float, current: float) -> TaskChange:
    task = Task(
        task_id=7,
        fingerprint="fp-7",
        process="Purchase to Pay",
        pattern_key="skipped:Approve PO",
        title=title,
        business_object="Purchase order",
        owner=owner,
        kpi_name="Share of orders without approval",
        baseline_value=baseline,
        current_value=current,
        target_value=0.02,
        status=OPEN if change == CREATED else IN_PROGRESS,
        cases=20,
        evidence={},
        created_run="run-0",
        last_seen_run="run-2",
    )
    return TaskChange(change, task)


def make_summary(
    activities: tuple[str, ...] = ("Create PO", "Approve PO", "Receive Goods", "Pay Invoice"),
    *,
    process: str = "Purchase to Pay",
    run_id: str = "2024-05-02T02-00-00Z",
    finished_at: datetime = FINISHED,
    conforming: int = 412,
    fitness: float | None = 0.9734,
    median_hours: float | None = 77.0,
    case_id: str = "PO-100231",
    attribute_value: str = "S-017",
    owner: str = "Jana Novak",
) -> RunSummary:
    """A small, realistic purchase-to-pay run; the parameters let a test make it hostile."""
    first, second, third, last = activities
    process_map = ProcessMap(
        activities={first: 500, second: 480, third: 470, last: 490},
        edges=(
            edge(first, second, 480, 3.2),
            edge(second, third, 460, 98.4),
            edge(first, third, 20, None),
            edge(third, last, 470, 30.0),
        ),
        start_activities={first: 500},
        end_activities={last: 490, third: 10},
    )
    return RunSummary(
        process=process,
        run_id=run_id,
        started_at=finished_at - timedelta(minutes=4),
        finished_at=finished_at,
        cases=500,
        events=2435,
        new_events=312,
        fitness=fitness,
        conforming_cases=conforming,
        incomplete_cases=23,
        unchecked_cases=0,
        throughput=Throughput(500, median_hours, None if median_hours is None else 178.0, 90.0),
        process_map=process_map,
        variants=[
            Variant(activities, 430, 0.86, 70.0),
            Variant((first, third, last), 20, 0.04, 110.0),
        ],
        patterns=[
            DeviationPattern(
                kind="skipped",
                activity=second,
                cases=20,
                share=0.04,
                extra_throughput_median_hours=36.0,
                extra_throughput_p90_hours=72.0,
                root_causes=(
                    RootCause("supplier", attribute_value, 16, 0.82, 6.1),
                    RootCause("plant", "P-02", 12, 0.6, 2.3),
                    RootCause("buyer", "B-4", 5, 0.25, 1.4),
                ),
                example_case_ids=(case_id, "PO-100877"),
            )
        ],
        task_changes=[
            task_change(UNCHANGED, "Keep invoices matched", owner, 0.1, 0.1),
            task_change(CREATED, f"Approve every order before {second}", owner, 0.12, 0.08),
        ],
        model_name="p2p-reference-v3",
        model_hash="sha256:9f2c1e",
        config_hash="sha256:41aa07",
        stage_seconds={"extract": 12.4, "discover": 3.1, "check": 41.0},
        software={"kaizenflow": "0.1.0", "pm4py": "2.7.23"},
    )


def hostile_summary() -> RunSummary:
    return make_summary(
        activities=(SCRIPT, IMG, QUOTES, BACKSLASHES),
        process=f"P2P {SCRIPT} {QUOTES}",
        case_id=SCRIPT,
        attribute_value=QUOTES,
        owner=IMG,
    )


class _Page(HTMLParser):
    """Collects text nodes, tags and attributes the way a browser's tokenizer would see them."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.texts.append(data)


def parse(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    page.close()
    return page


def svg_texts(svg: str) -> list[str]:
    return [node.text or "" for node in ET.fromstring(svg).iter(f"{SVG_NS}text")]


# --------------------------------------------------------------------------- model, variants, alignments


def designed_model(activities: tuple[str, ...], optional: int | None = 1) -> DesignedModel:
    """The activities in sequence; a silent step lets the case skip activity ``optional``."""
    from pm4py.objects.petri_net.obj import Marking, PetriNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    net = PetriNet("sequence")
    places = [PetriNet.Place(f"place{i}") for i in range(len(activities) + 1)]
    for place in places:
        net.places.add(place)
    for i, activity in enumerate(activities):
        transition = PetriNet.Transition(f"task{i}", activity)
        net.transitions.add(transition)
        add_arc_from_to(places[i], transition, net)
        add_arc_from_to(transition, places[i + 1], net)
    if optional is not None:
        skip = PetriNet.Transition("skip", None)
        net.transitions.add(skip)
        add_arc_from_to(places[optional], skip, net)
        add_arc_from_to(skip, places[optional + 1], net)
    return DesignedModel(
        name="sequence",
        net=net,
        initial_marking=Marking({places[0]: 1}),
        final_marking=Marking({places[-1]: 1}),
        activities=frozenset(activities),
        model_hash="test",
    )


def many_variants(activities: tuple[str, ...], count: int = 8) -> list[Variant]:
    """The usual sequence as the leading variant and ``count - 1`` rarer ones with detours."""
    first, second, third, last = activities
    shapes = [
        (first, second, third, last),
        (first, third, last),
        (first, second, last),
        (first, second, second, third, last),
        (first, third, second, last),
        (first, last),
        (first, second, third, third, last),
        (first, third, third, last),
    ]
    sizes = [300, 60, 40, 30, 20, 10, 5, 3]
    total = sum(sizes[:count])
    return [
        Variant(shape, size, size / total, 50.0 + index)
        for index, (shape, size) in enumerate(zip(shapes[:count], sizes[:count], strict=True))
    ]


def example_alignment(activities: tuple[str, ...], inserted: str) -> list[tuple[str | None, str | None]]:
    """The first activity in step, the second skipped, ``inserted`` done extra, the rest in step."""
    first, second, third, last = activities
    return [(first, first), (None, second), (inserted, None), (third, third), (last, last)]
