"""Turning rows of any source into canonical events: mapping, typing, UTC, deterministic ids."""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from kaizenflow.core.events import ACTIVITY, ATTRIBUTES, CASE_ID, EVENT_ID, RESOURCE, SOURCE, TIMESTAMP
from kaizenflow.sources.errors import SourceError as SourceError  # defined apart: it imports no pandas


@dataclass(frozen=True)
class EventMapping:
    """Which columns of a source's rows are the case, activity, time, resource and attributes."""

    source: str
    case_id: str
    timestamp: str
    activity: str | None = None
    activity_column: str | None = None
    resource: str | None = None
    event_id: str | None = None
    attributes: Sequence[str] = ()
    timezone: str = "UTC"

    def required_columns(self) -> list[str]:
        columns = [self.case_id, self.timestamp, *self.attributes]
        for optional in (self.activity_column, self.resource, self.event_id):
            if optional is not None:
                columns.append(optional)
        return columns


class SeenIds:
    """The event ids of the chunks of one source read so far, 16 bytes each, sorted in a few runs.

    A source read chunk by chunk must still reject an id that an earlier chunk already had;
    sorted runs merged as they grow keep that both exact (ids are the store's own) and small.
    """

    def __init__(self) -> None:
        self._runs: list[np.ndarray] = []

    def contains(self, event_ids: pd.Series) -> np.ndarray:
        """Which of these ids an earlier chunk had (a boolean mask)."""
        keys = _digests(event_ids)
        found = np.zeros(len(keys), dtype=bool)
        for run in self._runs:
            at = np.minimum(np.searchsorted(run, keys), len(run) - 1)
            found |= run[at] == keys
        return found

    def add(self, event_ids: pd.Series) -> None:
        run = np.sort(_digests(event_ids))
        while self._runs and len(self._runs[-1]) <= len(run):
            run = np.sort(np.concatenate([self._runs.pop(), run]), kind="stable")
        if len(run):
            self._runs.append(run)


def _digests(event_ids: pd.Series) -> np.ndarray:
    """The 16 bytes each id's 32 hex digits spell, decoded by NumPy from the Arrow text buffer
    (a digit's value is its low four bits, plus 9 for a letter)."""
    ids = pa.array(event_ids, type=pa.large_string())
    offsets = np.frombuffer(ids.buffers()[1], dtype=np.int64)[ids.offset:ids.offset + len(ids) + 1]
    if ids.null_count or not bool((np.diff(offsets) == 32).all()):
        raise ValueError("event ids are 32 hex digits")
    text = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0]:offsets[-1]].reshape(-1, 16, 2)
    digits = (text & 0x0F) + 9 * (text >> 6)
    return np.ascontiguousarray((digits[:, :, 0] << 4) | digits[:, :, 1]).view("S16").ravel()


def map_rows(
    rows: pd.DataFrame, mapping: EventMapping, process: str, *, first_row: int = 0,
    seen: SeenIds | None = None,
) -> pd.DataFrame:
    """Canonical events from source rows; raises SourceError naming the first bad row and field.

    ``rows`` may be a chunk of a longer result: ``first_row`` is how many rows came before it
    (row numbers in errors count from the start of the source), and ``seen`` holds the ids of
    the chunks before, which an explicit ``event_id`` must not repeat.
    """
    missing = [c for c in mapping.required_columns() if c not in rows.columns]
    if missing:
        raise SourceError(
            f"source {mapping.source}: mapped column(s) {', '.join(missing)} not in the result "
            f"(columns: {', '.join(map(str, rows.columns))})"
        )
    case_ids = _text_column(rows, mapping.case_id, mapping.source, "case_id", first_row)
    if mapping.activity_column is not None:
        activities = _text_column(rows, mapping.activity_column, mapping.source, "activity", first_row)
    else:
        activities = pd.Series(mapping.activity, index=rows.index, dtype="string")
    timestamps = to_utc(rows[mapping.timestamp], mapping.timezone, mapping.source, mapping.timestamp,
                        first_row=first_row)
    resources = (
        rows[mapping.resource].astype("string")
        if mapping.resource is not None
        else pd.Series(pd.NA, index=rows.index, dtype="string")
    )
    attributes = _attributes_json(rows, list(mapping.attributes))
    if mapping.event_id is not None:
        natural = _text_column(rows, mapping.event_id, mapping.source, "event_id", first_row)
        given = rows[mapping.event_id]  # whole numbers repeat as their text does, found ten times faster
        duplicated = natural[(given if pd.api.types.is_integer_dtype(given) else natural).duplicated()]
        if not duplicated.empty:
            row = first_row + int(duplicated.index[0])
            raise SourceError(
                f"source {mapping.source}: row {row + 1}, field {mapping.event_id}: duplicate "
                f"event id {duplicated.iloc[0]!r}"
            )
        key_parts = [natural]
    else:
        key_parts = [case_ids, activities, _key_times(timestamps), resources.fillna("")]
    event_ids = pd.Series(pd.arrays.ArrowStringArray(hashed_ids(process, mapping.source, key_parts)),
                          index=rows.index)
    if seen is not None and mapping.event_id is not None:
        again = seen.contains(event_ids).nonzero()[0]
        if len(again):
            position = int(again[0])
            raise SourceError(
                f"source {mapping.source}: row {first_row + position + 1}, field {mapping.event_id}: "
                f"duplicate event id {natural.iloc[position]!r}"
            )
        seen.add(event_ids)
    events = pd.DataFrame(
        {
            EVENT_ID: event_ids,
            CASE_ID: case_ids,
            ACTIVITY: activities,
            TIMESTAMP: timestamps,
            RESOURCE: resources,
            SOURCE: mapping.source,
            ATTRIBUTES: attributes,
        }
    )
    return events.reset_index(drop=True)


