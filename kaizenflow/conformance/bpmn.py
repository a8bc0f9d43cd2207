"""Reading BPMN 2.0 into a Petri net ourselves: pools, lanes, sub-processes, calls, boundary events."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException

from kaizenflow.conformance.errors import ModelError
from kaizenflow.conformance.petri import Marking, Net, Place, Transition

_BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
_ZEEBE = "{http://camunda.org/schema/zeebe/1.0}"

#: Goes into a BPMN model's hash: a new reading of the same file gives other nets (and silent steps,
#: which alignment costs count), so alignments cached from an earlier reading are not reused.
READER_VERSION = 2
#: Sub-processes and called processes nested in one another, at most.
MAX_DEPTH = 50
#: Elements (flow nodes and sequence flows) of a process once its sub-processes and called
#: processes are inlined, at most: a process calling another twice, which calls the next twice,
#: doubles with every level.
MAX_ELEMENTS = 20_000
#: Files of a model's folder looked through for a called process, and their size, at most.
MAX_FOLDER_FILES = 200
MAX_FOLDER_FILE_BYTES = 20_000_000

_TASKS = frozenset({"task", "userTask", "serviceTask", "manualTask", "scriptTask", "businessRuleTask",
                    "sendTask", "receiveTask"})
_GATEWAYS = {"exclusiveGateway": "xor", "eventBasedGateway": "xor", "parallelGateway": "and",
             "inclusiveGateway": "or"}
_EVENTS = frozenset({"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent"})
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
    "complexGateway": "a complex gateway's rule is free text that cannot be turned into a net",
    "adHocSubProcess": "an ad-hoc sub-process allows its activities in any order and number",
    "transaction": "a transaction's cancellation and compensation cannot be shown in the net",
}
#: Boundary and end event definitions that travel from a thrown end event to a catching boundary.
_THROWN = ("errorEventDefinition", "escalationEventDefinition")


@dataclass(frozen=True)
class BpmnNet:
    """The workflow net of a BPMN process, and what was bent to read it (for the user to see)."""

    net: Net
    initial_marking: Marking
    final_marking: Marking
    warnings: tuple[str, ...] = ()
    #: files other than the model's own that called processes were read from
    other_files: tuple[Path, ...] = ()


def parse_model_xml(path: Path, data: bytes) -> Element:
    """The XML of a model file; a DTD or entities are refused before anything expands them."""
    try:
        root: Element = SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise ModelError(f"{path}: refused: the XML declares a DTD or entities ({error})") from None
    except SafeET.ParseError as error:
        raise ModelError(f"{path}: not well-formed XML: {error}") from None
    return root


def read_bpmn(path: Path, process: str | None = None,
              called_models: Mapping[str, Path] | None = None) -> BpmnNet:
    """A BPMN file's workflow net (see ``bpmn_net``)."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"{path}: cannot be read: {error.strerror or error}") from None
    return bpmn_net(parse_model_xml(path, data), path, process, called_models)


def bpmn_net(root: Element, path: Path, process: str | None = None,
             called_models: Mapping[str, Path] | None = None) -> BpmnNet:
    """The workflow net of one BPMN process, read from its (safely parsed) XML.

    pm4py 2.7's ``read_bpmn`` + ``convert_to_petri_net`` are not used: on our test files they join
    a sub-process's start and end events to the process's own, drop every flow touching an
    intermediate or boundary event, read two flows out of a task as a choice, merge all pools into
    one process, ignore loop markers, make an unnamed task silent, turn "Check&#10;order" into
    "Checkorder", and let an inclusive split take no branch at all. Here sub-processes and called
    processes are flattened (a called process is looked up in ``called_models`` by its id, then in
    this file, then in the files of this file's folder; else it stays one activity, with a warning),
    intermediate events are silent, implicit gateways are made explicit, an inclusive block takes
    one or more branches, boundary events become a choice (interrupting) or an optional parallel
    branch (non-interrupting), and everything else that would change the order of activities is
    refused with its element's tag and id.
    """
    context = _Context(path, called_models or {})
    reader = context.reader(path, root)
    scope = reader.choose_process(process)
    graph = reader.scope(scope, prefix="", calls=(f"{path}#{scope.get('id', '')}",), depth=0)
    messages = sum(1 for _ in root.iter(f"{_BPMN}messageFlow"))
    if messages:
        plural = "s" if messages > 1 else ""
        context.warnings.append(f"{path}: {messages} message flow{plural} between pools ignored: only the "
                                f"sequence flows of process {scope.get('id')!r} are checked")
    _expand_inclusive_blocks(graph, path)
    net, initial, final = _petri_net(graph, scope.get("id") or path.stem)
    others = tuple(sorted(r.path for key, r in context.readers.items() if key != path.resolve()))
    return BpmnNet(net, initial, final, tuple(context.warnings), others)


