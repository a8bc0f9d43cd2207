"""Property tests: a mutated BPMN or PNML file loads or is refused in one ModelError line, in bounded
time; and the reduction rules never call a net sound that exploring its markings finds unsound."""

from __future__ import annotations

import copy
from datetime import timedelta
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any
from xml.etree import ElementTree

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from benchmarks.model_generators import prom_concurrent_pnml
from kaizenflow.conformance.models import ModelError, load_model
from kaizenflow.conformance.soundness import _explore, reduces_to_a_single_step

BPMN = Path(__file__).parent / "data" / "real_world" / "models" / "camunda7_claim_boundary_events.bpmn"
PNML = prom_concurrent_pnml(2)

#: Each example must load or be refused well within this; a hang or a blow-up fails the test.
MUTATION = settings(max_examples=25, deadline=timedelta(seconds=10),
                    suppress_health_check=[HealthCheck.too_slow])

ATTRIBUTES = ("id", "sourceRef", "targetRef", "attachedToRef", "cancelActivity", "calledElement", "name",
              "triggeredByEvent", "isForCompensation", "source", "target", "idref", "errorRef")
VALUES = st.one_of(st.sampled_from(("", "true", "false", "0", "-1", "99999999999999999999", "$invisible$")),
                   st.text(max_size=12))

# one mutation: (kind, element index, other element index, attribute, value, nesting depth)
mutations = st.tuples(st.sampled_from(("delete", "duplicate", "attribute", "clash", "nest")),
                      st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(ATTRIBUTES), VALUES,
                      st.integers(1, 300))


def mutate(text: str, steps: list[tuple[str, int, int, str, str, int]]) -> bytes:
    root = ElementTree.fromstring(text)
    for kind, first, second, attribute, value, depth in steps:
        parents = {child: parent for parent in root.iter() for child in parent}
        elements = [e for e in root.iter() if e is not root]
        if not elements:
            break
        element, other = elements[first % len(elements)], elements[second % len(elements)]
        parent = parents[element]
        if kind == "delete":
            parent.remove(element)
        elif kind == "duplicate":
            parent.insert(list(parent).index(element) + 1, copy.deepcopy(element))
        elif kind == "attribute":
            element.set(attribute, value)
        elif kind == "clash":
            element.set("id", other.get("id", value))
        else:  # wrap the element in ``depth`` elements of its parent's kind
            position = list(parent).index(element)
            parent.remove(element)
            inner = element
            for level in range(depth):
                wrapper = ElementTree.Element(parent.tag, {"id": f"nest_{level}"})
                wrapper.append(inner)
                inner = wrapper
            parent.insert(position, inner)
    return ElementTree.tostring(root)


def loads_or_refuses_in_one_line(data: bytes, suffix: str) -> None:
    with TemporaryDirectory() as folder:
        path = Path(folder) / f"mutated{suffix}"
        path.write_bytes(data)
        try:
            model = load_model(path)
        except ModelError as error:
            message = str(error)
            assert message.startswith(str(path)) and "\n" not in message, message
        else:
            assert model.activities and not model.soundness.startswith("not a sound")


@MUTATION
@given(st.lists(mutations, min_size=1, max_size=4))
def test_a_mutated_bpmn_export_loads_or_is_refused_in_one_line(steps: list[Any]) -> None:
    loads_or_refuses_in_one_line(mutate(BPMN.read_text(encoding="utf-8"), steps), ".bpmn")


@MUTATION
@given(st.lists(mutations, min_size=1, max_size=4))
def test_a_mutated_prom_pnml_loads_or_is_refused_in_one_line(steps: list[Any]) -> None:
    loads_or_refuses_in_one_line(mutate(PNML, steps), ".pnml")


# --- the reduction rules against exploration --------------------------------------------------


blocks = st.recursive(
    st.just("task"),
    lambda inner: st.tuples(st.sampled_from(("seq", "xor", "and", "loop")), inner, inner),
    max_leaves=6,
)


def block_net(tree: Any) -> tuple[Any, Any, Any]:
    """A block-structured workflow net (sequences, choices, parallel blocks, loops): always sound."""
    from kaizenflow.conformance.petri import Marking, Net, Place, Transition

    net = Net("blocks")
    names = iter(range(10_000))

    def place() -> Any:
        node = Place(f"p{next(names)}")
        net.places.add(node)
        return node

    def step(label: str | None = None) -> Any:
        node = Transition(f"t{next(names)}", label)
        net.transitions.add(node)
        return node

    def build(block: Any, entry: Any, exit_: Any) -> None:
        if block == "task":
            task = step(f"T{len(net.transitions)}")
            net.connect(entry, task)
            net.connect(task, exit_)
            return
        kind, first, second = block
        if kind == "seq":
            middle = place()
            build(first, entry, middle)
            build(second, middle, exit_)
        elif kind == "xor":
            build(first, entry, exit_)
            build(second, entry, exit_)
        elif kind == "and":
            split, join = step(), step()
            net.connect(entry, split)
            net.connect(join, exit_)
            for branch in (first, second):
                start, end = place(), place()
                net.connect(split, start)
                net.connect(end, join)
                build(branch, start, end)
        else:  # loop: first, then either leave or do second and first again
            head, middle, leave = place(), place(), step()
            enter = step()
            net.connect(entry, enter)
            net.connect(enter, head)
            build(first, head, middle)
            build(second, middle, head)
            net.connect(middle, leave)
            net.connect(leave, exit_)

    source, sink = place(), place()
    build(tree, source, sink)
    return net, Marking({source: 1}), Marking({sink: 1})


@settings(max_examples=150, deadline=None)
@given(blocks, st.integers(0, 10_000), st.integers(0, 10_000), st.sampled_from(("add", "remove", "none")))
def test_the_reduction_rules_decide_block_nets_and_never_call_an_unsound_net_sound(
    tree: Any, first: int, second: int, change: str
) -> None:
    net, initial, final = block_net(tree)
    assert reduces_to_a_single_step(net, initial, final)
    places = sorted(net.places, key=lambda p: p.name)
    transitions = sorted(net.transitions, key=lambda t: t.name)
    if change == "add":  # an extra arc, into or out of a transition, often makes the net unsound
        place, transition = places[first % len(places)], transitions[second % len(transitions)]
        if first % 2 and place not in initial:
            net.connect(place, transition)
        elif place not in final:
            net.connect(transition, place)
    elif change == "remove":
        arc = sorted(net.arcs, key=lambda a: (a.source.name, a.target.name))[first % len(net.arcs)]
        net.arcs.discard(arc)
        arc.source.out_arcs.discard(arc)
        arc.target.in_arcs.discard(arc)
    if reduces_to_a_single_step(net, initial, final):
        assert _explore(net, initial, final, 10_000, 10.0).sound is True
