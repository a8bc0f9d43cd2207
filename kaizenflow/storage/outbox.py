"""The delivery outbox: task events written in the run's own transaction, then delivered to sinks.

Why an outbox: a run that pushed to GitHub or Jira directly would either lose the push when
the service is down or push for a run whose transaction then rolled back. Writing the events
in the same transaction as the tasks makes "the run happened" and "its events will be sent"
one fact; :func:`deliver` then sends them later, at least once, in order per task and sink.

Delivery rules:

* Order: a task's events reach a sink in the order they were written; a later event waits
  while an earlier one is pending or dead (an update must not reach a sink before the create).
* Retries: a retryable failure schedules the next try after ``backoff`` (exponential, capped,
  no jitter, so tests can name the instant; a service's Retry-After wins when longer) and
  keeps the event pending with its attempts and last error. After ``max_attempts`` tries, or
  at once on a non-retryable failure, the event is dead: reported, kept, and sent again only
  after :func:`requeue_dead` (e.g. once a revoked token is replaced).
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
import functools
import hashlib
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

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
from kaizenflow.sinks import STATUS_SET, TASK_CLOSED, TASK_CREATED, TASK_UPDATED, DeliveryError, Event, Sink
from kaizenflow.storage.state import metadata

log = logging.getLogger(__name__)

PENDING = "pending"
DELIVERED = "delivered"
DEAD = "dead"

#: A task in one of these statuses is over: its sinks are told ``task.closed``.
CLOSING_STATUSES = frozenset({VERIFIED_EFFECTIVE, DISMISSED, CLOSED})

_ERROR_LENGTH = 500

outbox = sa.Table(
    "outbox", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("event_id", sa.String(64), nullable=False, unique=True),
    sa.Column("sink", sa.String(64), nullable=False),
    sa.Column("task_id", sa.Integer, nullable=False, index=True),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("sequence", sa.Integer, nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("payload_json", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("claimed_until", sa.DateTime(timezone=True)),
    sa.Column("claim_token", sa.String(32)),
    sa.Column("delivered_at", sa.DateTime(timezone=True)),
    sa.Column("last_error", sa.Text),
    sa.UniqueConstraint("sink", "fingerprint", "sequence", name="uq_outbox_task_sequence"),
    sa.Index("ix_outbox_due", "status", "sink", "next_attempt_at"),
)


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
    at = _utc(now)
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


# --- delivering them ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Backoff:
    """Wait ``base_seconds * factor ** (attempts - 1)`` after a failed try, at most ``max_seconds``.

    No jitter: retries of different events are already spread by when each failed, and a fixed
    schedule lets an operator (and a test) say when the next try is due."""

    base_seconds: float = 60.0
    factor: float = 2.0
    max_seconds: float = 6 * 3600.0

    def delay(self, attempts: int) -> timedelta:
        seconds = self.base_seconds * self.factor ** max(0, attempts - 1)
        return timedelta(seconds=min(seconds, self.max_seconds))


@dataclass(frozen=True)
class DeadLetter:
    """An event given up on: it stays in the outbox, blocking its task's later events at its
    sink, until someone fixes the cause and calls :func:`requeue_dead`."""

    event_id: str
    sink: str
    kind: str
    task_id: int
    fingerprint: str
    attempts: int
    last_error: str


@dataclass
class DeliveryReport:
    """What one :func:`deliver` pass did, by event id."""

    delivered: list[str] = field(default_factory=list)
    retrying: list[str] = field(default_factory=list)
    dead: list[DeadLetter] = field(default_factory=list)
    deferred: list[str] = field(default_factory=list)
    pending: int = 0
    unconfigured: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """Nothing failed in this pass (events may still wait for their back-off)."""
        return not self.retrying and not self.dead

    def summary(self) -> str:
        text = (f"{len(self.delivered)} delivered, {len(self.retrying)} to retry, {len(self.dead)} dead, "
                f"{self.pending} pending")
        if self.unconfigured:
            text += f"; pending for sinks no longer configured: {dict(sorted(self.unconfigured.items()))}"
        return text


def deliver(
    engine: sa.Engine,
    sinks: Mapping[str, Sink],
    now: datetime | None = None,
    max_attempts: int = 10,
    backoff: Backoff = Backoff(),
    batch_size: int = 100,
    lease: timedelta = timedelta(minutes=10),
) -> DeliveryReport:
    """Send every due event to its sink, in order per task and sink; one pass, then return.

    ``now`` fixes the pass's clock (tests; a caller replaying a schedule); by default the time
    at the start. Events for sink names not in ``sinks`` stay pending and are counted in
    ``unconfigured``. Safe to run from several processes at once: no event is claimed twice
    while its lease (longer than any sink's timeouts) holds.
    """
    if max_attempts < 1:
        raise ValueError("max_attempts must be at least 1")
    clock = _utc(now)
    report = DeliveryReport()
    failing: set[str] = set()
    while True:
        active = sorted(name for name in sinks if name not in failing)
        if not active:
            break
        claimed = _claim(engine, active, clock, batch_size, lease)
        if not claimed:
            break
        for row in claimed:
            if row["sink"] in failing:
                _release(engine, row)
                report.deferred.append(row["event_id"])
                continue
            try:
                sinks[row["sink"]].send(_event(row))
            except DeliveryError as error:
                _failed(engine, row, error, clock, max_attempts, backoff, report)
                if error.retryable:
                    failing.add(row["sink"])
            except Exception as error:  # noqa: BLE001 - a sink's bug must not stop other sinks
                unexpected = DeliveryError(_describe_unexpected(error), retryable=True)
                _failed(engine, row, unexpected, clock, max_attempts, backoff, report)
                failing.add(row["sink"])
            else:
                _delivered(engine, row, clock)
                report.delivered.append(row["event_id"])
    for sink, count in _pending_by_sink(engine).items():
        if sink in sinks:
            report.pending += count
        else:
            report.unconfigured[sink] = count
    return report


_F = TypeVar("_F", bound=Callable[..., Any])


def _retry_deadlocks(function: _F) -> _F:
    """Run a write transaction again when the database chose it as a deadlock victim.

    Two deliverers at once can deadlock on MariaDB/MySQL (errors 1205, 1213) or PostgreSQL
    (40P01); the victim's transaction was rolled back whole, so trying again is safe.
    """

    @functools.wraps(function)
    def retrying(*args: Any, **kwargs: Any) -> Any:
        for attempt in range(5):
            try:
                return function(*args, **kwargs)
            except sa.exc.OperationalError as error:
                if not _deadlock(error) or attempt == 4:
                    raise
                time.sleep(0.05 * (attempt + 1))
        raise AssertionError("unreachable")

    return cast(_F, retrying)


def _deadlock(error: sa.exc.OperationalError) -> bool:
    code = getattr(error.orig, "args", (None,))[0] if error.orig is not None else None
    return code in (1205, 1213) or getattr(error.orig, "sqlstate", None) == "40P01"


@_retry_deadlocks
def _claim(
    engine: sa.Engine, sink_names: Sequence[str], now: datetime, limit: int, lease: timedelta
) -> list[sa.RowMapping]:
    """Claim up to ``limit`` due events that head their task's queue at their sink, atomically."""
    token = uuid.uuid4().hex
    due = outbox.alias("due")
    earlier = outbox.alias("earlier")
    unclaimed = sa.or_(outbox.c.claimed_until.is_(None), outbox.c.claimed_until <= now)
    candidates = (
        sa.select(due.c.id)
        .where(
            due.c.status == PENDING,
            due.c.sink.in_(sink_names),
            due.c.next_attempt_at <= now,
            sa.or_(due.c.claimed_until.is_(None), due.c.claimed_until <= now),
            ~sa.exists().where(
                earlier.c.sink == due.c.sink,
                earlier.c.fingerprint == due.c.fingerprint,
                earlier.c.sequence < due.c.sequence,
                earlier.c.status != DELIVERED,
            ),
        )
        .order_by(due.c.id)
        .limit(limit)
    )
    claim = outbox.update().values(claim_token=token, claimed_until=now + lease)
    guard = (outbox.c.status == PENDING, unclaimed)
    with engine.begin() as connection:
        dialect = connection.dialect.name
        if dialect == "postgresql":
            # A CTE runs the locking select once. Inside ``IN (...)`` PostgreSQL may re-run a
            # LIMIT ... FOR UPDATE SKIP LOCKED subplan per row and claim far more than the limit.
            locked = candidates.with_for_update(skip_locked=True, of=due).cte("claimable")
            locked = locked.prefix_with("MATERIALIZED")
            connection.execute(claim.where(outbox.c.id == locked.c.id, *guard))
        elif dialect in ("mysql", "mariadb"):
            # MySQL refuses a LIMIT in an IN subquery on the table being updated; a derived table
            # with a LIMIT is materialised first, and the guard still stops a double claim.
            wrapped = candidates.subquery("claimable")
            connection.execute(claim.where(outbox.c.id.in_(sa.select(wrapped.c.id)), *guard))
        else:
            # SQLite: one statement is one write transaction; the IN list is computed once.
            connection.execute(claim.where(outbox.c.id.in_(candidates), *guard))
        return list(connection.execute(
            sa.select(outbox).where(outbox.c.claim_token == token).order_by(outbox.c.id)
        ).mappings())


def _event(row: sa.RowMapping) -> Event:
    return Event(
        event_id=row["event_id"], sink=row["sink"], kind=row["kind"], task_id=row["task_id"],
        fingerprint=row["fingerprint"], sequence=row["sequence"], run_id=row["run_id"],
        created_at=_aware(row["created_at"]), payload=json.loads(row["payload_json"]),
        attempts=row["attempts"],
    )


def _mine(row: sa.RowMapping) -> sa.ColumnElement[bool]:
    return sa.and_(outbox.c.id == row["id"], outbox.c.claim_token == row["claim_token"])


@_retry_deadlocks
def _delivered(engine: sa.Engine, row: sa.RowMapping, now: datetime) -> None:
    # Not conditioned on the claim: if a lapsed lease let another deliverer in, the event is
    # delivered all the same, and saying so stops a third send.
    with engine.begin() as connection:
        connection.execute(
            outbox.update().where(outbox.c.id == row["id"], outbox.c.status == PENDING).values(
                status=DELIVERED, delivered_at=now, attempts=outbox.c.attempts + 1,
                claimed_until=None, claim_token=None,
            )
        )
    log.debug("delivered %s %s (task %s) to %s", row["kind"], row["event_id"], row["task_id"], row["sink"])


@_retry_deadlocks
def _failed(
    engine: sa.Engine, row: sa.RowMapping, error: DeliveryError, now: datetime,
    max_attempts: int, backoff: Backoff, report: DeliveryReport,
) -> None:
    attempts = row["attempts"] + 1
    dead = not error.retryable or attempts >= max_attempts
    delay = backoff.delay(attempts)
    if error.retry_after is not None:
        delay = max(delay, timedelta(seconds=error.retry_after))
    message = str(error)[:_ERROR_LENGTH]
    with engine.begin() as connection:
        recorded = connection.execute(
            outbox.update().where(_mine(row)).values(
                status=DEAD if dead else PENDING, attempts=attempts, last_error=message,
                next_attempt_at=now + delay, claimed_until=None, claim_token=None,
            )
        ).rowcount
    if not recorded:
        return  # the lease lapsed and another deliverer took the event over: its outcome counts
    if dead:
        report.dead.append(DeadLetter(row["event_id"], row["sink"], row["kind"], row["task_id"],
                                      row["fingerprint"], attempts, message))
        log.error("gave up delivering %s %s (task %s) to %s after %d attempt(s): %s",
                  row["kind"], row["event_id"], row["task_id"], row["sink"], attempts, message)
    else:
        report.retrying.append(row["event_id"])
        log.warning("delivering %s %s (task %s) to %s failed (attempt %d, next at %s): %s",
                    row["kind"], row["event_id"], row["task_id"], row["sink"], attempts,
                    (now + delay).isoformat(), message)


@_retry_deadlocks
def _release(engine: sa.Engine, row: sa.RowMapping) -> None:
    with engine.begin() as connection:
        connection.execute(outbox.update().where(_mine(row)).values(claimed_until=None, claim_token=None))


def _describe_unexpected(error: Exception) -> str:
    """A sink raised something other than DeliveryError: name the type and where, never the
    message (it may quote a request, and with it a credential)."""
    frames = traceback.extract_tb(error.__traceback__)
    where = f" at {frames[-1].filename.rsplit('/', 1)[-1]}:{frames[-1].lineno}" if frames else ""
    return f"unexpected {type(error).__name__}{where}"


# --- looking after the outbox -------------------------------------------------------------------


def dead_letters(engine: sa.Engine, sink: str | None = None) -> list[DeadLetter]:
    """Every dead event, oldest first."""
    query = sa.select(outbox).where(outbox.c.status == DEAD).order_by(outbox.c.id)
    if sink is not None:
        query = query.where(outbox.c.sink == sink)
    with engine.connect() as connection:
        return [
            DeadLetter(r["event_id"], r["sink"], r["kind"], r["task_id"], r["fingerprint"],
                       r["attempts"], r["last_error"] or "")
            for r in connection.execute(query).mappings()
        ]


def requeue_dead(engine: sa.Engine, sink: str | None = None, event_ids: Sequence[str] | None = None,
                 now: datetime | None = None) -> int:
    """Make dead events pending again, due at once with a fresh count of attempts; returns how
    many. Their last error is kept until the next try replaces it."""
    query = outbox.update().where(outbox.c.status == DEAD)
    if sink is not None:
        query = query.where(outbox.c.sink == sink)
    if event_ids is not None:
        query = query.where(outbox.c.event_id.in_(list(event_ids)))
    with engine.begin() as connection:
        return connection.execute(
            query.values(status=PENDING, attempts=0, next_attempt_at=_utc(now))
        ).rowcount


def prune_delivered(engine: sa.Engine, before: datetime) -> int:
    """Delete events delivered before ``before``; returns how many. Pending and dead ones stay."""
    with engine.begin() as connection:
        return connection.execute(
            outbox.delete().where(outbox.c.status == DELIVERED, outbox.c.delivered_at < _utc(before))
        ).rowcount


def _pending_by_sink(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            sink: int(count)
            for sink, count in connection.execute(
                sa.select(outbox.c.sink, sa.func.count()).where(outbox.c.status == PENDING)
                .group_by(outbox.c.sink)
            )
        }


def _utc(moment: datetime | None) -> datetime:
    """Every stored time in UTC: SQLite and MySQL keep no offset, so mixed zones would misorder."""
    if moment is None:
        return datetime.now(UTC)
    return _aware(moment).astimezone(UTC)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
