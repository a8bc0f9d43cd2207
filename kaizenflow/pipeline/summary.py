"""The outcome of one run of one process: what the report, the CLI and Prefect artifacts show."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

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

    @property
    def conforming_share(self) -> float:
        return self.conforming_cases / self.cases if self.cases else 0.0
