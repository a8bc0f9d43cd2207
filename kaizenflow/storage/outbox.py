"""The delivery outbox: task events written in the run's own transaction, then delivered to sinks.

Why an outbox: a run that pushed to GitHub or Jira directly would either lose the push when
the service is down or push for a run whose transaction then rolled back. Writing the events
in the same transaction as the tasks makes "the run happened" and "its events will be sent"
one fact; ``sinks.delivery.deliver`` then sends them later, at least once, in order per task and sink.

Delivery rules:

* Order: a task's events reach a sink in the order they were written; a later event waits
  while an earlier one is pending or dead (an update must not reach a sink before the create).
* Retries: a retryable failure schedules the next try after ``backoff`` (exponential, capped,
  no jitter, so tests can name the instant; a service's Retry-After wins when longer) and
  keeps the event pending with its attempts and last error. After ``max_attempts`` tries, or
  at once on a non-retryable failure, the event is dead: reported, kept, and sent again only
  after ``requeue_dead`` (e.g. once a revoked token is replaced).
* A sink that fails retryably is left alone for the rest of the pass: its other events keep
  their place instead of each waiting out a timeout against a service that is down.
* Concurrency: a pass claims rows with one ``UPDATE`` of the due queue heads that also
  requires each row to be unclaimed (on SQLite one statement is one write transaction); on
  PostgreSQL the heads come from a ``SELECT ... FOR UPDATE SKIP LOCKED`` CTE, so deliverers
  take different rows instead of queueing on each other's locks. A claim is a lease; a
  deliverer that died holding one is replaced when it lapses, which is where "at least once"
  may mean twice (receivers dedupe by event id).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from kaizenflow.improvement.types import (
    CLOSED,
    CREATED,
    DISMISSED,
    REOPENED,
    UNCHANGED,
    VERIFIED_EFFECTIVE,
    Task,
    TaskChange,
)
from kaizenflow.storage.schema import outbox

log = logging.getLogger(__name__)

#: The kinds of event the outbox holds, as the sinks receive them.
TASK_CREATED = "task.created"
TASK_UPDATED = "task.updated"
TASK_CLOSED = "task.closed"
EVENT_KINDS = (TASK_CREATED, TASK_UPDATED, TASK_CLOSED)
#: The change of an event a person caused, followed by the status they set.
STATUS_SET = "status:"

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"

#: A task in one of these statuses is over: its sinks are told ``task.closed``.
CLOSING_STATUSES = frozenset({VERIFIED_EFFECTIVE, DISMISSED, CLOSED})

ERROR_LENGTH = 500



# --- writing events -----------------------------------------------------------------------------


@dataclass(frozen=True)
class NewEvent:
    """An event to write for one sink. Its id is derived from what it is about, so writing the
    same event twice stores it once and a receiver sees the same id on every retry."""

    sink: str
    kind: str
    run_id: str
    task_id: int
    fingerprint: str
    payload: Mapping[str, object]

    @property
    def event_id(self) -> str:
        text = "\x1f".join([self.sink, self.fingerprint, self.kind, self.run_id])
        return hashlib.sha256(text.encode("utf-8")).hexdigest()


def task_payload(task: Task, change: str) -> dict[str, object]:
    """What sinks are told: what happened (``change``) and the task's stored fields, nothing from
    the configuration."""
    return {"change": change, "task": dataclasses.asdict(task)}


def event_kind(change: str, status: str) -> str | None:
    """The event a task change makes: none when nothing changed, ``task.created`` for a new task,
    ``task.closed`` when the task is left in a closing status (closed for absence, verified
    effective, dismissed), else ``task.updated`` (new figures, reopened, not effective, ...)."""
    if change == UNCHANGED:
        return None
    if change == CREATED:
        return TASK_CREATED
    return TASK_CLOSED if status in CLOSING_STATUSES else TASK_UPDATED


def task_events(run_id: str, changes: Sequence[TaskChange], sinks: Sequence[str]) -> list[NewEvent]:
    """The events of one run's task changes, one per sink (see :func:`event_kind`)."""
    events = []
    for change in changes:
        kind = event_kind(change.change, change.task.status)
        if kind is not None:
            events += _for_sinks(kind, change.change, run_id, change.task, sinks)
    return events


def status_events(task: Task, origin: str, sinks: Sequence[str], previous_status: str | None = None,
                  change: str | None = None) -> list[NewEvent]:
    """The events of a change a person made outside a run (a status, an owner), one per sink.

    ``origin`` stands in for the run id: anything unique to this change, e.g. its history id.
    ``change`` defaults to ``status:<new status>``, or ``reopened`` when a closed task opens again.
    """
    if change is None:
        reopened = previous_status in CLOSING_STATUSES and task.status not in CLOSING_STATUSES
        change = REOPENED if reopened else STATUS_SET + task.status
    kind = TASK_CLOSED if task.status in CLOSING_STATUSES else TASK_UPDATED
    return _for_sinks(kind, change, origin, task, sinks)


def _for_sinks(kind: str, change: str, run_id: str, task: Task, sinks: Sequence[str]) -> list[NewEvent]:
    payload = task_payload(task, change)
    return [NewEvent(sink, kind, run_id, task.task_id, task.fingerprint, payload) for sink in sinks]


def enqueue(connection: sa.Connection, events: Sequence[NewEvent], now: datetime | None = None) -> list[str]:
    """Write events in the caller's transaction; returns the ids written (known ids are skipped).

    Call it inside the transaction that records the run, so a run that fails writes nothing.
    Each event takes the next sequence number of its task at its sink, in the order given.
    """
    if not events:
        return []
    at = as_utc(now)
    known = set(connection.execute(
        sa.select(outbox.c.event_id).where(outbox.c.event_id.in_({e.event_id for e in events}))
    ).scalars())
    fresh: dict[str, NewEvent] = {}
    for event in events:
        if event.event_id not in known:
            fresh.setdefault(event.event_id, event)
    if not fresh:
        return []
    fingerprints = {e.fingerprint for e in fresh.values()}
    last: dict[tuple[str, str], int] = {
        (sink, fingerprint): int(top)
        for sink, fingerprint, top in connection.execute(
            sa.select(outbox.c.sink, outbox.c.fingerprint, sa.func.max(outbox.c.sequence))
            .where(outbox.c.fingerprint.in_(fingerprints))
            .group_by(outbox.c.sink, outbox.c.fingerprint)
        )
    }
    rows = []
    for event_id, event in fresh.items():
        key = (event.sink, event.fingerprint)
        last[key] = last.get(key, 0) + 1
        rows.append({
            "event_id": event_id, "sink": event.sink, "task_id": event.task_id,
            "fingerprint": event.fingerprint, "sequence": last[key], "kind": event.kind,
            "run_id": event.run_id, "payload_json": json.dumps(event.payload, sort_keys=True, default=str),
            "created_at": at, "status": PENDING, "attempts": 0, "next_attempt_at": at,
        })
    connection.execute(outbox.insert(), rows)
    return list(fresh)


def as_utc(moment: datetime | None) -> datetime:
    """Every stored time in UTC: SQLite and MySQL keep no offset, so mixed zones would misorder."""
    if moment is None:
        return datetime.now(UTC)
    return aware(moment).astimezone(UTC)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