class _Graph:
    """A process while it is flattened: node kinds, task labels, sequence flows by id.

    Kinds: ``task``, ``sub`` (until flattened), ``xor`` (a place: events, exclusive gateways and
    everything that just passes a token on), ``and`` (a silent transition) and ``or`` gateways.
    ``entry`` and ``exit`` are the places where a case of this scope starts and ends.
    """

    def __init__(self) -> None:
        self.kind: dict[str, str] = {}
        self.label: dict[str, str] = {}
        self.flows: dict[str, tuple[str, str]] = {}
        self._into: dict[str, dict[str, None]] = {}
        self._out: dict[str, dict[str, None]] = {}
        self.entry = ""
        self.exit = ""
        #: end events throwing an error or escalation that a boundary event outside catches
        self.escapes: list[tuple[str, str, str | None]] = []  # (end node, definition, reference)

    def add(self, node: str, kind: str) -> None:
        self.kind[node] = kind
        self._into.setdefault(node, {})
        self._out.setdefault(node, {})

    def connect(self, flow: str, source: str, target: str) -> None:
        self.flows[flow] = (source, target)
        self._out.setdefault(source, {})[flow] = None
        self._into.setdefault(target, {})[flow] = None

    def into(self, node: str) -> list[str]:
        return list(self._into.get(node, ()))

    def out_of(self, node: str) -> list[str]:
        return list(self._out.get(node, ()))

    def retarget(self, flow: str, target: str) -> None:
        source, old = self.flows[flow]
        del self._into[old][flow]
        self.connect(flow, source, target)

    def resource(self, flow: str, source: str) -> None:
        old, target = self.flows[flow]
        del self._out[old][flow]
        self.connect(flow, source, target)

    def remove(self, node: str) -> None:
        """A node that no flow touches any more."""
        del self.kind[node]
        self.label.pop(node, None)
        del self._into[node], self._out[node]

    def absorb(self, other: _Graph) -> None:
        for node, kind in other.kind.items():
            self.add(node, kind)
        self.label.update(other.label)
        for flow, (source, target) in other.flows.items():
            self.connect(flow, source, target)

    def successors(self, node: str) -> list[str]:
        return [self.flows[f][1] for f in self._out.get(node, ())]


