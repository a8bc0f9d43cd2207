"""The outcome of one run of one process: what the report, the CLI and Prefect artifacts show."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from functools import cache
from types import UnionType
from typing import Any, Union, get_args, get_origin, get_type_hints

from kaizenflow.conformance.types import DeviationPattern
from kaizenflow.improvement.acceptance import AcceptanceEffect, AcceptanceNote
from kaizenflow.improvement.types import TaskChange
from kaizenflow.mining.types import ProcessMap, Throughput, Variant


@dataclass
class RunSummary:
    process: str
    run_id: str
    started_at: datetime
    finished_at: datetime
    cases: int
    events: int
    new_events: int
    fitness: float | None
    conforming_cases: int
    incomplete_cases: int
    unchecked_cases: int
    throughput: Throughput
    process_map: ProcessMap
    variants: list[Variant]
    patterns: list[DeviationPattern]
    task_changes: list[TaskChange]
    model_name: str
    model_hash: str
    config_hash: str
    has_timestamps: bool = True
    quarantined_rows: int = 0
    accepted_patterns: list[DeviationPattern] = field(default_factory=list)
    #: the acceptances in force this run: who accepted which pattern, why, until when, its cases
    acceptances: list[AcceptanceNote] = field(default_factory=list)
    #: conforming cases with and without acceptances: the headline's move (None: none in force)
    acceptance_effect: AcceptanceEffect | None = None
    #: evidence that the newest week's process differs from the weeks before (empty: no drift)
    drift: list[str] = field(default_factory=list)
    #: each source and where it stands after this run: its watermark, or how it is read
    source_watermarks: dict[str, str] = field(default_factory=dict)
    stage_seconds: dict[str, float] = field(default_factory=dict)
    software: dict[str, str] = field(default_factory=dict)
    report_path: str | None = None
    #: the night found nothing new and repeats the findings of ``run_id``, its newest run: no run
    #: was recorded (the same events are no new evidence for a task's KPI or lifecycle)
    repeated: bool = False

    @property
    def conforming_share(self) -> float:
        return self.conforming_cases / self.cases if self.cases else 0.0


def summary_json(summary: RunSummary) -> str:
    """The summary as JSON, whole: what ``summary_from_json`` gives back equal."""
    return json.dumps(_plain(summary), allow_nan=True, default=_scalar)  # in order: maps list by size


def summary_from_json(text: str) -> RunSummary:
    """A summary written by ``summary_json``; ValueError when the text is not one (another
    version's, or damaged)."""
    try:
        found = _typed(RunSummary, json.loads(text))
    except (TypeError, KeyError, AttributeError, json.JSONDecodeError) as error:
        raise ValueError(f"not a run summary: {error}") from error
    if not isinstance(found, RunSummary):
        raise ValueError("not a run summary")
    return found


def _scalar(value: Any) -> Any:
    """A NumPy number as Python's (a figure computed with NumPy may be one)."""
    if hasattr(value, "item"):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not a summary's value")


def _plain(value: Any) -> Any:
    """JSON's types of a summary's values: dataclasses as objects, tuples as lists, times as text."""
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _typed(kind: Any, value: Any) -> Any:
    """``value`` from JSON as the annotated type ``kind`` (the inverse of ``_plain``)."""
    if value is None:
        return None
    origin, arguments = get_origin(kind), get_args(kind)
    if origin in (Union, UnionType):
        options = [argument for argument in arguments if argument is not type(None)]
        if len(options) != 1:
            raise TypeError(f"cannot read a value of {kind}")
        return _typed(options[0], value)
    if isinstance(kind, type) and is_dataclass(kind):
        hints = _hints(kind)
        return kind(**{f.name: _typed(hints[f.name], value[f.name]) for f in fields(kind)
                       if f.init and f.name in value})
    if origin is tuple:
        item = arguments[0] if len(arguments) == 2 and arguments[1] is Ellipsis else Any
        return tuple(_typed(item, element) for element in value)
    if origin is list:
        return [_typed(arguments[0], element) for element in value]
    if origin is dict:
        return {key: _typed(arguments[1], element) for key, element in value.items()}
    if kind is datetime:
        return datetime.fromisoformat(value)
    if kind is float:
        return float(value)
    return value


@cache
def _hints(kind: type) -> dict[str, Any]:
    return get_type_hints(kind)
