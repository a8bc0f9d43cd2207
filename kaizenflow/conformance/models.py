"""Loading designed process models (BPMN 2.0, PNML, PTML) as sound workflow nets for checking."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element

from kaizenflow.conformance.bpmn import READER_VERSION, bpmn_net, parse_model_xml
from kaizenflow.conformance.bpmn_diagram import BpmnDiagram, read_diagram
from kaizenflow.conformance.errors import ModelError
from kaizenflow.conformance.petri import Marking, read_pnml, to_pm4py
from kaizenflow.conformance.soundness import MAX_STATES, IndexedNet, Soundness, check_soundness

__all__ = ["MAX_STATES", "DesignedModel", "IndexedNet", "ModelError", "Soundness", "bpmn_net",
           "check_soundness", "load_model"]

#: Model files larger than this are refused before parsing: designed models are kilobytes.
MAX_MODEL_BYTES = 50_000_000


@dataclass(frozen=True)
class DesignedModel:
    """A Petri net with its markings, the visible activities, and a hash of the file's bytes.

    ``soundness`` says how soundness was established, so a report can say when it was only partly
    (it starts with "not decided" when no analysis finished). ``warnings`` are one line each on
    what was bent to read the model (a called process checked as one activity, message flows
    ignored, soundness not decided), for ``kaizen check`` to print.
    """

    name: str
    net: Any
    initial_marking: Any
    final_marking: Any
    activities: frozenset[str]
    model_hash: str
    soundness: str = "not checked"
    #: the BPMN file's elements, flows, lanes and positions, for drawing it; None for PNML/PTML
    diagram: BpmnDiagram | None = None
    warnings: tuple[str, ...] = ()

    def pm4py_net(self) -> tuple[Any, Any, Any]:
        """Net, initial and final marking as pm4py objects, for pm4py's own algorithms."""
        return to_pm4py(self.net, self.initial_marking, self.final_marking)



def load_model(path: Path, process: str | None = None,
               called_models: Mapping[str, Path] | None = None) -> DesignedModel:
    """Read a model by its extension and refuse it unless it is a sound workflow net.

    ``process`` chooses, in a BPMN file with several pools, the pool (participant id or name) or
    process (id or name) to check. ``called_models`` maps the ids of processes that BPMN call
    activities call to the files that hold them (looked up before this file and its folder). XML
    declaring a DTD or entities is refused before anything parses it further: pm4py's own BPMN
    reader expands entities. A net whose soundness no analysis could decide within its budget is
    loaded with a warning saying so; every refusal is one ``ModelError`` line naming the file.
    """
    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    suffix = path.suffix.lower()
    if suffix not in (".bpmn", ".xml", ".pnml", ".ptml"):
        raise ModelError(f"{path}: unknown model format {suffix!r} (use .bpmn, .pnml or .ptml)")
    try:
        if path.stat().st_size > MAX_MODEL_BYTES:
            raise ModelError(f"{path}: larger than {MAX_MODEL_BYTES // 1_000_000} MB (the limit for a model)")
        data = path.read_bytes()
    except OSError as error:
        raise ModelError(f"{path}: cannot be read: {error.strerror or error}") from None
    root = parse_model_xml(path, data)
    warnings: list[str] = []
    diagram = None
    digest = hashlib.sha256(data)
    if suffix in (".bpmn", ".xml"):
        read = bpmn_net(root, path, process, called_models)
        net, initial, final = read.net, read.initial_marking, read.final_marking
        warnings.extend(read.warnings)
        diagram = read_diagram(root, process)
        digest.update(f"\0bpmn reader {READER_VERSION}".encode())
        for other in read.other_files:  # a change in a called model changes what is checked
            digest.update(other.read_bytes())
    elif process is not None:
        raise ModelError(f"{path}: choosing a process (process={process!r}) only applies to BPMN files")
    elif suffix == ".pnml":
        net, initial, final = _read_pnml(path, root)
    else:
        net, initial, final = _read_ptml(path)
    activities = frozenset(t.label for t in net.transitions if t.label is not None)
    if not activities:
        raise ModelError(f"{path}: the model has no labelled activity")
    verdict = check_soundness(net, initial, final)
    if verdict.sound is False:
        raise ModelError(f"{path}: the model is not a sound workflow net: {verdict.reason}")
    if verdict.sound is None:
        warnings.append(f"{path}: soundness {verdict.reason}")
    if process is not None:
        digest.update(process.encode())
    return DesignedModel(
        name=path.name, net=net, initial_marking=initial, final_marking=final, activities=activities,
        model_hash=digest.hexdigest()[:16], soundness=verdict.reason, diagram=diagram,
        warnings=tuple(warnings),
    )


def _read_pnml(path: Path, root: Element) -> tuple[Any, Any, Any]:
    """PNML by our own reader (no pm4py import); without a final marking it ends in its one sink place."""
    net, initial, final = read_pnml(path, root)
    if not initial:
        raise ModelError(f"{path}: the net has no initial marking")
    if not final:
        sinks = sorted((p for p in net.places if not p.out_arcs), key=lambda p: p.name)
        if len(sinks) != 1:
            raise ModelError(f"{path}: the net has no final marking and not exactly one place to end in")
        final = Marking({sinks[0]: 1})
    return net, initial, final


def _read_ptml(path: Path) -> tuple[Any, Any, Any]:
    """A process tree through pm4py, converted to a workflow net."""
    import pm4py

    try:
        net, initial, final = pm4py.convert_to_petri_net(pm4py.read_ptml(str(path)))
        return net, initial, final
    except Exception as error:  # noqa: BLE001 - pm4py raises many kinds; name the file
        raise ModelError(f"{path}: cannot be read as a process model: {error}") from error