def map_rows_quarantining(
    rows: pd.DataFrame, mapping: EventMapping, process: str, *, first_row: int = 0,
    seen: SeenIds | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Like ``map_rows``, but rows that are bad on their own are set aside instead of stopping.

    Returns the events of the good rows and one row per rejected source row (its 1-based row
    number, the field and the reason), so a run can count and report them. Problems of the
    whole source (a mapped column missing) still stop the run. ``first_row`` and ``seen`` are
    as for ``map_rows``: an id an earlier chunk had is a duplicate too.
    """
    missing = [c for c in mapping.required_columns() if c not in rows.columns]
    if missing:
        return map_rows(rows, mapping, process), _rejects([])  # raises, naming the columns
    problems: list[tuple[int, str, str]] = []
    for column, role in ((mapping.case_id, "case_id"), (mapping.activity_column, "activity"),
                         (mapping.event_id, "event_id")):
        if column is None:
            continue
        values = rows[column]
        empty = values.isna() | (values.astype("string").str.strip() == "")
        problems += [(int(i), column, f"{role} is empty") for i in empty.to_numpy().nonzero()[0]]
    times = rows[mapping.timestamp]
    if not pd.api.types.is_datetime64_any_dtype(times):
        parsed = pd.to_datetime(times, format="ISO8601", errors="coerce")
        bad = parsed.isna().to_numpy().nonzero()[0]
        problems += [(int(i), mapping.timestamp, "missing or unparseable timestamp") for i in bad]
    else:
        problems += [(int(i), mapping.timestamp, "missing timestamp")
                     for i in times.isna().to_numpy().nonzero()[0]]
    if mapping.event_id is not None:
        duplicated = rows[mapping.event_id].astype("string").duplicated().to_numpy().nonzero()[0]
        problems += [(int(i), mapping.event_id, "duplicate event id") for i in duplicated]
    rejected = {position for position, _, _ in problems}
    keep = [i for i in range(len(rows)) if i not in rejected]
    events = map_rows(rows.iloc[keep], mapping, process)
    if seen is not None and mapping.event_id is not None:
        again = seen.contains(events[EVENT_ID])
        problems += [(keep[i], mapping.event_id, "duplicate event id") for i in again.nonzero()[0]]
        events = events[~again].reset_index(drop=True)
        seen.add(events[EVENT_ID])
    rejects = [(mapping.source, first_row + p + 1, f, r) for p, f, r in sorted(problems)]
    return events, _rejects(rejects)


def _rejects(problems: list[tuple[str, int, str, str]]) -> pd.DataFrame:
    return pd.DataFrame(problems, columns=["source", "row", "field", "reason"])


def _text_column(rows: pd.DataFrame, column: str, source: str, role: str, first_row: int) -> pd.Series:
    values = rows[column]
    empty = values.isna() | (values.astype("string").str.strip() == "")
    if empty.any():
        row = first_row + int(empty.to_numpy().nonzero()[0][0])
        raise SourceError(f"source {source}: row {row + 1}, field {column} ({role}) is empty")
    if pd.api.types.is_float_dtype(values) and (values == values.round()).all():
        values = values.astype("int64")
    return values.astype("string")


def to_utc(
    values: pd.Series, timezone: str, source: str, column: str, *, first_row: int = 0
) -> pd.Series:
    """Parse timestamps to UTC; naive values are read in ``timezone``. Names the first bad row
    (counting ``first_row`` rows before these)."""
    if values.isna().any():
        row = int(values.isna().to_numpy().nonzero()[0][0])
        raise SourceError(
            f"source {source}: row {first_row + row + 1}, field {column}: missing timestamp"
        )
    if pd.api.types.is_datetime64_any_dtype(values):
        parsed = values
    elif (arrow := _zoneless_iso_times(values)) is not None:
        parsed = arrow
    else:
        try:
            parsed = pd.to_datetime(values, format="ISO8601", utc=False)
        except (ValueError, TypeError):
            parsed = pd.to_datetime(values, errors="coerce", format="mixed")
            bad = parsed.isna()
            row = int(bad.to_numpy().nonzero()[0][0]) if bad.any() else 0
            raise SourceError(
                f"source {source}: row {first_row + row + 1}, field {column}: unparseable or "
                f"mixed-format timestamp {values.iloc[row]!r}"
            ) from None
    if not pd.api.types.is_datetime64_any_dtype(parsed):
        raise SourceError(
            f"source {source}: field {column}: timestamps mix time zones; give them in one zone"
        )
    if getattr(parsed.dt, "tz", None) is None:
        parsed = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
        if parsed.isna().any():
            row = int(parsed.isna().to_numpy().nonzero()[0][0])
            raise SourceError(
                f"source {source}: row {first_row + row + 1}, field {column}: time "
                f"{values.iloc[row]!r} is ambiguous in {timezone} (daylight-saving change)"
            )
    in_utc: pd.Series = parsed.dt.tz_convert("UTC").astype("datetime64[us, UTC]")
    return in_utc


def _zoneless_iso_times(values: pd.Series) -> pd.Series | None:
    """ISO 8601 times without a zone (what SQLite and most files hold) parsed by Arrow, a fifth of
    pandas' time for the same times; None for anything else Arrow refuses (zones, other
    spellings, nanoseconds), which pandas then parses or names as bad."""
    if not pd.api.types.is_string_dtype(values):
        return None
    try:
        parsed = pc.cast(pa.array(values, from_pandas=True), pa.timestamp("us"))
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return None
    return pd.Series(parsed.to_numpy(zero_copy_only=False), index=values.index)


def hashed_ids(process: str, source: str, parts: Sequence[pd.Series | pa.Array]) -> pa.Array:
    """Event ids: the first 32 hex digits of the SHA-256 of process, source and the parts joined by
    U+001F. Joined by Arrow and hashed by DuckDB, a column at a time: hashlib one key at a time
    takes twice as long (benchmarks/micro.py); the ids are the same. Arrow text: a million
    Python strings cost more than hashing them."""
    columns = [part if isinstance(part, pa.Array) else pa.array(part.astype("string"), type=pa.large_string())
               for part in parts]
    text = [pa.scalar(process, pa.large_string()), pa.scalar(source, pa.large_string())]
    keys = pc.binary_join_element_wise(*text, *columns, pa.scalar("\x1f", pa.large_string()))
    connection = _hashing_database(os.getpid()).cursor()  # a cursor each: safe from several threads
    try:
        connection.register("keys", pa.table({"key": keys}))
        hashed = connection.sql("SELECT left(sha256(key), 32) AS id FROM keys").to_arrow_table()
    finally:
        connection.close()
    return hashed.column("id").combine_chunks()


@functools.cache
def _hashing_database(process_id: int) -> Any:
    """One in-memory DuckDB for hashing ids, opened once per process (a forked child opens its
    own): a new one for every chunk took longer than hashing a small source's ids."""
    import duckdb  # here: commands that need no ids (kaizen inspect) do not pay for importing it

    return duckdb.connect(":memory:", config={"preserve_insertion_order": True})


