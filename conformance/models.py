"""Loading designed process models (BPMN 2.0, PNML, PTML) as sound workflow nets for checking."""

from __future__ import annotations

import hashlib
import warnings
from collections import deque
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

#: Reachable markings explored to decide soundness. The models we know have at most a few hundred;
#: beyond this only easy soundness (the end can be reached at all) is checked, and said so.
MAX_STATES = 100_000

_TASKS = frozenset({"task", "userTask", "serviceTask", "manualTask", "scriptTask", "businessRuleTask",
                    "sendTask", "receiveTask"})
_GATEWAYS = {"exclusiveGateway": "xor", "parallelGateway": "and", "inclusiveGateway": "or"}
#: Content of a process that does not change which activities happen in which order.
_IGNORED = frozenset({
    "laneSet", "documentation", "extensionElements", "dataObject", "dataObjectReference",
    "dataStoreReference", "textAnnotation", "association", "group", "property", "ioSpecification",
    "ioBinding", "auditing", "monitoring", "incoming", "outgoing", "dataInputAssociation",
    "dataOutputAssociation",
    "standardLoopCharacteristics", "multiInstanceLoopCharacteristics", "resourceRole", "performer",
    "humanPerformer", "potentialOwner", "correlationSubscription", "supportedInterfaceRef",
})
_REFUSED = {
    "eventBasedGateway": "an event-based gateway chooses by whichever event comes first, which no log shows",
    "complexGateway": "a complex gateway's rule is free text that cannot be turned into a net",
    "boundaryEvent": "a boundary event interrupts or forks off its activity, which the net cannot show",
    "adHocSubProcess": "an ad-hoc sub-process allows its activities in any order and number",
    "transaction": "a transaction's cancellation and compensation cannot be shown in the net",
}


class ModelError(ValueError):
    """The designed model cannot be used; the message names the file and, if known, the element."""


@dataclass(frozen=True)
class DesignedModel:
    """A Petri net with its markings, the visible activities, and a hash of the file's bytes.

    ``soundness`` says how soundness was established, so a report can say when it was only partly.
    """

    name: str
    net: Any
    initial_marking: Any
    final_marking: Any
    activities: frozenset[str]
    model_hash: str
    soundness: str = "not checked"


@dataclass(frozen=True)
class Soundness:
    """A verdict on a workflow net: ``reason`` says why it is not sound, or how it was decided."""

    sound: bool
    reason: str
    states: int


def load_model(path: Path, process: str | None = None) -> DesignedModel:
    """Read a model by its extension and refuse it unless it is a sound workflow net.

    ``process`` chooses, in a BPMN file with several pools, the pool (participant id or name) or
    process (id or name) to check. XML declaring a DTD or entities is refused before anything parses
    it further: pm4py's own BPMN reader expands entities.
    """
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix not in (".bpmn", ".xml", ".pnml", ".ptml"):
        raise ModelError(f"{path}: unknown model format {suffix!r} (use .bpmn, .pnml or .ptml)")
    root = _parse_safe_xml(path, data)
    if suffix in (".bpmn", ".xml"):
        net, initial, final = bpmn_net(root, path, process)
    elif process is not None:
        raise ModelError(f"{path}: choosing a process (process={process!r}) only applies to BPMN files")
    else:
        net, initial, final = _read_with_pm4py(path, suffix)
    activities = frozenset(t.label for t in net.transitions if t.label is not None)
    if not activities:
        raise ModelError(f"{path}: the model has no labelled activity")
    verdict = check_soundness(net, initial, final)
    if not verdict.sound:
        raise ModelError(f"{path}: the model is not a sound workflow net: {verdict.reason}")
    digest = hashlib.sha256(data)
    if process is not None:
        digest.update(process.encode())
    return DesignedModel(
        name=path.name, net=net, initial_marking=initial, final_marking=final, activities=activities,
        model_hash=digest.hexdigest()[:16], soundness=verdict.reason,
    )


