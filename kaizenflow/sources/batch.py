"""Canonical batches from typed file rows (ids through ``map_rows``), and an EventLog from a batch."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import numpy as np
import pandas as pd

from kaizenflow.core.events import (
    ATTRIBUTES,
    BATCH_COLUMNS,
    CASE_ID,
    LOG_COLUMNS,
    RESOURCE,
    TIMESTAMP,
    CaseCost,
    EventLog,
    numbers,
    require_attribute,
)
from kaizenflow.sources.mapping import EventMapping, SourceError, map_rows
from kaizenflow.sources.timestamps import Locate, iso_utc

#: Attribute key of an activity instance's start time (ISO 8601, UTC), from XES pairs or a start column.
START_KEY = "start_timestamp"
#: Column holding the natural key of a file row; map_rows hashes it into the event id.
NATURAL_KEY = "\x00natural_key"
_SEP = "\x1f"
_MAPPED_ROW = re.compile(r"^source .*?: row (\d+), ")


def assemble(
    rows: pd.DataFrame, mapping: EventMapping, process: str, *, has_time: bool = True
) -> pd.DataFrame:
    """The canonical batch of already-validated rows, with ids that are unique within the file.

    A file is a whole log, and logs do hold identical events (same case, activity, time and
    resource: double clicks, or every event of a log without timestamps). Content alone would
    give them one id and the store would keep one, so the natural key is the content plus how
    many identical events came before it in the file. The id itself is hashed by ``map_rows``
    (process, source and key), the one implementation of event ids. Without times (``has_time``
    False) the timestamp column is ignored and the batch carries NaT.
    """
    rows = rows.copy(deep=False)
    for name in mapping.attributes:
        rows[name] = _attribute_text(rows[name])
    if mapping.event_id is None:
        rows[NATURAL_KEY] = _natural_keys(rows, mapping, has_time)
        mapping = replace(mapping, event_id=NATURAL_KEY)
    if not has_time:
        # map_rows insists on times; the placeholder never reaches the batch or the ids.
        rows[mapping.timestamp] = pd.Timestamp(0, tz="UTC")
    events = map_rows(rows, mapping, process)
    if not has_time:
        events[TIMESTAMP] = pd.Series(pd.NaT, index=events.index, dtype="datetime64[us, UTC]")
    return events[BATCH_COLUMNS]


def relocated(error: SourceError, where: str, locate: Locate) -> SourceError:
    """A map_rows error ("source s: row 3, ...") restated with the file and its own line numbering."""
    message = str(error)
    match = _MAPPED_ROW.match(message)
    if match:
        return SourceError(f"{where}: {locate(int(match.group(1)) - 1)}, {message[match.end():]}")
    return SourceError(f"{where}: {message}")


def _attribute_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        return iso_utc(values)
    text = values.astype("string")
    return text.where(text.str.strip() != "", pd.NA)


def _natural_keys(rows: pd.DataFrame, mapping: EventMapping, has_time: bool) -> pd.Series:
    case = rows[mapping.case_id].astype("string")
    if mapping.activity_column is not None:
        activity = rows[mapping.activity_column].astype("string")
    else:
        activity = pd.Series(mapping.activity or "", index=rows.index, dtype="string")
    if has_time and pd.api.types.is_datetime64_any_dtype(rows[mapping.timestamp]):
        moments = rows[mapping.timestamp].to_numpy(dtype="datetime64[us]").astype("int64")
        time = pd.Series(moments, index=rows.index).astype("string")
    elif has_time:
        time = rows[mapping.timestamp].astype("string")
    else:
        time = pd.Series("", index=rows.index, dtype="string")
    if mapping.resource is not None:
        resource = rows[mapping.resource].astype("string").fillna("")
    else:
        resource = pd.Series("", index=rows.index, dtype="string")
    content = case + _SEP + activity + _SEP + time + _SEP + resource
    occurrence = content.groupby(content, sort=False).cumcount().astype("string")
    return content + _SEP + occurrence


def events_to_log(batch: pd.DataFrame, cost: CaseCost | None = None) -> EventLog:
    """The ordered EventLog of one canonical batch, for commands that read a file without a store.

    Events are ordered by case, then time; ties (and every event of a log without times) keep
    the batch's order, which for files is the order of the file. Case attributes are, for each
    attribute key, the first non-null value in that order, as the event store derives them.
    """
    missing = [c for c in BATCH_COLUMNS if c not in batch.columns]
    if missing:
        raise SourceError(f"batch lacks column(s) {', '.join(missing)}")
    frame = batch.reset_index(drop=True)
    timestamps = pd.to_datetime(frame[TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
    has_timestamps = bool(len(frame)) and bool(timestamps.notna().all())
    order = pd.DataFrame({CASE_ID: frame[CASE_ID].astype("string"), TIMESTAMP: timestamps})
    keys = [CASE_ID, TIMESTAMP] if has_timestamps else [CASE_ID]
    positions = order.sort_values(keys, kind="stable").index
    events = frame.loc[positions, LOG_COLUMNS].reset_index(drop=True)
    for column in (CASE_ID, "activity", RESOURCE):
        events[column] = events[column].astype("string")
    events[TIMESTAMP] = timestamps.loc[positions].reset_index(drop=True)
    attributes = frame.loc[positions, ATTRIBUTES].reset_index(drop=True)
    # one decoder call for all rows: a call per row was most of `kaizen inspect` on a large log
    texts = attributes.fillna("{}").replace("", "{}")
    records: list[dict[str, object]] = json.loads("[" + ",".join(texts) + "]")
    case_attributes = _case_attributes(events[CASE_ID], records)
    costs = None
    if cost is not None:
        require_attribute(cost, case_attributes.columns, "the log", empty=events.empty)
        if cost.per == "case":
            costs = numbers(case_attributes[cost.attribute])
        else:  # summed over the events that carry a number, as the event store sums them
            values = numbers(pd.Series([r.get(cost.attribute) for r in records], dtype=object))
            costs = values.groupby(events[CASE_ID].to_numpy(), sort=True).sum(min_count=1)
            costs = costs.reindex(case_attributes.index)
    return EventLog(events=events, case_attributes=case_attributes, has_timestamps=has_timestamps,
                    case_costs=costs)


def rows_to_log(rows: pd.DataFrame, mapping: EventMapping, *, has_time: bool = True) -> EventLog:
    """The EventLog ``events_to_log(assemble(rows, mapping, ...))`` gives, without ids or JSON.

    For one-off commands on a file (``kaizen inspect``): the event ids and the attributes' JSON
    of a batch serve the event store only, and writing then parsing them was most of the time.
    ``rows`` must be validated as for ``assemble`` (text case ids and activities, UTC times).
    """
    assert mapping.activity_column is not None
    frame = rows.reset_index(drop=True)
    cases = frame[mapping.case_id].astype("string")
    timestamps = (pd.to_datetime(frame[mapping.timestamp], utc=True).astype("datetime64[us, UTC]") if has_time
                  else pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us, UTC]"))
    has_timestamps = bool(len(frame)) and has_time and bool(timestamps.notna().all())
    positions = _case_time_order(cases, timestamps if has_timestamps else None)

    def ordered(values: pd.Series) -> pd.Series:
        return values if positions is None else values.take(positions).reset_index(drop=True)

    resources = (frame[mapping.resource].astype("string") if mapping.resource is not None
                 else pd.Series(pd.NA, index=frame.index, dtype="string"))
    events = pd.DataFrame({
        CASE_ID: ordered(cases),
        "activity": ordered(frame[mapping.activity_column].astype("string")),
        TIMESTAMP: ordered(timestamps),
        RESOURCE: ordered(resources),
    })[LOG_COLUMNS]
    # values that cannot be blank (times, numbers, booleans) become text after the first of each
    # case is taken: one conversion a case, not an event; text is blank-checked first
    values = {name: ordered(_attribute_text(frame[name]) if _may_be_blank(frame[name]) else frame[name])
              for name in sorted(mapping.attributes)}
    table = pd.DataFrame({name: column for name, column in values.items() if column.notna().any()})
    if table.columns.empty:
        case_attributes = pd.DataFrame(index=pd.Index(events[CASE_ID].unique(), name=CASE_ID).sort_values())
    else:
        table.index = pd.Index(events[CASE_ID], name=CASE_ID)
        first = table.groupby(level=0, sort=True).first()
        case_attributes = pd.DataFrame({name: _attribute_text(first[name]).astype("string")
                                        for name in first.columns}, index=first.index)
        case_attributes.index.name = CASE_ID
    return EventLog(events=events, case_attributes=case_attributes, has_timestamps=has_timestamps)


def _case_time_order(cases: pd.Series, timestamps: pd.Series | None) -> np.ndarray | None:
    """Positions that order events by case id, then time, ties as they come; None: already so.

    The order ``sort_values([case, time], kind="stable")`` gives, from integer keys: sorting
    and taking the Arrow-backed text columns was most of reading a large XES log, whose
    events mostly come ordered already.
    """
    codes = pd.factorize(cases, sort=True)[0]
    keys = [codes] if timestamps is None else [timestamps.astype("int64").to_numpy(), codes]
    positions = np.lexsort(keys)  # stable; the last key is the first sort key
    return None if bool((positions == np.arange(len(positions))).all()) else positions


def _may_be_blank(values: pd.Series) -> bool:
    """Text (or anything else) may hold blanks; numbers, booleans and times cannot."""
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values)
                or pd.api.types.is_datetime64_any_dtype(values))


def _case_attributes(cases: pd.Series, records: list[dict[str, object]]) -> pd.DataFrame:
    table = pd.DataFrame.from_records(records, index=pd.Index(cases, name=CASE_ID))
    if table.columns.empty:
        unique = pd.Index(cases.unique(), name=CASE_ID).sort_values()
        return pd.DataFrame(index=unique)
    table = table[sorted(table.columns)].astype("string")
    first = table.groupby(level=0, sort=True).first()
    first.index.name = CASE_ID
    return first.astype("string")