class _Context:
    """What one reading shares across files: the warnings, the elements inlined, the readers."""

    def __init__(self, path: Path, called_models: Mapping[str, Path]) -> None:
        self.path = path
        self.called_models = dict(called_models)
        self.warnings: list[str] = []
        self.elements = 0
        self.readers: dict[Path, _BpmnReader] = {}
        self._folder: dict[str, Path] | None = None

    def reader(self, path: Path, root: Element | None = None) -> _BpmnReader:
        key = path.resolve()
        if key not in self.readers:
            if root is None:
                if not path.is_file():
                    raise ModelError(f"{self.path}: called model {path} not found")
                root = parse_model_xml(path, path.read_bytes())
            self.readers[key] = _BpmnReader(root, path, self)
        return self.readers[key]

    def count(self, reader: _BpmnReader, element: Element, added: int) -> None:
        self.elements += added
        if self.elements > MAX_ELEMENTS:
            raise reader.refuse(element, f"makes the process exceed {MAX_ELEMENTS:,} elements once its "
                                         "sub-processes and called processes are inlined (the limit)")

    def folder_processes(self) -> dict[str, Path]:
        """Process ids of the other BPMN files in the model's folder (first file wins)."""
        if self._folder is None:
            self._folder = {}
            files = sorted(p for p in self.path.parent.iterdir()
                           if p.suffix.lower() in (".bpmn", ".xml") and p.resolve() != self.path.resolve())
            for file in files[:MAX_FOLDER_FILES]:
                try:
                    if file.stat().st_size > MAX_FOLDER_FILE_BYTES:
                        continue
                    root = parse_model_xml(file, file.read_bytes())
                except (OSError, ModelError):
                    continue  # not a model we could read: the call is looked up elsewhere
                if root.tag != f"{_BPMN}definitions":
                    continue
                for process in root.iter(f"{_BPMN}process"):
                    self._folder.setdefault(process.get("id", ""), file)
        return self._folder