def _parse_safe_xml(path: Path, data: bytes) -> Element:
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise ModelError(f"{path}: refused: the XML declares a DTD or entities ({error})") from None
    except SafeET.ParseError as error:
        raise ModelError(f"{path}: not well-formed XML: {error}") from None
    return root


def _read_with_pm4py(path: Path, suffix: str) -> tuple[Any, Any, Any]:
    """PNML and PTML through pm4py; a PNML without final marking ends in its one sink place."""
    import pm4py
    from pm4py.objects.petri_net.obj import Marking

    try:
        if suffix == ".pnml":
            with warnings.catch_warnings():  # we look for the sink place ourselves, below
                warnings.filterwarnings("ignore", "the Petri net has been imported without a specified final")
                net, initial, final = pm4py.read_pnml(str(path))
        else:
            net, initial, final = pm4py.convert_to_petri_net(pm4py.read_ptml(str(path)))
    except Exception as error:  # noqa: BLE001 - pm4py raises many kinds; name the file
        raise ModelError(f"{path}: cannot be read as a process model: {error}") from error
    if not initial:
        raise ModelError(f"{path}: the net has no initial marking")
    if not final:
        sinks = [p for p in net.places if not p.out_arcs]
        if len(sinks) != 1:
            raise ModelError(f"{path}: the net has no final marking and not exactly one place to end in")
        final = Marking({sinks[0]: 1})
    return net, initial, final


# --- BPMN -------------------------------------------------------------------------------------


class _Graph:
    """A process while it is flattened: node kinds, task labels, sequence flows by id.

    Kinds: ``task``, ``start``, ``end``, ``sub`` (until flattened), ``xor`` (a place: exclusive
    gateways and everything that just passes a token on), ``and`` and ``or`` gateways.
    """

    def __init__(self) -> None:
        self.kind: dict[str, str] = {}
        self.label: dict[str, str] = {}
        self.flows: dict[str, tuple[str, str]] = {}

    def into(self, node: str) -> list[str]:
        return [f for f, (_, target) in self.flows.items() if target == node]

    def out_of(self, node: str) -> list[str]:
        return [f for f, (source, _) in self.flows.items() if source == node]

    def retarget(self, flow: str, target: str) -> None:
        self.flows[flow] = (self.flows[flow][0], target)

    def resource(self, flow: str, source: str) -> None:
        self.flows[flow] = (source, self.flows[flow][1])


def bpmn_net(root: Element, path: Path, process: str | None = None) -> tuple[Any, Any, Any]:
    """The workflow net of one BPMN process, read from its (safely parsed) XML.

    pm4py 2.7's ``read_bpmn`` + ``convert_to_petri_net`` are not used: on our test files they join
    a sub-process's start and end events to the process's own, drop every flow touching an
    intermediate or boundary event, read two flows out of a task as a choice, merge all pools into
    one process, ignore loop markers, make an unnamed task silent, turn "Check&#10;order" into
    "Checkorder", and let an inclusive split take no branch at all. Here sub-processes and called
    processes of the same file are flattened, intermediate events are silent, implicit gateways are
    made explicit, an inclusive block takes one or more branches, and everything else that would
    change the order of activities is refused with its element id.
    """
    reader = _BpmnReader(root, path)
    scope = reader.choose_process(process)
    graph = reader.scope(scope, prefix="", calls=(scope.get("id", ""),))
    process_id = scope.get("id")
    if "end" not in graph.kind.values():
        raise reader.refuse(scope, "has no end event, so no case ever finishes")
    _expand_inclusive_blocks(graph, path)
    return _petri_net(graph, process_id or path.stem)


