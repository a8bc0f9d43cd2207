"""The streaming Python XES reader: every construct handled exactly, every bending counted.

It reads what pm4py and ProM read, the way they read it, and says what it bent: prefixes that
no ``<extension>`` declares, attributes without a key or a value, elements of unknown types,
events outside a trace or inside another event, traces inside events, trace attributes after
the trace's events, empty events and traces without events, non-finite floats. Values are
kept exactly: an int beyond 64 bits stays that int, ``NaN`` stays the text ``NaN``, a list or
container becomes the JSON text of its values. Impossible dates (2024-13-45, +14:59) in
``time:timestamp`` are refused naming the line; elsewhere they are kept as the file's text.

It runs only on files the safety pass (``safe_xml.scan_xml``) accepted, with expat handlers;
nesting deeper than ``XmlLimits.max_depth`` is refused in one line.
"""

from __future__ import annotations

import json
import math
import re
from array import array
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import NoReturn
from xml.parsers import expat

import pandas as pd

from kaizenflow.sources.bending import Bendings
from kaizenflow.sources.mapping import SourceError
from kaizenflow.sources.safe_xml import DEFAULT_LIMITS, XmlLimits, expat_pass
from kaizenflow.sources.timestamps import parse_xs_datetime

CASE_PREFIX = "case:"
TIME_KEY = "time:timestamp"
_SCALARS = frozenset({"string", "date", "int", "float", "boolean", "id"})
_NESTED = frozenset({"list", "container"})
_INTEGER = re.compile(r"\s*[+-]?\d+\s*")
_TRUE = frozenset({"true", "TRUE", "True", "1"})
_FALSE = frozenset({"false", "FALSE", "False", "0"})
_CLASSIFIER_KEYS = re.compile(r"'([^']*)'|(\S+)")

Value = str | int | float | bool | datetime


@dataclass
class StreamedLog:
    """The events of a log, one dict each (trace attributes as ``case:KEY``), with their lines."""

    events: list[dict[str, Value]] = field(default_factory=list)
    lines: array[int] = field(default_factory=lambda: array("q"))
    prefixes: set[str] = field(default_factory=set)
    classifiers: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """One object column a key, values as read (ints stay exact); all-date columns as UTC times."""
        events = self.events
        keys = dict.fromkeys(key for event in events for key in event)
        columns: dict[str, pd.Series] = {}
        for key in keys:
            values = [event.get(key) for event in events]
            present = [v for v in values if v is not None]
            if present and all(isinstance(v, datetime) for v in present):
                columns[key] = pd.to_datetime(pd.Series(values, dtype=object), utc=True).astype(
                    "datetime64[us, UTC]")
            else:
                columns[key] = pd.Series(values, dtype=object)
        return pd.DataFrame(columns, index=pd.RangeIndex(len(events)))


@dataclass
class _Node:
    kind: str  # log, trace, event, attribute, nested, skip, meta
    owner: dict[str, Value] | None = None  # where a direct child attribute goes
    values: list[object] | None = None  # the children of a list or container
    key: str = ""


def stream_xes(path: Path, bendings: Bendings, limits: XmlLimits = DEFAULT_LIMITS) -> StreamedLog:
    """Read the whole log with expat handlers; SourceError names the line of any refusal."""
    reader = _Reader(path, bendings, limits)
    expat_pass(path, reader.install, limits)
    reader.finish()
    return reader.log