class _BpmnReader:
    def __init__(self, root: Element, path: Path, context: _Context) -> None:
        if root.tag != f"{_BPMN}definitions":
            raise ModelError(f"{path}: not a BPMN 2.0 file (root element {root.tag!r})")
        self.root = root
        self.path = path
        self.context = context
        self.processes = {p.get("id", ""): p for p in root.findall(f"{_BPMN}process")}

    def refuse(self, element: Element, reason: str) -> ModelError:
        tag = element.tag.removeprefix(_BPMN)
        return ModelError(f"{self.path}: <{tag} id=\"{element.get('id')}\"> {reason}")

    def warn(self, element: Element, what: str) -> None:
        tag = element.tag.removeprefix(_BPMN)
        self.context.warnings.append(f"{self.path}: <{tag} id=\"{element.get('id')}\"> {what}")

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
        called = {_called_element(c) for c in self.root.iter(f"{_BPMN}callActivity")}
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

    # --- one scope ---------------------------------------------------------------------------

    def scope(self, scope: Element, prefix: str, calls: tuple[str, ...], depth: int,
              caught: frozenset[tuple[str, str | None]] = frozenset()) -> _Graph:
        """One process or sub-process, its own sub-processes and called processes flattened into it.

        ``caught`` are the (definition, reference) pairs of error and escalation boundary events
        attached to this sub-process from outside: end events throwing them leave by ``escapes``.
        """
        if depth > MAX_DEPTH:
            raise self.refuse(scope, f"nests sub-processes and called processes more than {MAX_DEPTH} deep "
                                     "(the limit)")
        graph = _Graph()
        inner: dict[str, _Graph] = {}
        loops: dict[str, bool] = {}
        flows: list[Element] = []
        elements: dict[str, Element] = {}
        boundaries: list[tuple[str, Element]] = []
        starts: list[str] = []
        ends: list[str] = []
        children = list(scope)
        self.context.count(self, scope, len(children))
        attached: dict[str, list[Element]] = {}
        for child in children:
            if _local(child) == "boundaryEvent":
                attached.setdefault(child.get("attachedToRef", ""), []).append(child)
        for child in children:
            tag = _local(child)
            if tag is None or tag in _IGNORED:
                continue
            if tag == "sequenceFlow":
                flows.append(child)
                continue
            if child.get("isForCompensation") == "true":
                self.warn(child, "is a compensation activity: ignored, compensation is not checked")
                continue
            node = prefix + self._id(child)
            if node in graph.kind:
                raise self.refuse(child, "has the id of another element")
            elements[node] = child
            if tag in _TASKS:
                graph.add(node, "task")
                graph.label[node] = " ".join((child.get("name") or "").split())
                if not graph.label[node]:
                    raise self.refuse(child, "has no name, so no activity of a log can match it")
            elif tag in _EVENTS:
                if child.find(f"{_BPMN}linkEventDefinition") is not None:
                    raise self.refuse(child, "is a link event; draw the sequence flow it stands for instead")
                graph.add(node, "xor")  # silent: it only passes the token on
                if tag == "startEvent":
                    starts.append(node)
                elif tag == "endEvent":
                    thrown = _thrown(child)
                    if thrown is not None and (thrown in caught or (thrown[0], None) in caught):
                        graph.escapes.append((node, *thrown))
                    else:
                        ends.append(node)
            elif tag == "boundaryEvent":
                if child.find(f"{_BPMN}compensateEventDefinition") is not None:
                    self.warn(child, "is a compensation event: ignored, compensation is not checked")
                    del elements[node]
                    continue
                graph.add(node, "and")  # a silent step: the event occurring
                boundaries.append((node, child))
            elif tag in _GATEWAYS:
                graph.add(node, _GATEWAYS[tag])
            elif tag == "subProcess":
                if child.get("triggeredByEvent") == "true":
                    raise self.refuse(child, "is an event sub-process, which interrupts or runs beside the "
                                             "process when its event occurs; the net cannot show that")
                graph.add(node, "sub")
                inner[node] = self.scope(child, prefix, calls, depth + 1,
                                         _caught_by(attached.get(child.get("id", ""), [])))
            elif tag == "callActivity":
                self._call(graph, node, child, calls, depth, inner,
                           _caught_by(attached.get(child.get("id", ""), [])))
            elif tag in _REFUSED:
                raise self.refuse(child, f"is not supported: {_REFUSED[tag]}")
            else:
                raise self.refuse(child, "is not supported in a designed model for conformance checking")
            loop = self._loop(child, graph.kind[node])
            if loop is not None:
                loops[node] = loop
        for flow in flows:
            self._add_flow(graph, flow, prefix)
        boundary_nodes = {node for node, _ in boundaries}
        implicit_starts = not starts
        implicit_ends = not ends and not graph.escapes
        for node, element in elements.items():
            if node not in boundary_nodes:
                self._check_connected(graph, node, element, starts, implicit_starts, implicit_ends)
        if implicit_starts:
            starts = [n for n in elements if n not in boundary_nodes and not graph.into(n)]
            if ends and scope.tag == f"{_BPMN}process":
                self.warn(scope, "has end events but no start event: every element without an incoming "
                                 "flow is taken as a start, as for a sub-process")
        for node, element in elements.items():
            _make_gateways_explicit(graph, node, gateway=_local(element) in _GATEWAYS)
        for node, test_before in loops.items():
            _wrap_loop(graph, node, test_before)
        cancelled: list[tuple[str, str, tuple[str, str | None] | None]] = []  # (sub, place, thrown)
        boundary_ends: set[str] = set()
        # interrupting ones first: the choice comes before a non-interrupting event's branch forks
        boundaries.sort(key=lambda b: b[1].get("cancelActivity", "true") == "false")
        for node, element in boundaries:
            boundary_ends |= self._attach(graph, node, element, elements, inner, cancelled, starts)
        if implicit_ends:
            ends = [n for n in elements if not graph.out_of(n)]
        ends = [n for n in ends if n not in boundary_ends]
        self._entry_and_exit(graph, scope, prefix, starts, ends, implicit_starts, implicit_ends)
        for node, body in inner.items():
            interrupted = [(place, thrown) for sub, place, thrown in cancelled if sub == node]
            self._flatten(graph, node, body, elements[node], interrupted)
        return graph

    def _call(self, graph: _Graph, node: str, element: Element, calls: tuple[str, ...], depth: int,
              inner: dict[str, _Graph], caught: frozenset[tuple[str, str | None]]) -> None:
        called = _called_element(element)
        found = self._resolve(element, called)
        if found is None:
            label = " ".join((element.get("name") or called or "").split())
            if not label:
                raise self.refuse(element, "calls no process and has no name, so no activity of a log can "
                                           "match it")
            self.warn(element, f"calls {called!r}, which is neither in this file, in its folder nor in the "
                               f"models given: it is checked as one activity {label!r}")
            graph.add(node, "task")
            graph.label[node] = label
            return
        reader, process = found
        key = f"{reader.path}#{called}"
        if key in calls:
            raise self.refuse(element, f"calls {called!r} from inside itself")
        graph.add(node, "sub")
        inner[node] = reader.scope(process, f"{node}/", calls + (key,), depth + 1, caught)

    def _resolve(self, element: Element, called: str) -> tuple[_BpmnReader, Element] | None:
        """The reader and process a call activity calls: the models given, this file, its folder."""
        if not called:
            return None
        given = self.context.called_models.get(called)
        if given is not None:
            reader = self.context.reader(Path(given))
            if called in reader.processes:
                return reader, reader.processes[called]
            try:
                return reader, reader.choose_process(None)
            except ModelError as error:
                raise self.refuse(element, f"calls {called!r}, given as {given}, which has no process "
                                           f"{called!r} and not exactly one: {error}") from None
        if called in self.processes:
            return self, self.processes[called]
        file = self.context.folder_processes().get(called)
        if file is not None:
            reader = self.context.reader(file)
            return reader, reader.processes[called]
        return None

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
        graph.connect(flow_id, source, target)

    def _check_connected(self, graph: _Graph, node: str, element: Element, starts: list[str],
                         implicit_starts: bool, implicit_ends: bool) -> None:
        tag, ins, outs = _local(element), graph.into(node), graph.out_of(node)
        if tag == "startEvent" and ins:
            raise self.refuse(element, "is a start event with an incoming sequence flow")
        if tag == "endEvent" and outs:
            raise self.refuse(element, "is an end event with an outgoing sequence flow")
        if node not in starts and not ins and not implicit_starts:
            raise self.refuse(element, "has no incoming sequence flow, so no case reaches it")
        if tag != "endEvent" and not outs and not implicit_ends:
            raise self.refuse(element, "has no outgoing sequence flow, so a case reaching it never ends")

    def _attach(self, graph: _Graph, node: str, element: Element, elements: dict[str, Element],
                inner: dict[str, _Graph], cancelled: list[tuple[str, str, tuple[str, str | None] | None]],
                starts: list[str]) -> set[str]:
        """A boundary event into the net; returns the ends of a non-interrupting event's own path.

        Interrupting (the default): a choice between the activity and the event's path. On a
        sub-process the event may also come after some of its work: from any place inside it when
        it runs nothing in parallel, else only before it starts (with a warning). Non-interrupting:
        the activity runs beside an optional branch (the event's path, which must end in end
        events of its own) that starts with the activity and is waited for when it completes.
        """
        prefix = node[: len(node) - len(element.get("id", ""))]
        activity = prefix + element.get("attachedToRef", "")
        if activity not in elements or graph.kind.get(activity) not in ("task", "sub"):
            raise self.refuse(element, f"is attached to {element.get('attachedToRef')!r}, which is not a "
                                       "task, sub-process or call activity of the same process")
        if not graph.out_of(node):
            raise self.refuse(element, "has no outgoing sequence flow, so nothing says what follows it")
        if element.get("cancelActivity", "true") == "false":
            return self._alongside(graph, node, element, activity, starts)
        caught = f"{node}#caught"
        graph.add(caught, "xor")
        graph.connect(f"{node}#occurs", caught, node)
        if graph.kind[activity] == "sub":
            cancelled.append((activity, caught, _thrown(element)))
            return set()
        ready = f"{activity}#ready"
        if ready not in graph.kind:
            graph.add(ready, "xor")
            for flow in graph.into(activity):
                graph.retarget(flow, ready)
            graph.connect(f"{activity}#starts", ready, activity)
        graph.connect(f"{node}#instead", ready, caught)
        return set()

    def _alongside(self, graph: _Graph, node: str, element: Element, activity: str,
                   starts: list[str]) -> set[str]:
        path_ends: set[str] = set()
        reached: dict[str, None] = {}  # in the order the path reaches them
        queue = deque([node])
        while queue:
            current = queue.popleft()
            for following in graph.successors(current):
                if following not in reached:
                    reached[following] = None
                    queue.append(following)
            if not graph.out_of(current):
                path_ends.add(current)
        main = _reachable(graph, starts, stop={node})
        joined = [n for n in reached if n in main]
        if joined:
            raise self.refuse(element, f"is non-interrupting and its path joins the rest of the process at "
                                       f"{joined[0]!r}; only a path that ends in end events of its own can "
                                       "run beside the activity")
        fork, join, armed, done = (f"{activity}#fork", f"{activity}#join", f"{node}#armed", f"{node}#done")
        if fork not in graph.kind:
            graph.add(fork, "and")
            graph.add(join, "and")
            for flow in graph.into(activity):
                graph.retarget(flow, fork)
            for flow in graph.out_of(activity):
                graph.resource(flow, join)
            graph.connect(f"{activity}#forked", fork, activity)
            graph.connect(f"{activity}#joined", activity, join)
        graph.add(armed, "xor")
        graph.add(done, "xor")
        graph.connect(f"{node}#arm", fork, armed)
        graph.connect(f"{node}#occurs", armed, node)
        graph.connect(f"{node}#not", armed, done)
        graph.connect(f"{node}#wait", done, join)
        for end in sorted(path_ends):
            graph.connect(f"{end}#done", end, done)
        return path_ends

    def _entry_and_exit(self, graph: _Graph, scope: Element, prefix: str, starts: list[str], ends: list[str],
                        implicit_starts: bool, implicit_ends: bool) -> None:
        """One place where a case of the scope starts, one where it ends.

        Several start events are alternatives; without start events every element without an
        incoming flow starts, all at once. Several end events are alternatives too; without end
        events, each part of the scope not connected to the others ends where its flows end, and
        the scope ends when all parts have.
        """
        name = prefix + self._id(scope)
        if not starts:
            raise self.refuse(scope, "has no start event and no element without an incoming flow, so "
                                     "nothing says where a case begins")
        if not ends and not graph.escapes:
            raise self.refuse(scope, "has no end event and no element without an outgoing flow, so no "
                                     "case ever finishes")
        parts = _parts(graph, ends) if implicit_ends else [ends]  # before the entry joins them
        if len(starts) == 1 and graph.kind[starts[0]] == "xor":
            graph.entry = starts[0]
        else:
            graph.entry = f"{name}#entry"
            graph.add(graph.entry, "xor")
            source = graph.entry
            if implicit_starts and len(starts) > 1:
                source = f"{name}#start"
                graph.add(source, "and")
                graph.connect(f"{name}#started", graph.entry, source)
            for start in starts:
                graph.connect(f"{start}#start", source, start)
        if not ends:  # every way out throws to a boundary event
            graph.exit = f"{name}#exit"
            graph.add(graph.exit, "xor")
            return
        if len(parts) == 1 and len(ends) == 1 and graph.kind[ends[0]] == "xor":
            graph.exit = ends[0]
            return
        graph.exit = f"{name}#exit"
        graph.add(graph.exit, "xor")
        if len(parts) == 1:
            for end in ends:
                graph.connect(f"{end}#end", end, graph.exit)
            return
        join = f"{name}#end"
        graph.add(join, "and")
        graph.connect(f"{name}#ended", join, graph.exit)
        for index, part in enumerate(parts):
            done = f"{name}#part{index}"
            graph.add(done, "xor")
            graph.connect(f"{done}#joins", done, join)
            for end in part:
                graph.connect(f"{end}#end", end, done)

    def _flatten(self, graph: _Graph, node: str, body: _Graph, element: Element,
                 interrupted: list[tuple[str, tuple[str, str | None] | None]]) -> None:
        """The sub-process's entry takes its incoming flows and its exit gives its outgoing ones.

        ``interrupted`` are the places of interrupting boundary events on it: a case may leave
        the sub-process for them from inside (see ``_attach``); end events throwing an error or
        escalation the boundary catches lead there too.
        """
        clash = set(body.kind) & set(graph.kind)
        if clash:
            raise self.refuse(element, f"repeats the id {sorted(clash)[0]!r}")
        graph.absorb(body)
        for flow in graph.into(node):
            graph.retarget(flow, body.entry)
        for flow in graph.out_of(node):
            graph.resource(flow, body.exit)
        graph.remove(node)
        if not interrupted:
            if body.escapes:
                raise self.refuse(element, "throws an error or escalation that no boundary event catches")
            return
        thrown_to: set[str] = set()
        for end, definition, reference in body.escapes:
            catcher = next(p for p, key in interrupted
                           if key in ((definition, reference), (definition, None)))
            thrown_to.add(catcher)
            graph.connect(f"{end}#thrown", end, catcher)
        # a timer, message or signal; or an error no end event inside throws (a task may raise it)
        timed = [place for place, key in interrupted if key is None or place not in thrown_to]
        if not timed:
            return
        concurrent = any(body.kind[n] in ("and", "or")
                         and (len(graph.into(n)) > 1 or len(graph.out_of(n)) > 1) for n in body.kind)
        places = [n for n in body.kind if body.kind[n] == "xor" and n != body.exit
                  and n not in {e for e, _, _ in body.escapes}]
        if concurrent:
            self.warn(element, "runs branches in parallel, so its interrupting boundary event is checked "
                               "only before it starts: a case interrupted half-way shows as deviating")
            places = [body.entry]
        else:
            places += _split_steps(graph, body)
        for place in timed:
            for inside in places:
                graph.connect(f"{inside}#{place}", inside, place)