class _BpmnReader:
    def __init__(self, root: Element, path: Path) -> None:
        if root.tag != f"{_BPMN}definitions":
            raise ModelError(f"{path}: not a BPMN 2.0 file (root element {root.tag!r})")
        self.root = root
        self.path = path
        self.processes = {p.get("id", ""): p for p in root.findall(f"{_BPMN}process")}

    def refuse(self, element: Element, reason: str) -> ModelError:
        tag = element.tag.removeprefix(_BPMN)
        return ModelError(f"{self.path}: <{tag} id=\"{element.get('id')}\"> {reason}")

    def choose_process(self, choice: str | None) -> Element:
        pools = {p.get("processRef"): p for p in self.root.iter(f"{_BPMN}participant")}
        if choice is not None:
            for process_id, process in self.processes.items():
                pool = pools.get(process_id)
                names = {process_id, process.get("name")} | (
                    {pool.get("id"), pool.get("name")} if pool is not None else set())
                if choice in names:
                    return process
            raise ModelError(f"{self.path}: no pool or process named {choice!r} "
                             f"(known: {', '.join(self._describe(p) for p in self.processes)})")
        called = {c.get("calledElement") for c in self.root.iter(f"{_BPMN}callActivity")}
        candidates = [p for p_id, p in self.processes.items()
                      if p_id not in called and any(_flow_node(c) for c in p)]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise ModelError(f"{self.path}: no process with a start event, task or gateway")
        raise ModelError(f"{self.path}: {len(candidates)} pools have a process of their own "
                         f"({', '.join(self._describe(p.get('id', '')) for p in candidates)}); "
                         "choose the one to check by its pool or process id or name")

    def _describe(self, process_id: str) -> str:
        pool = next((p for p in self.root.iter(f"{_BPMN}participant") if p.get("processRef") == process_id),
                    None)
        if pool is None:
            return f"process {process_id!r}"
        return f"pool {pool.get('id')!r} {pool.get('name') or ''}".rstrip() + f" (process {process_id!r})"

    def scope(self, scope: Element, prefix: str, calls: tuple[str, ...]) -> _Graph:
        """One process or sub-process, its own sub-processes and called processes flattened into it."""
        graph = _Graph()
        inner: dict[str, _Graph] = {}
        loops: dict[str, bool] = {}
        flows: list[Element] = []
        elements: dict[str, Element] = {}
        for child in scope:
            tag = _local(child)
            if tag is None or tag in _IGNORED:
                continue
            if tag == "sequenceFlow":
                flows.append(child)
                continue
            node = prefix + self._id(child)
            if node in graph.kind:
                raise self.refuse(child, "has the id of another element")
            elements[node] = child
            if tag in _TASKS:
                graph.kind[node] = "task"
                graph.label[node] = " ".join((child.get("name") or "").split())
                if not graph.label[node]:
                    raise self.refuse(child, "has no name, so no activity of a log can match it")
            elif tag in ("startEvent", "endEvent"):
                graph.kind[node] = tag.removesuffix("Event")
            elif tag in ("intermediateCatchEvent", "intermediateThrowEvent"):
                if child.find(f"{_BPMN}linkEventDefinition") is not None:
                    raise self.refuse(child, "is a link event; draw the sequence flow it stands for instead")
                graph.kind[node] = "xor"  # silent: it only passes the token on
            elif tag in _GATEWAYS:
                graph.kind[node] = _GATEWAYS[tag]
            elif tag == "subProcess":
                if child.get("triggeredByEvent") == "true":
                    raise self.refuse(child, "is an event sub-process, which interrupts or runs beside the "
                                             "process when its event occurs; the net cannot show that")
                graph.kind[node] = "sub"
                inner[node] = self.scope(child, prefix, calls)
            elif tag == "callActivity":
                called = child.get("calledElement", "")
                if called not in self.processes:
                    raise self.refuse(child, f"calls {called!r}, which is not a process in this file")
                if called in calls:
                    raise self.refuse(child, f"calls {called!r} from inside itself")
                graph.kind[node] = "sub"
                inner[node] = self.scope(self.processes[called], f"{node}/", calls + (called,))
            elif tag in _REFUSED:
                raise self.refuse(child, f"is not supported: {_REFUSED[tag]}")
            else:
                raise self.refuse(child, "is not supported in a designed model for conformance checking")
            loop = self._loop(child, graph.kind[node])
            if loop is not None:
                loops[node] = loop
        if "start" not in graph.kind.values():
            raise self.refuse(scope, "has no start event, so nothing says where a case begins")
        for flow in flows:
            self._add_flow(graph, flow, prefix)
        for node, element in elements.items():
            self._check_connected(graph, node, element)
            _make_gateways_explicit(graph, node)
        for node, test_before in loops.items():
            _wrap_loop(graph, node, test_before)
        for node, body in inner.items():
            self._flatten(graph, node, body, elements[node])
        return graph

    def _id(self, element: Element) -> str:
        node = element.get("id")
        if not node:
            raise ModelError(f"{self.path}: a <{_local(element)}> element has no id")
        return node

    def _loop(self, element: Element, kind: str) -> bool | None:
        """None without a loop marker, else whether the loop may run zero times (tests before)."""
        standard = element.find(f"{_BPMN}standardLoopCharacteristics")
        if standard is not None:
            return standard.get("testBefore") == "true"
        multi = element.find(f"{_BPMN}multiInstanceLoopCharacteristics")
        if multi is None:
            return None
        if kind == "sub" and multi.get("isSequential") != "true":
            raise self.refuse(element, "runs its instances in parallel, interleaving whole sub-processes")
        return False  # one or more instances; parallel instances of a task are events one after another

    def _add_flow(self, graph: _Graph, flow: Element, prefix: str) -> None:
        flow_id = prefix + self._id(flow)
        if flow_id in graph.flows:
            raise self.refuse(flow, "has the id of another sequence flow")
        ends = []
        for ref in ("sourceRef", "targetRef"):
            node = prefix + flow.get(ref, "")
            if node not in graph.kind:
                where = ("is outside this process or sub-process"
                         if any(e.get("id") == flow.get(ref) for e in self.root.iter()) else "does not exist")
                raise self.refuse(flow, f"has {ref} {flow.get(ref)!r}, which {where}")
            ends.append(node)
        source, target = ends
        conditional = flow.find(f"{_BPMN}conditionExpression") is not None
        if conditional and graph.kind[source] not in _GATEWAYS.values():
            raise self.refuse(flow, "is a conditional flow out of an activity or event; draw the gateway "
                                    "it stands for instead")
        graph.flows[flow_id] = (source, target)

    def _check_connected(self, graph: _Graph, node: str, element: Element) -> None:
        kind, ins, outs = graph.kind[node], graph.into(node), graph.out_of(node)
        if kind == "start" and ins:
            raise self.refuse(element, "is a start event with an incoming sequence flow")
        if kind == "end" and outs:
            raise self.refuse(element, "is an end event with an outgoing sequence flow")
        if kind != "start" and not ins:
            raise self.refuse(element, "has no incoming sequence flow, so no case reaches it")
        if kind != "end" and not outs:
            raise self.refuse(element, "has no outgoing sequence flow, so a case reaching it never ends")

    def _flatten(self, graph: _Graph, node: str, body: _Graph, element: Element) -> None:
        """The sub-process's start event takes its incoming flow; its end events lead to its outgoing."""
        starts = [n for n, kind in body.kind.items() if kind == "start"]
        ends = [n for n, kind in body.kind.items() if kind == "end"]
        if len(starts) != 1 or not ends:
            raise self.refuse(element, f"needs exactly one start event and an end event inside "
                                       f"(has {len(starts)} and {len(ends)})")
        clash = set(body.kind) & set(graph.kind)
        if clash:
            raise self.refuse(element, f"repeats the id {sorted(clash)[0]!r}")
        graph.kind.update(body.kind)
        graph.label.update(body.label)
        graph.flows.update(body.flows)
        for inner in (*starts, *ends):
            graph.kind[inner] = "xor"
        for flow in graph.into(node):
            graph.retarget(flow, starts[0])
        graph.kind[node] = "xor"
        for end in ends:
            graph.flows[f"{end}#exit"] = (end, node)


