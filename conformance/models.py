"""Loading designed process models (BPMN 2.0, PNML, PTML) as Petri nets for checking."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from defusedxml import ElementTree as SafeET
from defusedxml.common import DefusedXmlException


class ModelError(ValueError):
    """The designed model cannot be used; the message names the file and, if known, the element."""


@dataclass(frozen=True)
class DesignedModel:
    """A Petri net with its markings, the visible activities, and a hash of the file's bytes."""

    name: str
    net: Any
    initial_marking: Any
    final_marking: Any
    activities: frozenset[str]
    model_hash: str


def load_model(path: Path) -> DesignedModel:
    """Read a model file by its extension; refuses XML with entities before pm4py parses it."""
    import pm4py

    if not path.exists():
        raise ModelError(f"{path}: model file not found")
    data = path.read_bytes()
    suffix = path.suffix.lower()
    if suffix in (".bpmn", ".pnml", ".ptml", ".xml"):
        _check_safe_xml(path, data)
    try:
        if suffix in (".bpmn", ".xml"):
            bpmn = pm4py.read_bpmn(str(path))
            net, im, fm = pm4py.convert_to_petri_net(bpmn)
        elif suffix == ".pnml":
            net, im, fm = pm4py.read_pnml(str(path))
        elif suffix == ".ptml":
            net, im, fm = pm4py.convert_to_petri_net(pm4py.read_ptml(str(path)))
        else:
            raise ModelError(f"{path}: unknown model format {suffix!r} (use .bpmn, .pnml or .ptml)")
    except ModelError:
        raise
    except Exception as error:  # noqa: BLE001 - pm4py raises many kinds; name the file
        raise ModelError(f"{path}: cannot be read as a process model: {error}") from error
    activities = frozenset(t.label for t in net.transitions if t.label is not None)
    if not activities:
        raise ModelError(f"{path}: the model has no labelled activity")
    if not im or not fm:
        raise ModelError(f"{path}: the model has no start or no end")
    return DesignedModel(
        name=path.name,
        net=net,
        initial_marking=im,
        final_marking=fm,
        activities=activities,
        model_hash=hashlib.sha256(data).hexdigest()[:16],
    )


def _check_safe_xml(path: Path, data: bytes) -> None:
    try:
        SafeET.fromstring(data, forbid_dtd=True)
    except DefusedXmlException as error:
        raise ModelError(f"{path}: refused: the XML declares a DTD or entities ({error})") from None
    except SafeET.ParseError as error:
        raise ModelError(f"{path}: not well-formed XML: {error}") from None
