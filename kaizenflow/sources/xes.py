"""XES logs (.xes, .xes.gz) as canonical batches: a safety pass, then the Rust reader or the exact one.

Every file first gets the safety pass (``safe_xml.scan_xml``: no DTD, well-formed, bounded
tokens and inflation), which also gathers byte-level facts (``xes_gate.XesGate``). A file the
gate finds plain is read by r4pm, the Rust reader pm4py uses, called directly; its result is
checked (as many events as ``<event>`` tags, as many cases as traces, nothing it reported on
stderr, no column it made up) and any doubt, any exception it raises (including
``pyo3_runtime.PanicException``, a BaseException) sends the file to the streaming Python
reader (``xes_stream``), which reads every construct exactly and counts what it bends.
Strict mode reads with the Python reader and refuses at the first bending.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import pandas as pd

from kaizenflow.core.events import EventLog
from kaizenflow.sources.batch import START_KEY, assemble, rows_to_log
from kaizenflow.sources.bending import Bendings, ReadWarning
from kaizenflow.sources.mapping import EventMapping, SourceError
from kaizenflow.sources.safe_xml import DEFAULT_LIMITS, XmlLimits, is_gzip
from kaizenflow.sources.timestamps import iso_utc
from kaizenflow.sources.xes_gate import XesGate
from kaizenflow.sources.xes_scan import scanned
from kaizenflow.sources.xes_stream import stream_xes

log = logging.getLogger(__name__)

CASE_KEY = "case:concept:name"
NAME_KEY = "concept:name"
TIME_KEY = "time:timestamp"
RESOURCE_KEY = "org:resource"
TRANSITION_KEY = "lifecycle:transition"
_MADE_UP_COLUMN = re.compile(r"(?:case:)?column_\d+")
Result = TypeVar("Result")


@dataclass(frozen=True)
class XesRead:
    """A read XES log: the canonical batch, what was bent to read it, and which reader read it."""

    events: pd.DataFrame
    warnings: tuple[ReadWarning, ...]
    reader: str


@dataclass
class _Frame:
    """pm4py-shaped events (trace attributes as ``case:KEY``) with what the log declares."""

    frame: pd.DataFrame
    lines: np.ndarray | None
    prefixes: set[str]
    classifiers: dict[str, tuple[str, ...]]


def read_xes_events(
    path: str | Path,
    *,
    classifier: str | None = None,
    process: str = "",
    source: str | None = None,
    strict: bool = False,
) -> pd.DataFrame:
    """Canonical events of an XES log (.xes or .xes.gz); ``read_xes`` says what was bent too."""
    read = read_xes(path, classifier=classifier, process=process, source=source, strict=strict)
    for warning in read.warnings:
        log.warning("%s: %s", path, warning.line())
    return read.events


def read_xes(
    path: str | Path,
    *,
    classifier: str | None = None,
    process: str = "",
    source: str | None = None,
    strict: bool = False,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> XesRead:
    """Canonical events of an XES log (.xes or .xes.gz), with the warnings of a lenient read.

    The activity is ``concept:name`` unless ``classifier`` names one of the log's classifiers
    (its keys' values joined with "+", pm4py's convention). When the activity ignores the
    lifecycle and the log has ``start`` events, each start is paired (per case and activity,
    first in first out, in time order) with the next ``complete``: one event per activity
    instance, at the complete time, with ``start_timestamp`` among its attributes so durations
    can be computed. Starts that never complete are kept as events of their own (marked with
    ``lifecycle:transition`` = start) and logged as a warning, never silently dropped; other
    transitions (schedule, suspend, ...) stay events too. A log without any times keeps the
    file's order and carries NaT timestamps.

    What pm4py and ProM read is read (see docs/compatibility.md, "Event logs"): undeclared
    prefixes, attributes without a key, unknown elements, misplaced and empty events and traces
    are skipped or read as those tools do, each counted in ``warnings``. ``strict`` refuses the
    first of them instead. An event without a case id or an activity is an error naming its
    line, and so is a file without events.
    """
    path = Path(path)

    def batch(rows: pd.DataFrame, mapping: EventMapping, has_time: bool) -> pd.DataFrame:
        return assemble(rows, mapping, process, has_time=has_time)

    events, warnings, reader = _read(path, classifier, source, strict, limits, batch)
    return XesRead(events, warnings, reader)


def read_xes_log(
    path: str | Path,
    *,
    classifier: str | None = None,
    strict: bool = False,
    limits: XmlLimits = DEFAULT_LIMITS,
) -> tuple[EventLog, tuple[ReadWarning, ...]]:
    """The EventLog of an XES file as ``events_to_log(read_xes(path).events)`` gives it, and the
    read's warnings: without the event ids and attribute JSON only the event store needs."""

    def log(rows: pd.DataFrame, mapping: EventMapping, has_time: bool) -> EventLog:
        return rows_to_log(rows, mapping, has_time=has_time)

    events, warnings, _ = _read(Path(path), classifier, None, strict, limits, log)
    return events, warnings


