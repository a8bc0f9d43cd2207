"""Plain Petri nets and a PNML reader, so that checking against a known model never imports pm4py.

Importing pm4py costs seconds (it loads its whole package); a night whose variants are all in
the alignment cache needs none of it. The classes carry the attributes pm4py's own net objects
have (``places``, ``transitions``, ``in_arcs``, ``label``, ...), so code that only reads a net
works with either; ``to_pm4py`` converts when a pm4py algorithm needs its own objects.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from kaizenflow.conformance.errors import ModelError


# Plain classes, not dataclasses: a net is a cyclic graph, and tools that walk dataclass fields
# (Prefect resolving a task's parameters, for one) would recurse around it forever.
class Place:
    def __init__(self, name: str) -> None:
        self.name = name
        self.in_arcs: set[Arc] = set()
        self.out_arcs: set[Arc] = set()

    def __repr__(self) -> str:
        return f"Place({self.name!r})"


class Transition:
    def __init__(self, name: str, label: str | None = None) -> None:
        self.name = name
        self.label = label
        self.in_arcs: set[Arc] = set()
        self.out_arcs: set[Arc] = set()

    def __repr__(self) -> str:
        return f"Transition({self.name!r}, {self.label!r})"


class Arc:
    def __init__(self, source: Place | Transition, target: Place | Transition, weight: int = 1) -> None:
        self.source = source
        self.target = target
        self.weight = weight

    def __repr__(self) -> str:
        return f"Arc({self.source.name!r} -> {self.target.name!r}, {self.weight})"


class Marking(Counter[Any]):
    """Tokens per place."""


class Net:
    def __init__(self, name: str) -> None:
        self.name = name
        self.places: set[Place] = set()
        self.transitions: set[Transition] = set()
        self.arcs: set[Arc] = set()

    def __repr__(self) -> str:
        return f"Net({self.name!r}, {len(self.places)} places, {len(self.transitions)} transitions)"

    def connect(self, source: Place | Transition, target: Place | Transition, weight: int = 1) -> None:
        arc = Arc(source, target, weight)
        self.arcs.add(arc)
        source.out_arcs.add(arc)
        target.in_arcs.add(arc)


def copy_net(net: Any, initial: Any, final: Any) -> tuple[Net, Marking, Marking]:
    """A plain copy of any net with pm4py's attributes (ours or pm4py's), to change freely."""
    copied = Net(str(getattr(net, "name", "net")))
    nodes: dict[Any, Any] = {}
    for place in net.places:
        nodes[place] = Place(str(place.name))
        copied.places.add(nodes[place])
    for transition in net.transitions:
        nodes[transition] = Transition(str(transition.name), transition.label)
        copied.transitions.add(nodes[transition])
    for arc in net.arcs:
        copied.connect(nodes[arc.source], nodes[arc.target], arc.weight)
    return (copied, Marking({nodes[p]: n for p, n in initial.items()}),
            Marking({nodes[p]: n for p, n in final.items()}))


def to_pm4py(net: Any, initial: Any, final: Any) -> tuple[Any, Any, Any]:
    """The same net as pm4py objects (a pm4py net is returned as it is)."""
    if not isinstance(net, Net):
        return net, initial, final
    from pm4py.objects.petri_net.obj import Marking as Pm4pyMarking
    from pm4py.objects.petri_net.obj import PetriNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    converted = PetriNet(net.name)
    nodes: dict[Any, Any] = {}
    for place in sorted(net.places, key=lambda p: p.name):
        nodes[place] = PetriNet.Place(place.name)
        converted.places.add(nodes[place])
    for transition in sorted(net.transitions, key=lambda t: t.name):
        nodes[transition] = PetriNet.Transition(transition.name, transition.label)
        converted.transitions.add(nodes[transition])
    for arc in sorted(net.arcs, key=lambda a: (a.source.name, a.target.name)):
        add_arc_from_to(nodes[arc.source], nodes[arc.target], converted, weight=arc.weight)
    return (converted, Pm4pyMarking({nodes[p]: n for p, n in initial.items()}),
            Pm4pyMarking({nodes[p]: n for p, n in final.items()}))


def read_pnml(path: Path, root: Element) -> tuple[Net, Marking, Marking | None]:
    """The first net of a PNML document, read as pm4py reads it.

    Places and transitions are named by their ids; a transition's label is its name text unless
    it is marked invisible (``activity="$invisible$"``, as ProM and pm4py write silent steps);
    a visible transition without a name is labelled by its id, as pm4py does.
    The final marking is None when the file gives none.
    """
    document = next((e for e in root.iter() if _tag(e) == "net"), None)
    if document is None:
        raise ModelError(f"{path}: no <net> element: not a PNML file")
    net = Net(document.get("id") or path.stem)
    places: dict[str, Place] = {}
    transitions: dict[str, Transition] = {}
    initial = Marking()
    arcs: list[Element] = []
    for element in document.iter():
        tag, identifier = _tag(element), element.get("id")
        if tag == "place" and identifier is not None:
            place = places[identifier] = Place(identifier)
            net.places.add(place)
            tokens = _text(_child(element, "initialMarking"))
            if tokens:
                initial[place] = _count(path, tokens, f"initial marking of place {identifier!r}")
        elif tag == "transition" and identifier is not None:
            label = _text(_child(element, "name"))
            invisible = any(
                _tag(c) == "toolspecific" and "invisible" in (c.get("activity") or "") for c in element
            )
            transition = transitions[identifier] = Transition(
                identifier, None if invisible else (label or identifier)
            )
            net.transitions.add(transition)
        elif tag == "arc":
            arcs.append(element)
    nodes: dict[str, Place | Transition] = {**places, **transitions}
    for element in arcs:
        source, target = nodes.get(element.get("source", "")), nodes.get(element.get("target", ""))
        if source is None or target is None or isinstance(source, Place) == isinstance(target, Place):
            raise ModelError(f"{path}: arc {element.get('id')!r} does not join a place and a transition")
        weight = _text(_child(element, "inscription"))
        what = f"weight of arc {element.get('id')!r}"
        net.connect(source, target, _count(path, weight, what) if weight else 1)
    final = None
    markings = next((e for e in document.iter() if _tag(e) == "finalmarkings"), None)
    if markings is not None:
        first = next((m for m in markings if _tag(m) == "marking"), None)
        if first is not None:
            final = Marking()
            for entry in first:
                end = places.get(entry.get("idref", ""))
                if end is None:
                    raise ModelError(f"{path}: the final marking names no place of the net: "
                                     f"{entry.get('idref')!r}")
                count = _count(path, _text(entry) or "0", f"final marking of place {end.name!r}")
                if count:
                    final[end] = count
    return net, initial, final


def _tag(element: Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _child(element: Element, tag: str) -> Element | None:
    return next((c for c in element if _tag(c) == tag), None)


def _text(element: Element | None) -> str:
    """The text of an element's <text> child (PNML wraps values that way), stripped."""
    if element is None:
        return ""
    inner = _child(element, "text")
    value = inner.text if inner is not None else element.text
    return (value or "").strip()


def _count(path: Path, value: str, what: str) -> int:
    try:
        count = int(value)
    except ValueError:
        raise ModelError(f"{path}: {what} is not a whole number: {value!r}") from None
    if count < 0:
        raise ModelError(f"{path}: {what} is negative: {value!r}")
    return count
