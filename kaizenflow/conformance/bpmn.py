"""Reading BPMN 2.0 into a Petri net ourselves: pools, lanes, sub-processes, gateways, loops."""

from __future__ import annotations

from collections import deque
from itertools import combinations
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from kaizenflow.conformance.errors import ModelError
from kaizenflow.conformance.petri import Marking, Net, Place, Transition

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"

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
    net = Net(name)
    source, sink = Place("source"), Place("sink")
    net.places.update((source, sink))
    places: dict[str, Any] = {}
    transitions: dict[str, Any] = {}
    for node, kind in graph.kind.items():
        if kind == "xor":
            places[node] = Place(node)
            net.places.add(places[node])
            continue
        transitions[node] = Transition(node, graph.label.get(node))
        net.transitions.add(transitions[node])
        if kind == "start":
            net.connect(source, transitions[node])
        elif kind == "end":
            net.connect(transitions[node], sink)
    for flow, (u, v) in graph.flows.items():
        if u in transitions and v in transitions:
            place = Place(f"{flow}→{v}")  # names where a stuck case waits
            net.places.add(place)
            net.connect(transitions[u], place)
            net.connect(place, transitions[v])
        elif u in transitions:
            net.connect(transitions[u], places[v])
        elif v in transitions:
            net.connect(places[u], transitions[v])
        else:
            silent = Transition(flow, None)
            net.transitions.add(silent)
            net.connect(places[u], silent)
            net.connect(silent, places[v])
    return net, Marking({source: 1}), Marking({sink: 1})

