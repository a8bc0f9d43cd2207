"""Plain types of improvement tasks, shared by raising, storage, sinks and reports."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
IN_PROGRESS = "in_progress"
DONE = "done"
VERIFIED_EFFECTIVE = "verified_effective"
NOT_EFFECTIVE = "not_effective"
DISMISSED = "dismissed"
CLOSED = "closed"

TASK_STATUSES = (
    OPEN, ACKNOWLEDGED, IN_PROGRESS, DONE, VERIFIED_EFFECTIVE, NOT_EFFECTIVE, DISMISSED, CLOSED,
)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
REOPENED = "reopened"


@dataclass(frozen=True)
class TaskProposal:
    """What a run proposes from one pattern: the stable identity, the words and the KPI now.

    ``kpi_value`` is the share of cases in scope that show the pattern, in [0, 1].
    """

    fingerprint: str
    process: str
    pattern_key: str
    title: str
    business_object: str | None
    owner: str
    kpi_name: str
    kpi_value: float
    target_value: float
    cases: int
    cases_in_scope: int
    evidence: dict[str, object]


@dataclass(frozen=True)
class Task:
    """An improvement task as stored: its proposal's fields plus baseline, status and history."""

    task_id: int
    fingerprint: str
    process: str
    pattern_key: str
    title: str
    business_object: str | None
    owner: str
    kpi_name: str
    baseline_value: float
    current_value: float
    target_value: float
    status: str
    cases: int
    evidence: dict[str, object]
    created_run: str
    last_seen_run: str
    baseline_cases: int = 0
    baseline_in_scope: int = 0
    changed_at: datetime | None = None
    effect: dict[str, object] | None = None


@dataclass(frozen=True)
class TaskChange:
    """What one run did to one task: created, updated, unchanged, reopened, closed, or a verdict."""

    change: str
    task: Task