def _local(element: Element) -> str | None:
    """The tag without the BPMN namespace; None for other namespaces (modeler extensions)."""
    tag = element.tag
    return tag[len(_BPMN):] if isinstance(tag, str) and tag.startswith(_BPMN) else None


def _flow_node(element: Element) -> bool:
    tag = _local(element)
    return tag is not None and tag not in _IGNORED and tag != "sequenceFlow"


def _make_gateways_explicit(graph: _Graph, node: str) -> None:
    """Two flows into an activity or event each start it (exclusive merge); two out of it all run."""
    if graph.kind[node] in ("xor", "and", "or"):
        return
    ins, outs = graph.into(node), graph.out_of(node)
    if len(ins) > 1:
        graph.kind[f"{node}#merge"] = "xor"
        for flow in ins:
            graph.retarget(flow, f"{node}#merge")
        graph.flows[f"{node}#merged"] = (f"{node}#merge", node)
    if len(outs) > 1:
        graph.kind[f"{node}#fork"] = "and"
        for flow in outs:
            graph.resource(flow, f"{node}#fork")
        graph.flows[f"{node}#forked"] = (node, f"{node}#fork")


def _wrap_loop(graph: _Graph, node: str, test_before: bool) -> None:
    """A looping activity runs one or more times; zero or more when the loop condition comes first."""
    head = f"{node}#loop"
    ins, outs = graph.into(node), graph.out_of(node)
    graph.kind[head] = "xor"
    for flow in ins:
        graph.retarget(flow, head)
    graph.flows[f"{node}#enter"] = (head, node)
    if test_before:
        for flow in outs:
            graph.resource(flow, head)
        graph.flows[f"{node}#repeat"] = (node, head)
        return
    tail = f"{node}#again"
    graph.kind[tail] = "xor"
    for flow in outs:
        graph.resource(flow, tail)
    graph.flows[f"{node}#done"] = (node, tail)
    graph.flows[f"{node}#repeat"] = (tail, head)


