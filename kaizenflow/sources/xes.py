"""XES logs (.xes, .xes.gz) as canonical batches: validated in one pass, parsed by pm4py's fastest reader."""

from __future__ import annotations

import logging
import re
from array import array
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NoReturn
from xml.parsers import expat

import numpy as np
import pandas as pd

from kaizenflow.sources.batch import START_KEY, assemble
from kaizenflow.sources.mapping import EventMapping, SourceError
from kaizenflow.sources.safe_xml import is_gzip, scan_xml
from kaizenflow.sources.timestamps import iso_utc

log = logging.getLogger(__name__)

CASE_KEY = "case:concept:name"
NAME_KEY = "concept:name"
TIME_KEY = "time:timestamp"
RESOURCE_KEY = "org:resource"
TRANSITION_KEY = "lifecycle:transition"

_TYPED = frozenset({"string", "date", "int", "float", "boolean", "id", "list", "container"})
_XS_DATETIME = re.compile(r"-?\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})?")
_INTEGER = re.compile(r"[+-]?\d+")
_BOOLEANS = frozenset({"true", "false", "TRUE", "FALSE", "True", "False", "1", "0"})
_CLASSIFIER_KEYS = re.compile(r"'([^']*)'|(\S+)")


@dataclass
class XesOutline:
    """What the validating pass learned: declared prefixes and classifiers, the line of each event."""

    prefixes: set[str] = field(default_factory=set)
    classifiers: dict[str, tuple[str, ...]] = field(default_factory=dict)
    event_lines: array[int] = field(default_factory=lambda: array("q"))


def outline_xes(path: Path) -> XesOutline:
    """Validate an XES file in one streaming pass (safety, well-formedness, typed values, prefixes).

    Every error names the file, the line and the attribute key. The pass also records the line
    of each event so that errors found later, in pm4py's frame, can still point into the file.
    """
    validator = _Validator(path)
    scan_xml(path, validator.install)
    validator.check_prefixes()
    return validator.outline


