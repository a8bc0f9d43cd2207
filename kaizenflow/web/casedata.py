"""Cases for the drill-down: their events, attributes and variant from the event store, and
their alignment from the alignment cache, read without ever holding up a night.

The event store is DuckDB: while a night appends, it holds the file's write lock and a reader
cannot open it. A page then falls back to what the state database holds of the last published
run (the cases and their deviations) and says that the rest is back once the night's load is
done. Reads open the file read-only for one query and close it at once, so they never keep a
night from taking its lock for longer than that query, and what a run's cases look like is
kept in memory by run: it does not change until the next run is published.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa

from kaizenflow.conformance.types import VariantAlignment
from kaizenflow.reports.case_alignments import Step, steps_of
from kaizenflow.reports.exports import export_folder
from kaizenflow.storage.alignment_cache import AlignmentCacheFile, variant_key
from kaizenflow.storage.event_store import EventStore, EventStoreError


@dataclass(frozen=True)
class CaseEvent:
    activity: str
    timestamp: datetime | None
    resource: str | None


@dataclass(frozen=True)
class CaseFacts:
    """One case as the drill-down filters and shows it."""

    case_id: str
    events: tuple[CaseEvent, ...]
    attributes: dict[str, str]

    @property
    def started_at(self) -> datetime | None:
        times = [e.timestamp for e in self.events if e.timestamp is not None]
        return min(times) if times else None

    @property
    def activities(self) -> tuple[str, ...]:
        return tuple(e.activity for e in self.events)

    @property
    def variant(self) -> str:
        return variant_key(self.activities)[:12]


class EventStoreBusy(RuntimeError):
    """A night holds the event store's write lock; the message says what to do."""


def read_cases(path: Path, process: str, case_ids: Sequence[str]) -> dict[str, CaseFacts]:
    """The events (in log order) and attributes of the given cases; EventStoreBusy while a night
    writes. A case's attribute is its value on the earliest event carrying it."""
    if not case_ids:
        return {}
    wanted = pa.table({"case_id": pa.array([str(c) for c in case_ids], pa.string())})
    try:
        with EventStore(path)._connect(read_only=True) as connection:
            connection.register("wanted_cases", wanted)
            rows = connection.execute(
                "SELECT case_id, activity, timestamp, resource, attributes FROM committed_events "
                "SEMI JOIN wanted_cases USING (case_id) WHERE process = ? "
                "ORDER BY case_id, timestamp NULLS LAST, source_rank, batch_id, position",
                [process],
            ).fetchall()
    except EventStoreError as error:
        raise EventStoreBusy(
            "a night is loading events right now: filters by attribute, time and variant and the "
            "case alignments are back when its load is done (reload in a minute)"
        ) from error
    events: dict[str, list[CaseEvent]] = {}
    attributes: dict[str, dict[str, str]] = {}
    for case_id, activity, timestamp, resource, raw in rows:
        moment = None if timestamp is None else (
            timestamp.astimezone(UTC) if timestamp.tzinfo else timestamp.replace(tzinfo=UTC))
        events.setdefault(case_id, []).append(CaseEvent(str(activity), moment,
                                                        None if resource is None else str(resource)))
        known = attributes.setdefault(case_id, {})
        if raw and raw != "{}":
            for key, value in json.loads(raw).items():
                if value is not None and key not in known:
                    known[key] = str(value)
    return {case_id: CaseFacts(case_id, tuple(found), attributes.get(case_id, {}))
            for case_id, found in events.items()}


class CaseCache:
    """The cases of a run's patterns, kept by (process, run, pattern) for the pages that filter
    them: each filter would otherwise read the event store again."""

    def __init__(self, entries: int = 32) -> None:
        self._entries = entries
        self._cached: OrderedDict[tuple[str, str, str], dict[str, CaseFacts]] = OrderedDict()
        self._lock = threading.Lock()

    def cases(self, path: Path, process: str, run_id: str, pattern_key: str,
              case_ids: Sequence[str]) -> dict[str, CaseFacts]:
        key = (process, run_id, pattern_key)
        with self._lock:
            if key in self._cached:
                self._cached.move_to_end(key)
                return self._cached[key]
        found = read_cases(path, process, case_ids)
        with self._lock:
            self._cached[key] = found
            while len(self._cached) > self._entries:
                self._cached.popitem(last=False)
        return found


@dataclass(frozen=True)
class CaseFilter:
    """What the pattern page narrows its cases to; empty fields do not filter."""

    attribute: str = ""
    value: str = ""
    since: datetime | None = None
    until: datetime | None = None
    variant: str = ""

    def keeps(self, case: CaseFacts) -> bool:
        if self.attribute and self.value and case.attributes.get(self.attribute) != self.value:
            return False
        started = case.started_at
        if self.since is not None and (started is None or started < self.since):
            return False
        if self.until is not None and (started is None or started >= self.until):
            return False
        return not self.variant or case.variant == self.variant


@dataclass(frozen=True)
class VariantCount:
    key: str
    activities: tuple[str, ...]
    cases: int


def variants_of(cases: Mapping[str, CaseFacts]) -> list[VariantCount]:
    """The variants among the cases, most frequent first."""
    counted: dict[str, VariantCount] = {}
    for case in cases.values():
        known = counted.get(case.variant)
        counted[case.variant] = VariantCount(case.variant, case.activities, (known.cases if known else 0) + 1)
    return sorted(counted.values(), key=lambda v: (-v.cases, v.activities))


def attribute_values(cases: Mapping[str, CaseFacts]) -> dict[str, list[str]]:
    """Each attribute's values among the cases, sorted: the choices of the filter."""
    values: dict[str, set[str]] = {}
    for case in cases.values():
        for key, value in case.attributes.items():
            values.setdefault(key, set()).add(value)
    return {key: sorted(found) for key, found in sorted(values.items())}


def model_hash_of_run(reports_directory: Path, process: str, run_id: str) -> str | None:
    """The hash of the model a run checked against, from the run's exported summary.json."""
    summary = export_folder(reports_directory, process, run_id) / "summary.json"
    try:
        model = json.loads(summary.read_text(encoding="utf-8")).get("model") or {}
    except (OSError, ValueError):
        return None
    found = model.get("hash") if isinstance(model, dict) else None
    return str(found) if found else None


def case_alignment(cache_path: Path, model_hash: str, activities: Sequence[str],
                   mapping: Mapping[str, str]) -> tuple[Step, ...] | None:
    """The case's alignment as report chips, or None when its variant has none in the cache
    (a variant that ran out of time, or a cache emptied since)."""
    if not cache_path.is_file():
        return None
    variant = tuple(mapping.get(a, a) for a in activities)
    found: dict[tuple[str, ...], VariantAlignment] = AlignmentCacheFile(cache_path).get_many(
        model_hash, [variant])
    alignment = found.get(variant)
    if alignment is None or not alignment.checked:
        return None
    return tuple(steps_of((move.log, move.model) for move in alignment.moves))