def _expand_inclusive_blocks(graph: _Graph, path: Path) -> None:
    """Each inclusive split chooses a non-empty set of branches; skipped ones go straight to its join.

    Only blocks are supported: the split's nearest post-dominator is an inclusive join, and each
    branch reaches its own input of that join. The join then waits for all inputs (an AND join).
    """
    splits, joins = [], set()
    for node, kind in list(graph.kind.items()):
        if kind != "or":
            continue
        ins, outs = graph.into(node), graph.out_of(node)
        if len(ins) > 1 and len(outs) > 1:
            raise ModelError(f"{path}: inclusive gateway {node!r} both joins and splits; split it in two")
        if len(outs) > 1:
            splits.append(node)
        elif len(ins) > 1:
            joins.add(node)
        else:
            graph.kind[node] = "xor"
    if not splits and not joins:
        return
    post_dominators = _post_dominators(graph)
    matched: set[str] = set()
    for split in splits:
        join = _nearest(post_dominators, split)
        if join not in joins or join in matched:
            raise ModelError(f"{path}: inclusive gateway {split!r} is not closed by an inclusive join of its "
                             f"own (not block-structured)")
        matched.add(join)
        branches = [(flow, _join_input(graph, flow, join)) for flow in graph.out_of(split)]
        inputs = [g for _, g in branches]
        if None in inputs or len(set(inputs)) != len(inputs) or set(inputs) != set(graph.into(join)):
            raise ModelError(f"{path}: the branches of inclusive gateway {split!r} do not each reach their "
                             f"own input of join {join!r} (not block-structured)")
        if len(branches) > 5:
            raise ModelError(f"{path}: inclusive gateway {split!r} has more than 5 branches")
        _expand_block(graph, split, join, [(f, g) for f, g in branches if g is not None])
    for join in sorted(joins - matched):
        raise ModelError(f"{path}: inclusive join {join!r} closes no inclusive split (not block-structured)")