def _read(
    path: Path, classifier: str | None, source: str | None, strict: bool, limits: XmlLimits,
    finish: Callable[[pd.DataFrame, EventMapping, bool], Result],
) -> tuple[Result, tuple[ReadWarning, ...], str]:
    """The safety pass, then the Rust reader when the gate and its checks allow, else the Python one."""
    if is_gzip(path) and not path.name.lower().endswith(".gz"):
        raise SourceError(f"{path}: the file is gzip data; name it .xes.gz")
    gate = scanned(path, limits)  # the safety pass, begun earlier by the command when it could
    bendings = Bendings(str(path), strict=strict)
    if not strict and gate.rust_may_read:
        fast = _rust_frame(path, gate)
        if fast is not None:
            try:
                fast_bendings = Bendings(str(path))
                _undeclared(fast, fast_bendings)
                return finish(*_prepared(path, fast, classifier, source)), fast_bendings.warnings, "r4pm"
            except SourceError:
                pass  # the Python reader finds the same problem and names its line
    streamed = stream_xes(path, bendings, limits)
    if not streamed.events:
        skipped = "; ".join(w.line() for w in bendings.warnings)
        raise SourceError(f"{path}: the log has no events" + (f" ({skipped})" if skipped else ""))
    frame = _Frame(streamed.frame(), np.frombuffer(streamed.lines, dtype=np.int64), streamed.prefixes,
                   streamed.classifiers)
    return finish(*_prepared(path, frame, classifier, source)), bendings.warnings, "python"


def _prepared(
    path: Path, read: _Frame, classifier: str | None, source: str | None
) -> tuple[pd.DataFrame, EventMapping, bool]:
    """Validated rows (case, activity, time, resource, lifecycle paired), their mapping, has_time."""
    activity_keys = _classifier_keys(path, read.classifiers, classifier)
    frame = read.frame
    lines = read.lines if read.lines is not None else np.zeros(len(frame), dtype=np.int64)
    rows = _rows(path, frame, lines, activity_keys)
    has_time = bool(rows[TIME_KEY].notna().any())
    if has_time and rows[TIME_KEY].isna().any():
        position = int(rows[TIME_KEY].isna().to_numpy().nonzero()[0][0])
        raise SourceError(f"{path}: line {lines[position]}, field {TIME_KEY}: the event has no time "
                          "while others have one; a log has times for all events or for none")
    if TRANSITION_KEY not in activity_keys and bool((rows[TRANSITION_KEY] == "start").any()):
        rows = _pair_lifecycle(path, rows, lines, has_time)
    rows[TRANSITION_KEY] = rows[TRANSITION_KEY].where(rows[TRANSITION_KEY] != "complete", pd.NA)
    if TRANSITION_KEY in activity_keys:
        rows = rows.drop(columns=[TRANSITION_KEY])
    attributes = [c for c in rows.columns if c not in (CASE_KEY, "activity", TIME_KEY, RESOURCE_KEY)]
    mapping = EventMapping(
        source=source or path.name, case_id=CASE_KEY, timestamp=TIME_KEY,
        activity_column="activity", resource=RESOURCE_KEY, attributes=tuple(attributes),
    )
    return rows, mapping, has_time


def _rust_frame(path: Path, gate: XesGate) -> _Frame | None:
    """r4pm's reading of a file the gate let through, or None when any check doubts it."""
    try:
        import r4pm.df
    except ImportError:
        return None
    with _captured_output() as said:
        try:
            table, meta = r4pm.df.import_xes(str(path))
        except BaseException as error:  # pyo3_runtime.PanicException derives from BaseException
            if isinstance(error, KeyboardInterrupt | SystemExit | GeneratorExit):
                raise
            log.info("%s: the Rust XES reader failed (%s); reading with the Python reader", path,
                     str(error).splitlines()[0] if str(error) else type(error).__name__)
            return None
    if said():
        log.info("%s: the Rust XES reader reported %r; reading with the Python reader", path, said()[:200])
        return None
    if table.height != gate.events or any(
        str(dtype) == "Null" or _MADE_UP_COLUMN.fullmatch(name) for name, dtype in table.schema.items()
    ):
        return None
    frame = table.to_pandas(use_pyarrow_extension_array=True)
    for column in frame.columns:
        if isinstance(frame[column].dtype, pd.ArrowDtype) and frame[column].dtype.kind == "M":
            frame[column] = frame[column].astype("datetime64[us]").dt.tz_localize("UTC")
    if CASE_KEY in frame.columns and frame[CASE_KEY].nunique(dropna=False) != gate.traces:
        return None  # traces without events, or traces sharing a case id: counted by the Python reader
    if TIME_KEY in frame.columns and frame[TIME_KEY].isna().any():
        return None
    info: dict[str, Any] = json.loads(meta)
    prefixes = {str(e.get("prefix", "")) for e in info.get("extensions") or []}
    classifiers = {str(c.get("name")): tuple(str(k) for k in c.get("keys") or [])
                   for c in info.get("classifiers") or []}
    return _Frame(frame, None, prefixes, classifiers)


