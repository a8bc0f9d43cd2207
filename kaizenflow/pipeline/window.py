"""Reading a night's window: each case's facts kept between nights, the changed cases' events only.

The window's cases (those that started within ``window_days`` of the process's latest event) and
their facts (event count, first and last time, attributes, cost) are kept beside the case
contributions, with the batches they include. A night reads the events of the cases that a batch
not included yet touched, computes their facts, and decides the window from the kept first times:
a case's facts depend on its own events only, a case's first time never grows and the latest time
never shrinks, so a case that left the window never comes back. A changed window or cost setting
rebuilds them; a lost or damaged file only means reading the window whole
(tests/test_window.py compares night after night with reading the window whole).
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd

from kaizenflow.conformance.check import map_activities
from kaizenflow.core.events import (
    CASE_ID,
    CaseCost,
    EventLog,
    UnknownAttributeError,
    member_of,
    numbers,
    require_attribute,
)
from kaizenflow.core.window import Window
from kaizenflow.pipeline.config import ConfigError, Process
from kaizenflow.pipeline.names import check_names
from kaizenflow.pipeline.resources import Resources
from kaizenflow.storage.case_contributions import ContributionsUnreadable, KeptWindow
from kaizenflow.storage.event_store import CasesRead

#: Raise when what a window keeps of a case changes, so that old facts are read again.
WINDOW_VERSION = 1


def window_fingerprint(process: Process) -> str:
    """Everything besides a case's own events that its kept facts and membership depend on."""
    settings = process.model_dump(mode="json", include={"window_days", "cost"})
    text = json.dumps([WINDOW_VERSION, settings], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def read_window(resources: Resources, process: Process) -> Window:
    """The window's cases and the events of the cases that changed since the facts were kept
    (every case's, when nothing is kept); the kept facts are brought up to date."""
    store, events = resources.contributions, resources.events
    fingerprint = window_fingerprint(process)
    cost = process.cost
    summed = cost.attribute if cost is not None and cost.per == "event" else None
    kept = store.kept_window(process.name, fingerprint)
    batches = events.batch_ids(process.name)
    if kept is None:
        read = events.read_cases(process.name, window_days=process.window_days, cost_attribute=summed)
        facts, attributes, latest = read.facts, read.attributes, read.latest
        kept_ids: pd.Index = pd.Index([], dtype=object, name=CASE_ID)
    else:
        new = [batch for batch in batches if batch not in kept.batches]
        read = events.read_cases(process.name, batches=new, cost_attribute=summed) if new else _nothing_read()
        latest = _later(kept.latest, read.latest)
        facts, attributes = _combined(kept, read)
        kept_ids = kept.facts.index
    inside = _in_window(facts, latest, process.window_days)
    if not inside.all():
        facts, attributes = facts[inside], attributes[inside]
    updated = facts.index[member_of(facts.index, read.facts.index)] if len(read.facts) else facts.index[:0]
    left = kept_ids[~member_of(kept_ids, facts.index)] if len(kept_ids) else kept_ids
    if kept is None or len(updated) or len(left) or set(batches) != kept.batches:
        try:
            store.save_window(process.name, fingerprint, facts.loc[updated], attributes.loc[updated], left,
                              batches, latest)
        except ContributionsUnreadable:
            pass  # set aside: the next night reads its window whole
    attributes = _present_columns(attributes, facts)
    costs = _costs(resources, process, facts, attributes)
    changed_events = read.events
    if len(updated) != len(read.facts):  # a changed case outside the window
        inside_rows = member_of(changed_events[CASE_ID], updated)
        changed_events = changed_events.loc[inside_rows].reset_index(drop=True)
    changed = EventLog(events=changed_events, case_attributes=attributes.loc[updated],
                       has_timestamps=True, case_costs=None if costs is None else costs.loc[updated])
    has_timestamps = bool(len(facts)) and bool((facts["timed"] == facts["events"]).all())
    changed = EventLog(events=changed.events, case_attributes=changed.case_attributes,
                       has_timestamps=has_timestamps, case_costs=changed.case_costs)
    raw = EventLog(events=changed.events, case_attributes=attributes, has_timestamps=has_timestamps)
    _check_names(resources, process, raw, len(facts) > 0)

    def reader(cases: pd.Index) -> EventLog:
        found = events.read_cases(process.name, cases=cases).events
        wanted = member_of(attributes.index, cases)
        return map_activities(EventLog(
            events=found, case_attributes=attributes[wanted], has_timestamps=has_timestamps,
            case_costs=None if costs is None else costs[wanted]), process.activity_mapping)

    return Window(
        cases=facts[["events", "first", "last"]], case_attributes=attributes,
        changed=map_activities(changed, process.activity_mapping), has_timestamps=has_timestamps,
        reader=reader, case_costs=costs,
    )


def _nothing_read() -> CasesRead:
    index = pd.Index([], dtype=object, name=CASE_ID)
    facts = pd.DataFrame({
        "events": np.zeros(0, np.int64), "timed": np.zeros(0, np.int64),
        "first": pd.array([], dtype="datetime64[us, UTC]"), "last": pd.array([], dtype="datetime64[us, UTC]"),
        "keys": np.zeros(0, dtype=object), "cost": np.zeros(0, dtype="float64"),
    }, index=index)
    return CasesRead(events=pd.DataFrame(), facts=facts, attributes=pd.DataFrame(index=index), latest=None)


def _later(one: pd.Timestamp | None, other: pd.Timestamp | None) -> pd.Timestamp | None:
    known = [moment for moment in (one, other) if moment is not None and not pd.isna(moment)]
    return max(known) if known else None


def _combined(kept: KeptWindow, read: CasesRead) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The kept facts and attributes with the read cases' replacing or added, in case id order."""
    if not len(read.facts):
        return kept.facts, kept.attributes
    ids = read.facts.index.astype(str)
    stays = ~member_of(kept.facts.index, ids)
    facts = pd.concat([kept.facts[stays], read.facts])
    columns = sorted(set(kept.attributes.columns) | set(read.attributes.columns))
    attributes = pd.concat([kept.attributes[stays].reindex(columns=columns),
                            read.attributes.reindex(columns=columns)]).astype("string")
    attributes.index = facts.index = pd.Index(facts.index.astype(str), dtype=object, name=CASE_ID)
    if not facts.index.is_monotonic_increasing:
        order = np.argsort(facts.index.to_numpy(dtype=object), kind="stable")
        facts, attributes = facts.iloc[order], attributes.iloc[order]
    return facts, attributes


def _in_window(facts: pd.DataFrame, latest: pd.Timestamp | None, window_days: float | None) -> np.ndarray:
    """Which cases started within ``window_days`` of ``latest``, as the event store selects them
    (a case without a time never does)."""
    if window_days is None:
        return np.ones(len(facts), dtype=bool)
    if latest is None:
        return np.zeros(len(facts), dtype=bool)
    # as DuckDB casts the days' microseconds to a whole number: rounded half away from zero
    start = latest - pd.Timedelta(microseconds=int(np.floor(window_days * 86_400_000_000 + 0.5)))
    first = facts["first"]
    return (first.notna() & (first >= start)).to_numpy(dtype=bool)


def _present_columns(attributes: pd.DataFrame, facts: pd.DataFrame) -> pd.DataFrame:
    """The attribute columns some window case carries (a value, or the key without one)."""
    carried = set()
    for text in pd.unique(facts["keys"].dropna()):
        carried.update(json.loads(str(text)))
    keep = [key for key in attributes.columns if key in carried or bool(attributes[key].notna().any())]
    return attributes if len(keep) == len(attributes.columns) else attributes[keep]


def _costs(
    resources: Resources, process: Process, facts: pd.DataFrame, attributes: pd.DataFrame,
) -> pd.Series | None:
    cost = process.cost
    if cost is None:
        return None
    try:
        require_attribute(CaseCost(cost.attribute, cost.per), attributes.columns, f"process {process.name}",
                          empty=attributes.empty)
    except UnknownAttributeError as error:
        position = resources.config.processes.index(process)
        raise ConfigError(f"processes.{position}.cost.attribute: {error}") from None
    if cost.per == "event":
        return pd.Series(facts["cost"].to_numpy(dtype="float64"), index=facts.index, name="cost")
    return numbers(attributes[cost.attribute])


def _check_names(resources: Resources, process: Process, log: EventLog, known: bool) -> None:
    """The configuration's names against the model and the stored events' vocabulary."""
    if not known:
        check_names(resources.config, process, log)
        return
    activities = pd.Categorical(resources.events.activities(process.name))
    check_names(resources.config, process, EventLog(
        events=pd.DataFrame({"activity": activities}), case_attributes=log.case_attributes[:0],
        has_timestamps=log.has_timestamps))