def _post_dominators(graph: _Graph) -> dict[str, set[str]]:
    exit_node = "#exit"
    successors: dict[str, set[str]] = {node: set() for node in graph.kind}
    for source, target in graph.flows.values():
        successors[source].add(target)
    for node, kind in graph.kind.items():
        if kind == "end":
            successors[node].add(exit_node)
    every = set(graph.kind) | {exit_node}
    dominators = {node: set(every) for node in graph.kind}
    dominators[exit_node] = {exit_node}
    changed = True
    while changed:
        changed = False
        for node in graph.kind:
            new = {node} | set.intersection(*(dominators[s] for s in successors[node]))
            if new != dominators[node]:
                dominators[node], changed = new, True
    return dominators


def _nearest(dominators: dict[str, set[str]], node: str) -> str | None:
    strict = dominators[node] - {node}
    return max(strict, key=lambda d: len(dominators[d]), default=None)


def _join_input(graph: _Graph, branch: str, join: str) -> str | None:
    """The one flow into ``join`` that ``branch`` reaches without passing the join; None if not one."""
    reached: set[str] = set()
    seen: set[str] = set()
    queue = deque([branch])
    while queue:
        flow = queue.popleft()
        target = graph.flows[flow][1]
        if target == join:
            reached.add(flow)
        elif target not in seen:
            seen.add(target)
            queue.extend(graph.out_of(target))
    return reached.pop() if len(reached) == 1 else None


def _expand_block(graph: _Graph, split: str, join: str, branches: list[tuple[str, str]]) -> None:
    entries, skips = [], []
    for _, join_input in branches:
        skip = f"{join_input}#joined"
        graph.kind[skip] = "xor"
        graph.retarget(join_input, skip)
        graph.flows[f"{join_input}#in"] = (skip, join)
        skips.append(skip)
    for flow, _ in branches:
        entry = f"{flow}#branch"
        graph.kind[entry] = "xor"
        graph.resource(flow, entry)
        entries.append(entry)
    graph.kind[split], graph.kind[join] = "xor", "and"
    for size in range(1, len(branches) + 1):
        for chosen in combinations(range(len(branches)), size):
            choice = f"{split}#" + "+".join(branches[i][0] for i in chosen)
            graph.kind[choice] = "and"
            graph.flows[f"{choice}#chosen"] = (split, choice)
            for i in range(len(branches)):
                graph.flows[f"{choice}#{i}"] = (choice, entries[i] if i in chosen else skips[i])


def _petri_net(graph: _Graph, name: str) -> tuple[Any, Any, Any]:
    """Exclusive gateways become places, the rest transitions; a flow between two transitions is a
    place, a flow between two places a silent transition. Names are the BPMN ids, so that a
    soundness problem names the elements a modeller has to look at."""
    from pm4py.objects.petri_net.obj import Marking, PetriNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    net = PetriNet(name)
    source, sink = PetriNet.Place("source"), PetriNet.Place("sink")
    net.places.update((source, sink))
    places: dict[str, Any] = {}
    transitions: dict[str, Any] = {}
    for node, kind in graph.kind.items():
        if kind == "xor":
            places[node] = PetriNet.Place(node)
            net.places.add(places[node])
            continue
        transitions[node] = PetriNet.Transition(node, graph.label.get(node))
        net.transitions.add(transitions[node])
        if kind == "start":
            add_arc_from_to(source, transitions[node], net)
        elif kind == "end":
            add_arc_from_to(transitions[node], sink, net)
    for flow, (u, v) in graph.flows.items():
        if u in transitions and v in transitions:
            place = PetriNet.Place(f"{flow}→{v}")  # names where a stuck case waits
            net.places.add(place)
            add_arc_from_to(transitions[u], place, net)
            add_arc_from_to(place, transitions[v], net)
        elif u in transitions:
            add_arc_from_to(transitions[u], places[v], net)
        elif v in transitions:
            add_arc_from_to(places[u], transitions[v], net)
        else:
            silent = PetriNet.Transition(flow, None)
            net.transitions.add(silent)
            add_arc_from_to(places[u], silent, net)
            add_arc_from_to(silent, places[v], net)
    return net, Marking({source: 1}), Marking({sink: 1})


