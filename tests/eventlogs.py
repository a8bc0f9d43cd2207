"""Hand-built event logs and models for tests whose answer is known exactly."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

from kaizenflow.conformance.models import DesignedModel
from kaizenflow.core.events import EventLog

Row = tuple[str, str, str, str]  # case, activity, timestamp (ISO, UTC), resource


def log_from_rows(
    rows: Iterable[Row], attributes: Mapping[str, Mapping[str, str]] | None = None
) -> EventLog:
    frame = pd.DataFrame(list(rows), columns=["case_id", "activity", "timestamp", "resource"])
    for column in ("case_id", "activity", "resource"):
        frame[column] = frame[column].astype("string")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype("datetime64[us, UTC]")
    frame = frame.sort_values(["case_id", "timestamp"], kind="stable").reset_index(drop=True)
    cases = sorted(frame["case_id"].unique())
    case_attributes = pd.DataFrame(index=pd.Index(cases, name="case_id"))
    for name, values in (attributes or {}).items():
        case_attributes[name] = pd.Series(values, dtype="string").reindex(cases).to_numpy()
    return EventLog(events=frame, case_attributes=case_attributes.astype("string"))


def sequential_model(*activities: str) -> DesignedModel:
    """A Petri net doing the activities one after another."""
    from pm4py.objects.petri_net.obj import Marking, PetriNet
    from pm4py.objects.petri_net.utils.petri_utils import add_arc_from_to

    net = PetriNet("sequence")
    places = [PetriNet.Place(f"p{i}") for i in range(len(activities) + 1)]
    for place in places:
        net.places.add(place)
    for i, activity in enumerate(activities):
        transition = PetriNet.Transition(f"t{i}", activity)
        net.transitions.add(transition)
        add_arc_from_to(places[i], transition, net)
        add_arc_from_to(transition, places[i + 1], net)
    return DesignedModel(
        name="sequence", net=net, initial_marking=Marking({places[0]: 1}),
        final_marking=Marking({places[-1]: 1}), activities=frozenset(activities),
        model_hash="test",
    )
