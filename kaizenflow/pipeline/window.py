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
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kaizenflow.conformance.check import map_activities
from kaizenflow.core.events import (
    ACTIVITY,
    CASE_ID,
    RESOURCE,
    TIMESTAMP,
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


#: Days of cases started before the latest event whose events a night reads anyway: drift
#: compares the cases started in the newest week with those of the four weeks before.
RECENT_DAYS = 7 + 28


def read_window(resources: Resources, process: Process, recent_days: float = RECENT_DAYS) -> Window:
    """The window's cases and the events of the cases that changed since the facts were kept
    (every case's, when nothing is kept); the kept facts are brought up to date.

    In the same pass, the events of cases the night will ask for are read too: those started in
    the last ``recent_days`` (drift) and those whose running status flips tonight (checking)."""
    store, events = resources.contributions, resources.events
    fingerprint = window_fingerprint(process)
    cost = process.cost
    summed = cost.attribute if cost is not None and cost.per == "event" else None
    kept = store.kept_window(process.name, fingerprint)
    batches = events.batch_ids(process.name)
    if kept is not None and not kept.batches <= set(batches):
        kept = None  # a batch it includes is gone (the event store was replaced): read it whole
    read: CasesRead | None
    if kept is None:
        read = events.read_cases(process.name, window_days=process.window_days, cost_attribute=summed)
        facts, attributes, latest = read.facts, read.attributes, read.latest
    else:
        new = [batch for batch in batches if batch not in kept.batches]
        read = events.read_cases(process.name, batches=new, cost_attribute=summed,
                                 also=_wanted(kept, process, recent_days)) if new else None
        latest = kept.latest if read is None else _later(kept.latest, read.latest)
        if read is not None and read.touched is not None and len(read.touched) != len(read.facts):
            is_touched = pc.is_in(read.facts.column(CASE_ID), value_set=read.touched)
            read = replace(read, facts=read.facts.filter(is_touched),
                           attributes=read.attributes.filter(is_touched))
        facts, attributes = (kept.facts, kept.attributes) if read is None else _combined(kept, read)
    inside = _in_window(facts, latest, process.window_days)
    # every case read tonight and inside the window is updated; kept ones now outside it left
    updated = pa.array([], pa.string()) if read is None else read.facts.column(CASE_ID).filter(
        _in_window(read.facts, latest, process.window_days)).combine_chunks()
    left = pa.array([], pa.string()) if kept is None else \
        facts.column(CASE_ID).filter(pc.invert(inside)).combine_chunks()
    if pc.all(inside).as_py() is False:
        facts, attributes = facts.filter(inside), attributes.filter(inside)
    if kept is None or len(updated) or len(left) or set(batches) != kept.batches:
        saved = (read.facts, read.attributes) if read is not None else \
            (facts.slice(0, 0), attributes.slice(0, 0))
        is_updated = pc.is_in(saved[0].column(CASE_ID), value_set=updated)
        try:
            store.save_window(process.name, fingerprint, saved[0].filter(is_updated),
                              saved[1].filter(is_updated), left, batches, latest)
        except ContributionsUnreadable:
            pass  # set aside: the next night reads its window whole
    index = pd.Index(facts.column(CASE_ID).to_pandas(), name=CASE_ID)
    cases = pd.DataFrame({
        "events": facts.column("events").to_numpy().astype(np.int64),
        "first": _utc(facts.column("first")), "last": _utc(facts.column("last")),
    }, index=index)
    frame = _attribute_frame(attributes, facts, index)
    costs = _costs(resources, process, facts, frame)
    has_timestamps = bool(len(cases)) and pc.all(
        pc.equal(facts.column("timed"), facts.column("events"))).as_py() is not False
    changed_ids = pd.Index(updated.to_pandas(), name=CASE_ID)
    read_events = read.events if read is not None else _no_events()
    changed_events = read_events
    if len(read_events) and not member_of(read_events[CASE_ID], changed_ids).all():
        rows = member_of(read_events[CASE_ID], changed_ids)
        changed_events = read_events.loc[rows].reset_index(drop=True)
    # the other window cases read with them (asked for by drift, checking)
    other = pd.Index(pd.unique(read_events[CASE_ID]), name=CASE_ID)
    other = other[member_of(other, index) & ~member_of(other, changed_ids)]
    preloaded = None
    if len(other):
        rows = member_of(read_events[CASE_ID], other)
        at = member_of(index, other)
        preloaded = map_activities(EventLog(
            events=read_events.loc[rows].reset_index(drop=True), case_attributes=frame[at],
            has_timestamps=has_timestamps, case_costs=None if costs is None else costs[at]),
            process.activity_mapping)
    is_changed = member_of(index, changed_ids) if len(changed_ids) != len(index) \
        else np.ones(len(index), bool)
    changed = EventLog(events=changed_events, case_attributes=frame[is_changed],
                       has_timestamps=has_timestamps,
                       case_costs=None if costs is None else costs[is_changed])
    _check_names(resources, process, EventLog(events=changed.events, case_attributes=frame,
                                              has_timestamps=has_timestamps), len(cases) > 0)

    def reader(wanted: pd.Index) -> EventLog:
        found = events.read_cases(process.name, cases=wanted).events
        rows = member_of(index, wanted)
        return map_activities(EventLog(
            events=found, case_attributes=frame[rows], has_timestamps=has_timestamps,
            case_costs=None if costs is None else costs[rows]), process.activity_mapping)

    return Window(cases=cases, case_attributes=frame,
                  changed=map_activities(changed, process.activity_mapping),
                  has_timestamps=has_timestamps, reader=reader, case_costs=costs, preloaded=preloaded)


def _wanted(
    kept: KeptWindow, process: Process, recent_days: float,
) -> Callable[[pd.Timestamp | None], list[str]]:
    """Given the latest time of tonight's batches, the kept cases a night will ask for: those
    started in the last ``recent_days`` and those whose running status flips tonight."""
    def wanted(batch_latest: pd.Timestamp | None) -> list[str]:
        last, first = kept.facts.column("last"), kept.facts.column("first")
        before = pc.max(last).as_py()
        if before is None:
            return []
        before = pd.Timestamp(before).tz_convert("UTC")
        after = before if batch_latest is None else max(before, batch_latest)
        horizon = pd.Timedelta(days=process.open_case_horizon_days)
        since = before - pd.Timedelta(days=recent_days)
        recent = pc.greater(first, pa.scalar(since.to_pydatetime(), first.type))
        flips = pc.and_(pc.greater(last, pa.scalar((before - horizon).to_pydatetime(), last.type)),
                        pc.less_equal(last, pa.scalar((after - horizon).to_pydatetime(), last.type)))
        chosen = pc.fill_null(pc.or_(recent, flips), False)
        return [str(case) for case in kept.facts.column(CASE_ID).filter(chosen).to_pylist()]
    return wanted


def _no_events() -> pd.DataFrame:
    return pd.DataFrame({
        CASE_ID: pd.Series([], dtype="string"), ACTIVITY: pd.Categorical([]),
        TIMESTAMP: pd.Series([], dtype="datetime64[us, UTC]"), RESOURCE: pd.Categorical([]),
    })


def _later(one: pd.Timestamp | None, other: pd.Timestamp | None) -> pd.Timestamp | None:
    known = [moment for moment in (one, other) if moment is not None and not pd.isna(moment)]
    return max(known) if known else None


def _combined(kept: KeptWindow, read: CasesRead) -> tuple[pa.Table, pa.Table]:
    """The kept facts and attributes with the read cases' replacing or added, in case id order."""
    if not len(read.facts):
        return kept.facts, kept.attributes
    read_ids = read.facts.column(CASE_ID).combine_chunks()
    stays = pc.invert(pc.is_in(kept.facts.column(CASE_ID), value_set=read_ids))
    facts = pa.concat_tables([kept.facts.filter(stays), read.facts.cast(kept.facts.schema)])
    columns = sorted(set(kept.attributes.column_names) | set(read.attributes.column_names))
    attributes = pa.concat_tables([_with_columns(kept.attributes.filter(stays), columns),
                                   _with_columns(read.attributes, columns)])
    ids = facts.column(CASE_ID).combine_chunks()
    if len(ids) > 1 and pc.all(pc.less(ids[:-1], ids[1:])).as_py() is False:
        order = pc.sort_indices(ids)
        facts, attributes = facts.take(order), attributes.take(order)
    return facts, attributes


def _with_columns(table: pa.Table, columns: list[str]) -> pa.Table:
    """The table's text columns, null-filled for the ``columns`` it lacks, in that order."""
    return pa.Table.from_arrays(
        [table.column(column).cast(pa.string()) if column in table.column_names
         else pa.chunked_array([pa.nulls(len(table), pa.string())]) for column in columns],
        schema=pa.schema([(column, pa.string()) for column in columns]))


def _in_window(facts: pa.Table, latest: pd.Timestamp | None, window_days: float | None) -> pa.ChunkedArray:
    """Which cases started within ``window_days`` of ``latest``, as the event store selects them
    (a case without a time never does)."""
    if window_days is None or latest is None:
        return pa.chunked_array([np.full(len(facts), window_days is None, dtype=bool)], pa.bool_())
    # as DuckDB casts the days' microseconds to a whole number: rounded half away from zero
    start = latest - pd.Timedelta(microseconds=int(np.floor(window_days * 86_400_000_000 + 0.5)))
    first = facts.column("first")
    return pc.fill_null(pc.greater_equal(first, pa.scalar(start.to_pydatetime(), first.type)), False)


def _attribute_frame(attributes: pa.Table, facts: pa.Table, index: pd.Index) -> pd.DataFrame:
    """The attribute columns some window case carries (a value, or the key without one), as
    ``read_log`` has them: text, in key order."""
    carried: set[str] = set()
    for text in pc.unique(facts.column("keys").drop_null()).to_pylist():
        carried.update(json.loads(str(text)))
    columns = {key: pd.arrays.ArrowStringArray(
                   attributes.column(key).cast(pa.large_string()).combine_chunks())
               for key in attributes.column_names
               if key in carried or attributes.column(key).null_count < len(attributes)}
    frame = pd.DataFrame(columns, index=index)
    return frame.astype("string") if len(frame.columns) else frame


def _utc(times: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """Times as the log has them: microseconds, UTC (NaT where there is none)."""
    values = pd.to_datetime(pd.Series(times.to_pandas(), dtype=object) if times.null_count == len(times)
                            else times.to_pandas(), utc=True)
    return values.astype("datetime64[us, UTC]").array


def _costs(
    resources: Resources, process: Process, facts: pa.Table, attributes: pd.DataFrame,
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
        values = facts.column("cost").to_numpy(zero_copy_only=False).astype("float64")
        return pd.Series(values, index=attributes.index, name="cost")
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