# --- soundness --------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexedNet:
    """A net as index tuples, for exploring its markings fast: a marking is a tuple of token counts.

    Places are ordered by name and transitions by name and label, so exploration is deterministic.
    """

    places: tuple[Any, ...]
    transitions: tuple[Any, ...]
    pre: tuple[tuple[tuple[int, int], ...], ...]
    post: tuple[tuple[tuple[int, int], ...], ...]
    consumers: tuple[tuple[int, ...], ...]
    unguarded: tuple[int, ...]

    @staticmethod
    def of(net: Any) -> IndexedNet:
        places = tuple(sorted(net.places, key=lambda p: str(p.name)))
        transitions = tuple(sorted(net.transitions, key=lambda t: (str(t.name), str(t.label))))
        at = {place: i for i, place in enumerate(places)}
        pre = tuple(tuple(sorted((at[a.source], a.weight) for a in t.in_arcs)) for t in transitions)
        post = tuple(tuple(sorted((at[a.target], a.weight) for a in t.out_arcs)) for t in transitions)
        consumers = tuple(tuple(t for t, arcs in enumerate(pre) if any(p == place for p, _ in arcs))
                          for place in range(len(places)))
        return IndexedNet(places, transitions, pre, post, consumers,
                          tuple(i for i, arcs in enumerate(pre) if not arcs))

    def marking(self, marking: Any) -> tuple[int, ...]:
        return tuple(int(marking.get(place, 0)) for place in self.places)

    def pm4py_marking(self, marking: tuple[int, ...]) -> Any:
        from pm4py.objects.petri_net.obj import Marking

        return Marking({self.places[i]: count for i, count in enumerate(marking) if count})

    def enabled(self, marking: tuple[int, ...]) -> list[int]:
        candidates = set(self.unguarded)
        for place, count in enumerate(marking):
            if count:
                candidates.update(self.consumers[place])
        return sorted(t for t in candidates if all(marking[p] >= w for p, w in self.pre[t]))

    def fire(self, marking: tuple[int, ...], transition: int) -> tuple[int, ...]:
        tokens = list(marking)
        for place, weight in self.pre[transition]:
            tokens[place] -= weight
        for place, weight in self.post[transition]:
            tokens[place] += weight
        return tuple(tokens)


def check_soundness(net: Any, initial: Any, final: Any, max_states: int = MAX_STATES) -> Soundness:
    """Classical soundness by exploring every reachable marking, with a witness when it fails.

    pm4py's woflan was measured too: 1.7 s on a22.pnml, deprecated, and it warns that its scipy
    solution "may be unstable"; exploring the markings takes milliseconds on the models we know and
    names the path into the problem. Beyond ``max_states`` markings only easy soundness is checked.
    """
    problem = _workflow_structure(net, initial, final)
    if problem:
        return Soundness(False, problem, 0)
    indexed = IndexedNet.of(net)
    start, end = indexed.marking(initial), indexed.marking(final)
    markings, parent, via, sums = [start], [-1], [-1], [sum(start)]
    index = {start: 0}
    predecessors: list[list[int]] = [[]]
    fired: set[int] = set()

    def witness(i: int) -> str:
        labels = []
        while i > 0:
            label = indexed.transitions[via[i]].label
            if label is not None:
                labels.append(label)
            i = parent[i]
        return "after " + " → ".join(reversed(labels)) if labels else "at the start"

    def tokens(marking: tuple[int, ...]) -> str:
        return ", ".join(str(indexed.places[p].name) for p, n in enumerate(marking) for _ in range(n))

    i = 0
    while i < len(markings):
        marking = markings[i]
        if marking != end and all(m >= f for m, f in zip(marking, end, strict=True)):
            return Soundness(False, f"{witness(i)} the end is reached with work left over "
                                    f"({tokens(marking)}); parallel branches may end in separate end events",
                             len(markings))
        enabled = indexed.enabled(marking)
        if not enabled and marking != end:
            return Soundness(False, f"{witness(i)} a case is stuck, waiting in {tokens(marking)}",
                             len(markings))
        for t in enabled:
            fired.add(t)
            after = indexed.fire(marking, t)
            j = index.get(after)
            if j is None:
                if _covers_an_ancestor(after, i, markings, parent, sums):
                    step = indexed.transitions[t].label or f"the silent step {indexed.transitions[t].name!r}"
                    return Soundness(False, f"{witness(i)}, {step} can repeat and pile tokens up without "
                                            f"limit ({tokens(after)})", len(markings))
                if len(markings) >= max_states:
                    return _easy_soundness(net, initial, final, max_states)
                j = len(markings)
                index[after] = j
                markings.append(after)
                parent.append(i)
                via.append(t)
                sums.append(sum(after))
                predecessors.append([])
            predecessors[j].append(i)
        i += 1
    if end not in index:
        return Soundness(False, "the end can never be reached", len(markings))
    finishing = {index[end]}
    queue = deque(finishing)
    while queue:
        for p in predecessors[queue.popleft()]:
            if p not in finishing:
                finishing.add(p)
                queue.append(p)
    stuck = next((k for k in range(len(markings)) if k not in finishing), None)
    if stuck is not None:
        return Soundness(False, f"{witness(stuck)} a case can no longer finish (it loops in "
                                f"{tokens(markings[stuck])})", len(markings))
    dead = [indexed.transitions[t] for t in range(len(indexed.transitions)) if t not in fired]
    if dead:
        names = ", ".join(repr(t.label) if t.label is not None else f"the silent step {t.name!r}"
                          for t in dead[:5])
        return Soundness(False, f"never possible: {names}", len(markings))
    return Soundness(True, f"sound ({len(markings)} reachable markings)", len(markings))