def _split_steps(graph: _Graph, body: _Graph) -> list[str]:
    """A place on each flow between two steps of the body, where a case can be interrupted."""
    added = []
    for flow, (source, target) in list(body.flows.items()):
        if graph.flows.get(flow) != (source, target):
            continue
        if graph.kind.get(source) in ("task", "and") and graph.kind.get(target) in ("task", "and"):
            place = f"{flow}→{target}"
            graph.add(place, "xor")
            graph.retarget(flow, place)
            graph.connect(f"{flow}#on", place, target)
            added.append(place)
    return added


def _thrown(element: Element) -> tuple[str, str | None] | None:
    """The error or escalation an end event throws or a boundary event catches (with its reference)."""
    for definition in _THROWN:
        found = element.find(f"{_BPMN}{definition}")
        if found is not None:
            reference = found.get("errorRef") or found.get("escalationRef")
            return definition, reference
    return None


def _caught_by(boundaries: Iterable[Element]) -> frozenset[tuple[str, str | None]]:
    return frozenset(t for b in boundaries if b.get("cancelActivity", "true") != "false"
                     and (t := _thrown(b)) is not None)


def _called_element(element: Element) -> str:
    """The called process's id: ``calledElement``, or Camunda 8's ``zeebe:calledElement processId``."""
    called = element.get("calledElement")
    if called:
        return called
    zeebe = element.find(f"{_BPMN}extensionElements/{_ZEEBE}calledElement")
    return (zeebe.get("processId") or "") if zeebe is not None else ""