def _key_times(timestamps: pd.Series) -> pa.Array:
    """UTC times as the ids have always spelled them, strftime's %Y-%m-%dT%H:%M:%S.%f: Arrow's
    cast to text writes the same digits (tests/test_mapping.py checks it, years 1 to 9999) with a
    space for the T, in a twentieth of pandas' strftime time."""
    naive = pa.array(timestamps.dt.tz_convert(None).to_numpy(dtype="datetime64[us]"))
    return pc.replace_substring(pc.cast(naive, pa.large_string()), " ", "T", max_replacements=1)


def _present(value: object) -> bool:
    return value is not None and value is not pd.NA


def _attributes_json(rows: pd.DataFrame, names: list[str]) -> pd.Series:
    """Each row's business attributes as JSON (keys sorted, missing values left out).

    Rows share few distinct combinations (a supplier, a plant): each is written once, from the
    first row having it, and the rows take their combination's text by its number.
    """
    if not names:
        return pd.Series("{}", index=rows.index, dtype="string")
    texts = [rows[name].astype("string") for name in names]
    combination = np.zeros(len(rows), dtype=np.int64)
    for values in texts:
        codes, distinct = pd.factorize(values)  # a missing value is -1
        combination, _ = pd.factorize(combination * (len(distinct) + 1) + (codes + 1))
    _, firsts = np.unique(combination, return_index=True)  # the numbers run 0, 1, ... by first row
    # plain Python strings: iterating Arrow-backed string columns row by row is twice as slow
    columns = [values.iloc[firsts].astype(object).tolist() for values in texts]
    ordered = sorted(range(len(names)), key=lambda i: names[i])
    written = [json.dumps({names[i]: values[i] for i in ordered if _present(values[i])})
               for values in zip(*columns, strict=True)]
    return pd.Series(pd.array(written, dtype="string").take(combination), index=rows.index)