def _covers_an_ancestor(
    marking: tuple[int, ...], i: int, markings: list[tuple[int, ...]], parent: list[int], sums: list[int]
) -> bool:
    """A marking strictly above one on its own path can be pumped up forever: the net is unbounded."""
    total = sum(marking)
    while i >= 0:
        if sums[i] < total and all(m >= a for m, a in zip(marking, markings[i], strict=True)):
            return True
        i = parent[i]
    return False


def _easy_soundness(net: Any, initial: Any, final: Any, max_states: int) -> Soundness:
    from pm4py.objects.petri_net.utils.check_soundness import check_easy_soundness_net_in_fin_marking

    if not check_easy_soundness_net_in_fin_marking(net, initial, final):
        return Soundness(False, "the end can never be reached", max_states)
    return Soundness(True, f"easy sound only: more than {max_states} reachable markings, so full soundness "
                           "was not decided", max_states)


def _workflow_structure(net: Any, initial: Any, final: Any) -> str | None:
    """One start place, one end place, every place and transition on a path from start to end."""
    sources = sorted(str(p.name) for p in net.places if not p.in_arcs)
    sinks = sorted(str(p.name) for p in net.places if not p.out_arcs)
    if len(sources) != 1 or len(sinks) != 1:
        return (f"a workflow net has one place to start and one to end; this one starts in "
                f"{sources or 'none'} and ends in {sinks or 'none'}")
    if {p.name: n for p, n in initial.items()} != {sources[0]: 1}:
        return f"a case must start with one token in {sources[0]!r}"
    if {p.name: n for p, n in final.items()} != {sinks[0]: 1}:
        return f"a case must end with one token in {sinks[0]!r}"
    start = [p for p in net.places if p.name == sources[0]]
    forward = _reach(start, lambda n: [a.target for a in n.out_arcs])
    backward = _reach([p for p in net.places if p.name == sinks[0]], lambda n: [a.source for a in n.in_arcs])
    for node in sorted([*net.places, *net.transitions], key=lambda n: str(n.name)):
        if node not in forward or node not in backward:
            what = "place" if node in net.places else "transition"
            return f"{what} {node.name!r} is not on a path from the start to the end"
    return None


def _reach(start: list[Any], step: Any) -> set[Any]:
    seen = set(start)
    queue = deque(start)
    while queue:
        for nxt in step(queue.popleft()):
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return seen