class _Reader:
    def __init__(self, path: Path, bendings: Bendings, limits: XmlLimits) -> None:
        self.path = path
        self.bend = bendings.bend
        self.max_depth = limits.max_depth
        self.log = StreamedLog()
        self.stack: list[_Node] = []
        self.parser: expat.XMLParserType | None = None
        self.trace: dict[str, Value] | None = None
        self.trace_events: list[dict[str, Value]] = []
        self.trace_line = 0
        self.trace_has_events = False
        self.case_keys: set[str] = set()
        self.seen_cases: set[str] = set()
        self.used_keys: dict[str, int] = {}

    def install(self, parser: expat.XMLParserType) -> None:
        self.parser = parser
        parser.StartElementHandler = self.start
        parser.EndElementHandler = self.end

    @property
    def line(self) -> int:
        return self.parser.CurrentLineNumber if self.parser is not None else 0

    def fail(self, problem: str) -> NoReturn:
        raise SourceError(f"{self.path}: line {self.line}, {problem}")

    # --- elements -------------------------------------------------------------------------

    def start(self, name: str, attrs: dict[str, str]) -> None:
        local = name.rpartition(":")[2]
        stack = self.stack
        if len(stack) >= self.max_depth:
            self.fail(f"<{local}> nested {len(stack) + 1} levels deep, beyond the limit of {self.max_depth} "
                      "(real logs nest a few levels; deeper nesting crashes other XES readers)")
        if not stack:
            if local != "log":
                self.fail(f"not an XES log: the root element is <{name}>, not <log>")
            stack.append(_Node("log"))
            return
        parent = stack[-1]
        if parent.kind in ("skip", "meta"):
            stack.append(_Node(parent.kind))
        elif local in _SCALARS or local in _NESTED:
            stack.append(self.attribute(local, attrs, parent))
        elif local == "event":
            stack.append(self.open_event(parent))
        elif local == "trace":
            stack.append(self.open_trace(parent))
        elif local == "values" and parent.kind == "nested":
            stack.append(_Node("values", values=parent.values))
        elif local == "extension" and parent.kind == "log":
            self.log.prefixes.add(attrs.get("prefix", ""))
            stack.append(_Node("meta"))
        elif local == "classifier" and parent.kind == "log":
            keys = tuple(q or p for q, p in _CLASSIFIER_KEYS.findall(attrs.get("keys", "")))
            self.log.classifiers[attrs.get("name", " ".join(keys))] = keys
            stack.append(_Node("meta"))
        elif local == "global" and parent.kind == "log":
            stack.append(_Node("meta"))
        else:
            self.bend("unknown-element", f"element <{name}> is not part of XES", "skipped with its content",
                      self.line)
            stack.append(_Node("skip"))

    def end(self, name: str) -> None:
        node = self.stack.pop()
        if node.kind == "event":
            self.close_event(node)
        elif node.kind == "trace":
            self.close_trace()
        elif node.kind == "nested" and node.owner is not None:
            node.owner[node.key] = json.dumps(node.values, ensure_ascii=False, default=str)

    def open_event(self, parent: _Node) -> _Node:
        if parent.kind != "trace":
            where = "outside any trace" if parent.kind == "log" else f"inside <{parent.kind}>"
            self.bend("misplaced-event", f"an <event> {where}", "skipped, as pm4py does", self.line)
            return _Node("skip")
        event: dict[str, Value] = {}
        self.log.lines.append(self.line)
        self.trace_has_events = True
        return _Node("event", owner=event)

    def close_event(self, node: _Node) -> None:
        event = node.owner
        assert event is not None
        if not event:
            self.bend("empty-event", "an <event> without attributes", "skipped", self.log.lines.pop())
            return
        self.trace_events.append(event)

    def open_trace(self, parent: _Node) -> _Node:
        if parent.kind != "log":
            self.bend("misplaced-trace", f"a <trace> inside <{parent.kind}>", "skipped with its events",
                      self.line)
            return _Node("skip")
        self.trace = {}
        self.trace_events = []
        self.trace_line = self.line
        self.trace_has_events = False
        return _Node("trace", owner=self.trace)

    def close_trace(self) -> None:
        trace, events = self.trace or {}, self.trace_events
        if not events:
            self.bend("trace-without-events", "a <trace> without events", "skipped (a case is its events)",
                      self.trace_line)
        else:
            case = {CASE_PREFIX + key: value for key, value in trace.items()}
            name = trace.get("concept:name")
            if isinstance(name, str):
                if name in self.seen_cases:
                    self.bend("repeated-case-id", f"traces share the case id {name!r}",
                              "their events form one case, as pm4py reads them", self.trace_line)
                self.seen_cases.add(name)
            for event in events:
                event.update(case)
            self.log.events.extend(events)
        self.trace, self.trace_events = None, []

    # --- attributes -----------------------------------------------------------------------

    def attribute(self, kind: str, attrs: dict[str, str], parent: _Node) -> _Node:
        key = attrs.get("key")
        line = self.line
        if parent.kind in ("nested", "values"):
            # a value of a list or container: kept in its JSON text
            value = None if kind in _NESTED else self.value(kind, key or "", attrs.get("value"), line)
            if kind in _NESTED:
                node = _Node("nested", values=[])
                assert parent.values is not None
                parent.values.append({key or "": node.values} if parent.kind == "nested" else node.values)
                return node
            assert parent.values is not None
            parent.values.append({key or "": value} if parent.kind == "nested" else value)
            return _Node("meta")
        if parent.kind not in ("event", "trace"):
            return _Node("meta")  # log attributes and meta-attributes: not part of any event
        if key is None:
            self.bend("attribute-without-key", f"<{kind}> attribute without a key", "skipped", line)
            return _Node("meta")
        owner = parent.owner
        assert owner is not None
        self.check_prefix(key, line)
        if parent.kind == "trace" and self.trace_has_events:
            self.bend("trace-attribute-after-events",
                      f"trace attribute {key} stands after the trace's events",
                      "read as a trace attribute", line)
        if key == TIME_KEY and kind != "date":
            self.fail(f"field {key}: is a <{kind}> attribute; time:timestamp must be a <date>")
        if kind in _NESTED:
            return _Node("nested", owner=owner, values=[], key=key)
        value = self.value(kind, key, attrs.get("value"), line)
        if value is not None:
            owner[key] = value
        return _Node("attribute")

    def value(self, kind: str, key: str, text: str | None, line: int) -> Value | None:
        if text is None:
            self.bend("attribute-without-value", f"field {key}: <{kind}> attribute without a value",
                      "skipped", line)
            return None
        if kind in ("string", "id"):
            return text
        if kind == "date":
            try:
                return parse_xs_datetime(text)
            except ValueError as error:
                if key == TIME_KEY:
                    self.fail(f"field {key}: {text!r} {error}")
                self.bend("invalid-date", f"field {key}: {text!r} {error}", "kept as text", line)
                return text
        if kind == "int":
            if not _INTEGER.fullmatch(text):
                self.fail(f"field {key}: {text!r} is not an integer")
            return int(text)  # exact at any size
        if kind == "float":
            try:
                number = float(text)
            except ValueError:
                self.fail(f"field {key}: {text!r} is not a number")
            if not math.isfinite(number):
                self.bend("non-finite-number", f"field {key}: {text.strip()!r} is not a finite number",
                          "kept as the text NaN, inf or -inf", line)
                return str(number).replace("nan", "NaN")
            return number
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        self.fail(f"field {key}: {text!r} is not a boolean (true or false)")

    def check_prefix(self, key: str, line: int) -> None:
        if key in self.used_keys:
            return
        self.used_keys[key] = line

    def finish(self) -> None:
        """Keys whose prefix no <extension> declares, anywhere in the file (logs may declare late)."""
        declared = self.log.prefixes
        for key, line in sorted(self.used_keys.items(), key=lambda item: item[1]):
            prefix, colon, _ = key.partition(":")
            if colon and prefix not in declared:
                self.bend(
                    "undeclared-prefix", f"attribute key prefixes no <extension> declares (first: {key})",
                    "read as plain keys, as pm4py writes and reads them", line,
                    refusal=f"field {key}: the prefix {prefix!r} is not declared by an <extension> element "
                            f"(declared: {', '.join(sorted(declared)) or 'none'}); declare it or rename the "
                            "attribute",
                )
                declared = declared | {prefix}