def _reachable(graph: _Graph, starts: Iterable[str], stop: set[str]) -> set[str]:
    seen: set[str] = set()
    queue = deque(s for s in starts if s not in stop)
    seen.update(queue)
    while queue:
        for following in graph.successors(queue.popleft()):
            if following not in seen and following not in stop:
                seen.add(following)
                queue.append(following)
    return seen


def _parts(graph: _Graph, ends: list[str]) -> list[list[str]]:
    """The ends grouped by the part of the scope they are in (parts joined by no flow)."""
    part: dict[str, int] = {}
    for node in graph.kind:
        if node in part:
            continue
        part[node] = node_part = len(set(part.values()))
        queue = deque([node])
        while queue:
            current = queue.popleft()
            neighbours = [graph.flows[f][1] for f in graph.out_of(current)] + [
                graph.flows[f][0] for f in graph.into(current)]
            for other in neighbours:
                if other not in part:
                    part[other] = node_part
                    queue.append(other)
    grouped: dict[int, list[str]] = {}
    for end in ends:
        grouped.setdefault(part[end], []).append(end)
    return list(grouped.values())


def _local(element: Element) -> str | None:
    """The tag without the BPMN namespace; None for other namespaces (modeler extensions)."""
    tag = element.tag
    return tag[len(_BPMN):] if isinstance(tag, str) and tag.startswith(_BPMN) else None


