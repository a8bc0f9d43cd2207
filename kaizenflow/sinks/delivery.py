"""Delivering the outbox's task events to the sinks: at least once, in order per task and sink.

The rules (order, retries, back-off, dead letters, concurrent deliverers) are in
``kaizenflow.storage.outbox``, which holds the events.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import traceback
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar, cast

import sqlalchemy as sa

from kaizenflow.sinks.base import DeliveryError, Event, Sink
from kaizenflow.storage.outbox import DEAD, DELIVERED, ERROR_LENGTH, PENDING, as_utc, aware
from kaizenflow.storage.schema import outbox

log = logging.getLogger(__name__)


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
    clock = as_utc(now)
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
        created_at=aware(row["created_at"]), payload=json.loads(row["payload_json"]),
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
    message = str(error)[:ERROR_LENGTH]
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
            query.values(status=PENDING, attempts=0, next_attempt_at=as_utc(now))
        ).rowcount


def prune_delivered(engine: sa.Engine, before: datetime) -> int:
    """Delete events delivered before ``before``; returns how many. Pending and dead ones stay."""
    with engine.begin() as connection:
        return connection.execute(
            outbox.delete().where(outbox.c.status == DELIVERED, outbox.c.delivered_at < as_utc(before))
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