class _Validator:
    """Expat handlers of the validating pass; kept lean, they run once per XML element."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.outline = XesOutline()
        self.checked: set[str] = set()
        self.undeclared: dict[str, tuple[int, str]] = {}
        self.parser: expat.XMLParserType | None = None

    def install(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        parser.StartElementHandler = self.root

    def start(self, name: str, attrs: dict[str, str]) -> None:
        # Fast paths first: a log is mostly <string>, <date> and <event> elements with known keys.
        if name == "string":
            if attrs.get("key") not in self.checked or "value" not in attrs:
                self.check_attribute(name, attrs)
        elif name == "date":
            value = attrs.get("value")
            if attrs.get("key") not in self.checked or value is None or not _XS_DATETIME.fullmatch(value):
                self.check_attribute(name, attrs)
        elif name == "event":
            self.outline.event_lines.append(self.line)
        else:
            self.other(name, attrs)

    def root(self, name: str, attrs: dict[str, str]) -> None:
        if name.rpartition(":")[2] != "log":
            self.fail(f"not an XES log: the root element is <{name}>, not <log>")
        if self.parser is not None:
            self.parser.StartElementHandler = self.start

    def other(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        if local in _TYPED:
            self.check_attribute(local, attrs)
        elif local == "event":
            self.outline.event_lines.append(self.line)
        elif local == "extension":
            self.outline.prefixes.add(attrs.get("prefix", ""))
        elif local == "classifier":
            keys = tuple(q or p for q, p in _CLASSIFIER_KEYS.findall(attrs.get("keys", "")))
            self.outline.classifiers[attrs.get("name", " ".join(keys))] = keys

    def check_attribute(self, kind: str, attrs: dict[str, str]) -> None:
        key = attrs.get("key")
        if key is None:
            self.fail(f"<{kind}> attribute without a key")
        if key not in self.checked:
            prefix, colon, _ = key.partition(":")
            if colon and prefix not in self.outline.prefixes:
                self.undeclared.setdefault(prefix, (self.line, key))  # may be declared further on
            if key == TIME_KEY and kind != "date":
                self.fail(f"field {key}: is a <{kind}> attribute; time:timestamp must be a <date>")
            self.checked.add(key)
        if kind in ("list", "container"):
            return
        value = attrs.get("value")
        if value is None:
            self.fail(f"field {key}: <{kind}> attribute without a value")
        elif kind == "date" and not _XS_DATETIME.fullmatch(value) and not _iso(value):
            self.fail(f"field {key}: {value!r} is not an xs:dateTime (e.g. 2024-01-05T09:00:00+01:00)")
        elif kind == "int" and not _INTEGER.fullmatch(value):
            self.fail(f"field {key}: {value!r} is not an integer")
        elif kind == "float" and not _float(value):
            self.fail(f"field {key}: {value!r} is not a number")
        elif kind == "boolean" and value not in _BOOLEANS:
            self.fail(f"field {key}: {value!r} is not a boolean (true or false)")

    def check_prefixes(self) -> None:
        """Keys whose prefix no <extension> declares, anywhere in the file (logs may declare late)."""
        pending = sorted((line, key, prefix) for prefix, (line, key) in self.undeclared.items()
                         if prefix not in self.outline.prefixes)
        if pending:
            line, key, prefix = pending[0]
            declared = ", ".join(sorted(self.outline.prefixes)) or "none"
            raise SourceError(f"{self.path}: line {line}, field {key}: the prefix {prefix!r} is not "
                              f"declared by an <extension> element (declared: {declared}); declare it "
                              "or rename the attribute")

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber if self.parser is not None else 0

    def fail(self, problem: str) -> NoReturn:
        raise SourceError(f"{self.path}: line {self.line}, {problem}")


def _iso(value: str) -> bool:
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def read_xes_events(
    path: str | Path,
    *,
    classifier: str | None = None,
    process: str = "",
    source: str | None = None,
) -> pd.DataFrame:
    """Canonical events of an XES log (.xes or .xes.gz).

    The activity is ``concept:name`` unless ``classifier`` names one of the log's classifiers
    (its keys' values joined with "+", pm4py's convention). When the activity ignores the
    lifecycle and the log has ``start`` events, each start is paired (per case and activity,
    first in first out, in time order) with the next ``complete``: one event per activity
    instance, at the complete time, with ``start_timestamp`` among its attributes so durations
    can be computed. Starts that never complete are kept as events of their own (marked with
    ``lifecycle:transition`` = start) and logged as a warning, never silently dropped; other
    transitions (schedule, suspend, ...) stay events too. A log without any times keeps the
    file's order and carries NaT timestamps. Nothing is dropped: an event without a case id or
    an activity is an error naming its line.
    """
    path = Path(path)
    if is_gzip(path) and not path.name.lower().endswith(".gz"):
        raise SourceError(f"{path}: the file is gzip data; name it .xes.gz")
    outline = outline_xes(path)
    if not outline.event_lines:
        raise SourceError(f"{path}: the log has no events")
    activity_keys = _classifier_keys(path, outline, classifier)
    frame = _read_frame(path, len(outline.event_lines))
    lines = np.frombuffer(outline.event_lines, dtype=np.int64)
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
    return assemble(rows, mapping, process, has_time=has_time)


def _classifier_keys(path: Path, outline: XesOutline, classifier: str | None) -> tuple[str, ...]:
    if classifier is None:
        return (NAME_KEY,)
    if classifier in outline.classifiers:
        return outline.classifiers[classifier]
    if not outline.classifiers:
        raise SourceError(f"{path}: classifier {classifier!r} asked for, but the log declares no "
                          f"classifiers; leave it out to use {NAME_KEY}")
    known = ", ".join(f"{name!r} ({' + '.join(keys)})" for name, keys in outline.classifiers.items())
    raise SourceError(f"{path}: the log has no classifier {classifier!r}; it declares {known}")


def _read_frame(path: Path, expected: int) -> pd.DataFrame:
    """pm4py's frame of the log: Rust reader first, lxml iterparse when it fails or loses events.

    ``pm4py.read_xes`` is called with an explicit variant and without format_dataframe, so
    nothing reorders or drops rows; the count is checked against the validating pass anyway.
    """
    import pm4py
    from pm4py.util.rustxes_utils import get_rustxes_backend_name

    variants = [v for v in (get_rustxes_backend_name(), "iterparse") if v is not None]
    failures: list[str] = []
    for variant in variants:
        try:
            frame = pm4py.read_xes(str(path), variant=variant, return_legacy_log_object=False,
                                   show_progress_bar=False)
        except Exception as error:  # any reader failure means: try the next one
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            failures.append(f"{variant}: {reason}")
            continue
        if len(frame) == expected:
            return frame.reset_index(drop=True)
        failures.append(f"{variant}: read {len(frame)} events where the file has {expected}")
    raise SourceError(f"{path}: no XES reader could read it ({'; '.join(failures)})")


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