def _undeclared(read: _Frame, bendings: Bendings) -> None:
    # sorted: r4pm's column order changes from run to run, and the warning names the first key
    keys = sorted(c.removeprefix("case:") for c in read.frame.columns)
    declared = set(read.prefixes)
    for key in keys:
        prefix, colon, _ = key.partition(":")
        if colon and prefix not in declared:
            bendings.bend("undeclared-prefix",
                          f"attribute key prefixes no <extension> declares (first: {key})",
                          "read as plain keys, as pm4py writes and reads them")
            declared.add(prefix)


@contextmanager
def _captured_output() -> Iterator[Any]:
    """What native code writes to file descriptors 1 and 2 meanwhile (r4pm reports there).

    Python's own buffered output is flushed first so that none of it lands in the capture.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    with tempfile.TemporaryFile() as sink:
        said: list[str] = []
        try:
            os.dup2(sink.fileno(), 1)
            os.dup2(sink.fileno(), 2)
            yield lambda: said[0] if said else ""
        finally:
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)
            sink.seek(0)
            said.append(sink.read(4096).decode("utf-8", "replace").strip())


def _classifier_keys(path: Path, classifiers: dict[str, tuple[str, ...]],
                     classifier: str | None) -> tuple[str, ...]:
    if classifier is None:
        return (NAME_KEY,)
    if classifier in classifiers:
        return classifiers[classifier]
    if not classifiers:
        raise SourceError(f"{path}: classifier {classifier!r} asked for, but the log declares no "
                          f"classifiers; leave it out to use {NAME_KEY}")
    known = ", ".join(f"{name!r} ({' + '.join(keys)})" for name, keys in classifiers.items())
    raise SourceError(f"{path}: the log has no classifier {classifier!r}; it declares {known}")


def _rows(path: Path, frame: pd.DataFrame, lines: np.ndarray, activity_keys: tuple[str, ...]) -> pd.DataFrame:
    """One row per event: case, activity, time, resource, transition, then the other attributes."""

    def required(key: str) -> pd.Series:
        if key not in frame.columns:
            raise SourceError(f"{path}: line {lines[0]}, field {key}: no event or trace has it")
        values = frame[key].astype("string")
        empty = values.isna() | (values.str.strip() == "")
        if empty.any():
            position = int(empty.to_numpy().nonzero()[0][0])
            what = "the trace of this event has no concept:name" if key == CASE_KEY else "the event has none"
            raise SourceError(f"{path}: line {lines[position]}, field {key}: {what}")
        return values

    case = required(CASE_KEY)
    parts = [required(key) for key in activity_keys]
    activity = parts[0]
    for part in parts[1:]:
        activity = activity + "+" + part
    times = frame[TIME_KEY] if TIME_KEY in frame.columns else pd.Series(pd.NaT, index=frame.index)
    times = pd.to_datetime(times, utc=True).astype("datetime64[us, UTC]")
    optional = {key: frame[key].astype("string") if key in frame.columns else
                pd.Series(pd.NA, index=frame.index, dtype="string") for key in (RESOURCE_KEY, TRANSITION_KEY)}
    rows = pd.DataFrame({CASE_KEY: case, "activity": activity, TIME_KEY: times, **optional})
    consumed = {CASE_KEY, TIME_KEY, RESOURCE_KEY, TRANSITION_KEY, *activity_keys}
    others = [c for c in frame.columns if c not in consumed]
    return pd.concat([rows, frame[others]], axis=1)


def _pair_lifecycle(path: Path, rows: pd.DataFrame, lines: np.ndarray, has_time: bool) -> pd.DataFrame:
    keys = [CASE_KEY, TIME_KEY] if has_time else [CASE_KEY]
    order = rows[keys].sort_values(keys, kind="stable").index.to_numpy()
    cases = rows[CASE_KEY].to_numpy()
    activities = rows["activity"].to_numpy()
    transitions = rows[TRANSITION_KEY].fillna("").to_numpy()
    open_starts: dict[tuple[str, str], deque[int]] = {}
    start_of = np.full(len(rows), -1, dtype=np.int64)
    for position in order:
        transition = transitions[position]
        if transition == "start":
            open_starts.setdefault((cases[position], activities[position]), deque()).append(position)
        elif transition == "complete":
            waiting = open_starts.get((cases[position], activities[position]))
            if waiting:
                start_of[position] = waiting.popleft()
    unpaired = sorted(p for waiting in open_starts.values() for p in waiting)
    if unpaired:
        first = unpaired[0]
        log.warning("%s: %d start event(s) have no matching complete; kept as events of their own "
                    "(first: line %d, case %s, activity %s)", path, len(unpaired), lines[first],
                    cases[first], activities[first])
    paired = start_of >= 0
    rows = rows.copy()
    rows[START_KEY] = pd.Series(pd.NA, index=rows.index, dtype="string")
    if has_time:
        rows.loc[paired, START_KEY] = iso_utc(rows[TIME_KEY].iloc[start_of[paired]]).to_numpy()
    consumed = np.zeros(len(rows), dtype=bool)
    consumed[start_of[paired]] = True
    return rows[~consumed]