def _flow_node(element: Element) -> bool:
    tag = _local(element)
    return tag is not None and tag not in _IGNORED and tag != "sequenceFlow"


def _make_gateways_explicit(graph: _Graph, node: str, gateway: bool) -> None:
    """Two flows into an activity or event each start it (exclusive merge); two out of it all run."""
    if gateway:
        return
    ins, outs = graph.into(node), graph.out_of(node)
    if len(ins) > 1 and graph.kind[node] != "xor":  # flows into a place merge as they are
        graph.add(f"{node}#merge", "xor")
        for flow in ins:
            graph.retarget(flow, f"{node}#merge")
        graph.connect(f"{node}#merged", f"{node}#merge", node)
    if len(outs) > 1:
        graph.add(f"{node}#fork", "and")
        for flow in outs:
            graph.resource(flow, f"{node}#fork")
        graph.connect(f"{node}#forked", node, f"{node}#fork")


def _wrap_loop(graph: _Graph, node: str, test_before: bool) -> None:
    """A looping activity runs one or more times; zero or more when the loop condition comes first."""
    head = f"{node}#loop"
    ins, outs = graph.into(node), graph.out_of(node)
    graph.add(head, "xor")
    for flow in ins:
        graph.retarget(flow, head)
    graph.connect(f"{node}#enter", head, node)
    if test_before:
        for flow in outs:
            graph.resource(flow, head)
        graph.connect(f"{node}#repeat", node, head)
        return
    tail = f"{node}#again"
    graph.add(tail, "xor")
    for flow in outs:
        graph.resource(flow, tail)
    graph.connect(f"{node}#done", node, tail)
    graph.connect(f"{node}#repeat", tail, head)


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
    successors: dict[str, set[str]] = {node: set(graph.successors(node)) for node in graph.kind}
    successors[graph.exit].add(exit_node)
    every = set(graph.kind) | {exit_node}
    dominators = {node: set(every) for node in graph.kind}
    dominators[exit_node] = {exit_node}
    changed = True
    while changed:
        changed = False
        for node in graph.kind:
            if not successors[node]:
                continue
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
        graph.add(skip, "xor")
        graph.retarget(join_input, skip)
        graph.connect(f"{join_input}#in", skip, join)
        skips.append(skip)
    for flow, _ in branches:
        entry = f"{flow}#branch"
        graph.add(entry, "xor")
        graph.resource(flow, entry)
        entries.append(entry)
    graph.kind[split], graph.kind[join] = "xor", "and"
    for size in range(1, len(branches) + 1):
        for chosen in combinations(range(len(branches)), size):
            choice = f"{split}#" + "+".join(branches[i][0] for i in chosen)
            graph.add(choice, "and")
            graph.connect(f"{choice}#chosen", split, choice)
            for i in range(len(branches)):
                graph.connect(f"{choice}#{i}", choice, entries[i] if i in chosen else skips[i])


def _petri_net(graph: _Graph, name: str) -> tuple[Net, Marking, Marking]:
    """Exclusive gateways and events become places, the rest transitions; a flow between two
    transitions is a place, a flow between two places a silent transition. Names are the BPMN ids,
    so that a soundness problem names the elements a modeller has to look at."""
    net = Net(name)
    places: dict[str, Place] = {}
    transitions: dict[str, Transition] = {}
    for node, kind in graph.kind.items():
        if kind == "xor":
            places[node] = Place(node)
            net.places.add(places[node])
            continue
        transitions[node] = Transition(node, graph.label.get(node))
        net.transitions.add(transitions[node])
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
    return net, Marking({places[graph.entry]: 1}), Marking({places[graph.exit]: 1})
