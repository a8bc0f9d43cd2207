"""Rows of tabular files (CSV, Parquet) to canonical batches: column recognition, checks naming the row."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import pandas as pd

from kaizenflow.sources.batch import START_KEY, assemble, relocated
from kaizenflow.sources.mapping import EventMapping, SourceError
from kaizenflow.sources.timestamps import Locate, iso_utc, parse_timestamps

# Recognised without a mapping, best first; XES names win over common ones ("Activity" vs concept:name).
_CASE = ("case:concept:name", "case_id", "case", "caseid", "case id")
_ACTIVITY = ("concept:name", "activity", "activity_name", "activity name")
_TIMESTAMP = ("time:timestamp", "timestamp", "time", "end_timestamp", "complete_timestamp")
_RESOURCE = ("org:resource", "resource")
_START = ("start_timestamp", "start_time", "start")
#: Name given to a column whose header is empty (a pandas index written to CSV, a trailing delimiter).
UNNAMED = "(column {})"


@dataclass(frozen=True)
class Layout:
    """How a file's columns become events: the mapping, plus an optional start-time column."""

    mapping: EventMapping
    start: str | None = None


def recognise(
    columns: Sequence[str], where: str, source: str, timezone: str, header: str
) -> Layout:
    """The layout of a file without a mapping: XES-style or common column names, case-insensitive.

    Every other named column becomes a business attribute; unnamed ones (a pandas index) do
    not. A header with a single column is almost always a delimiter problem: the error says so.
    """
    by_name = {c.strip().lower(): c for c in reversed(columns) if c.strip()}

    def find(candidates: tuple[str, ...]) -> str | None:
        return next((by_name[c] for c in candidates if c in by_name), None)

    case, activity, timestamp = find(_CASE), find(_ACTIVITY), find(_TIMESTAMP)
    for role, found, candidates in (("case id", case, _CASE), ("activity", activity, _ACTIVITY),
                                    ("timestamp", timestamp, _TIMESTAMP)):
        if found is None:
            hint = (" The header has a single column: is the delimiter right?" if len(columns) == 1
                    else " Pass an EventMapping naming the columns.")
            raise SourceError(
                f"{where}: {header}: no column is recognised as the {role} (looked for "
                f"{', '.join(candidates)}; columns: {', '.join(map(repr, columns))}).{hint}"
            )
    assert case is not None and activity is not None and timestamp is not None
    resource, start = find(_RESOURCE), find(_START)
    used = {case, activity, timestamp, resource, start}
    unnamed = {UNNAMED.format(i + 1) for i in range(len(columns))}
    attributes = tuple(c for c in columns if c not in used and c not in unnamed and c.strip())
    mapping = EventMapping(source=source, case_id=case, timestamp=timestamp, activity_column=activity,
                           resource=resource, attributes=attributes, timezone=timezone)
    return Layout(mapping, start)


def check_columns(layout: Layout, columns: Sequence[str], where: str, header: str) -> None:
    """Every mapped column is in the file; names the missing ones and what the file does have."""
    wanted = [*layout.mapping.required_columns(), *([layout.start] if layout.start else [])]
    missing = [c for c in wanted if c not in columns]
    if missing:
        raise SourceError(
            f"{where}: {header}: mapped column(s) {', '.join(map(repr, missing))} not in the file "
            f"(columns: {', '.join(map(repr, columns))})"
        )


def to_batch(
    table: pd.DataFrame,
    layout: Layout,
    process: str,
    where: str,
    locate: Locate,
    timestamp_format: str | None = None,
) -> pd.DataFrame:
    """The canonical batch of a table whose columns passed ``check_columns``.

    Every check map_rows would make is made here first, so that errors name the file and the
    physical line (or row) rather than a row number of the frame; map_rows then only builds.
    """
    mapping = layout.mapping
    rows = table.copy(deep=False)
    for column, role in ((mapping.case_id, "case id"), (mapping.activity_column, "activity"),
                         (mapping.event_id, "event id")):
        if column is not None:
            rows[column] = _required_text(rows[column], where, column, role, locate)
    if mapping.event_id is not None:
        duplicated = rows[mapping.event_id].duplicated(keep=False)
        if duplicated.any():
            first, second = duplicated.to_numpy().nonzero()[0][:2]
            raise SourceError(
                f"{where}: {locate(int(second))}, field {mapping.event_id}: event id "
                f"{rows[mapping.event_id].iloc[second]!r} already used on {locate(int(first))}"
            )
    rows[mapping.timestamp] = _times(rows[mapping.timestamp], where, mapping.timestamp, locate,
                                     timestamp_format)
    if layout.start is not None:
        rows[START_KEY] = _start_times(rows[layout.start], mapping, where, layout.start, locate,
                                       timestamp_format)
        mapping = replace(mapping, attributes=(*mapping.attributes, START_KEY))
    try:
        return assemble(rows, mapping, process)
    except SourceError as error:
        raise relocated(error, where, locate) from None


def _required_text(values: pd.Series, where: str, column: str, role: str, locate: Locate) -> pd.Series:
    if pd.api.types.is_float_dtype(values) and bool((values.dropna() == values.dropna().round()).all()):
        values = values.astype("Int64")  # 3.0 read from Parquet is case "3", as map_rows has it
    text = values.astype("string")
    empty = text.isna() | (text.str.strip() == "")
    if empty.any():
        position = int(empty.to_numpy().nonzero()[0][0])
        raise SourceError(f"{where}: {locate(position)}, field {column}: the {role} is empty")
    return text


def _times(
    values: pd.Series, where: str, column: str, locate: Locate, strptime_format: str | None
) -> pd.Series:
    if pd.api.types.is_datetime64_any_dtype(values):
        if values.isna().any():
            position = int(values.isna().to_numpy().nonzero()[0][0])
            raise SourceError(f"{where}: {locate(position)}, field {column}: missing timestamp")
        return values
    if pd.api.types.is_numeric_dtype(values):
        values = values.astype("string")  # epoch seconds, detected and checked as text
    return parse_timestamps(values, where, column, locate, strptime_format)


def _start_times(
    values: pd.Series, mapping: EventMapping, where: str, column: str, locate: Locate,
    strptime_format: str | None,
) -> pd.Series:
    """Start times as ISO UTC text; empty where the event is instantaneous."""
    present = values.notna() & (values.astype("string").str.strip() != "")
    result = pd.Series(pd.NA, index=values.index, dtype="string")
    if present.any():
        positions = present.to_numpy().nonzero()[0]
        parsed = _times(values[present], where, column, lambda i: locate(int(positions[i])), strptime_format)
        if parsed.dt.tz is None:
            parsed = parsed.dt.tz_localize(mapping.timezone, ambiguous="NaT", nonexistent="shift_forward")
            if parsed.isna().any():
                position = int(positions[int(parsed.isna().to_numpy().nonzero()[0][0])])
                raise SourceError(f"{where}: {locate(position)}, field {column}: the time is ambiguous "
                                  f"in {mapping.timezone} (daylight-saving change)")
        result[present] = iso_utc(parsed).to_numpy()
    return result
