"""What a task's GitHub issue or Jira ticket says back, by webhook (the web app's ``/hooks/{sink}``)
or by poll (``kaizen tasks deliver``): the one place a task is changed for it.

A closing (a GitHub issue closed as completed, a Jira issue reaching the *done* category) marks
the task done, through the same state-store call as the CLI, and the change goes to every other
sink of the process, not back to the one it came from; a comment is added to the task's history.
Both are written to the audit log. A change that names its happening (``comment:<id>``,
``closed:<when>``) is taken in once, however it arrives (``storage.inbox``).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa

from kaizenflow.improvement.lifecycle import ACTIVE, MANUAL_TRANSITIONS
from kaizenflow.improvement.types import DONE, NOT_EFFECTIVE
from kaizenflow.pipeline.config import ConfigError, KaizenConfig, TwoWaySinkConfig
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sinks.base import DeliveryError, RemoteTicket, TicketSink
from kaizenflow.storage import inbox
from kaizenflow.storage.accounts import AccountStore
from kaizenflow.storage.outbox import DELIVERED
from kaizenflow.storage.schema import outbox, sink_links, tasks
from kaizenflow.storage.state import StateStore

#: Tasks whose tickets a poll asks about: those still in someone's hands (a closed, verified or
#: dismissed task's ticket was closed by the sink itself).
POLLED_STATUSES = ACTIVE | {DONE, NOT_EFFECTIVE}
DONE_ACTION = "done"
COMMENT_ACTION = "comment"


@dataclass(frozen=True)
class RemoteChange:
    """What a ticket asks of its task: ``done`` or ``comment`` (with its text), and by whom; with
    the happening's id (and time) when the service gives one, so it is taken in once."""

    remote_id: str
    action: str
    actor: str
    text: str = ""
    happening: str | None = None
    remote_at: datetime | None = None


@dataclass(frozen=True)
class Applied:
    """What became of a remote change: in words (the webhook's answer), and whether the task changed."""

    message: str
    changed: bool = False


def task_of(engine: sa.Engine, target: str, remote_id: str) -> int | None:
    """The task a sink linked to the remote issue."""
    with engine.connect() as connection:
        found = connection.execute(
            sa.select(tasks.c.task_id).join(sink_links, sink_links.c.fingerprint == tasks.c.fingerprint)
            .where(sink_links.c.target == target, sink_links.c.remote_id == remote_id)
        ).scalar()
    return None if found is None else int(found)


def can_be_done(status: str) -> bool:
    return DONE in MANUAL_TRANSITIONS.get(status, frozenset())


def process_time(config: KaizenConfig, process: str) -> datetime | None:
    """The process's own clock, as the CLI's `tasks done` takes it; while a night holds the event
    store, a few short retries, then None (the wall clock; the audit entry says which)."""
    from kaizenflow.pipeline import stages
    from kaizenflow.storage.event_store import EventStoreError

    for attempt in range(5):
        try:
            return stages.process_time(Resources.open(config), config.process(process))
        except EventStoreError:
            time.sleep(0.2 * (attempt + 1))
    return None


def apply_remote_change(
    config: KaizenConfig, store: StateStore, accounts: AccountStore, sink: TwoWaySinkConfig,
    change: RemoteChange, address: str = "",
    clock: Callable[[KaizenConfig, str], datetime | None] = process_time,
) -> Applied:
    """Make the change the ticket asks for, once."""
    target = sink.link_target()
    task_id = task_of(store.engine, target, change.remote_id)
    if task_id is None:
        return Applied(f"no task is linked to {change.remote_id}")
    if change.happening is not None and not inbox.take(store.engine, target, change.remote_id,
                                                       change.happening, change.remote_at):
        return Applied(f"{change.happening} of {change.remote_id} was taken in already")
    try:
        return _apply(config, store, accounts, sink, change, task_id, address, clock)
    except BaseException:
        if change.happening is not None:
            inbox.give_back(store.engine, target, change.happening)
        raise


def _apply(config: KaizenConfig, store: StateStore, accounts: AccountStore, sink: TwoWaySinkConfig,
           change: RemoteChange, task_id: int, address: str,
           clock: Callable[[KaizenConfig, str], datetime | None]) -> Applied:
    from kaizenflow.pipeline import stages

    task = store.task(task_id)
    if change.action == COMMENT_ACTION:
        store.comment(task_id, change.text, change.actor)
        accounts.audit(change.actor, "task_comment", f"task:{task_id}",
                       {"via": sink.name, "remote": change.remote_id, "text": change.text}, address)
        return Applied(f"comment added to #{task_id}", changed=True)
    if not can_be_done(task.status):
        return Applied(f"task #{task_id} is {task.status}: left as it is")
    others = [s for s in stages.sink_names(config, task.process) if s != sink.name]
    moved = store.transition(task_id, DONE, change.actor, f"closed in {sink.type} ({change.remote_id})",
                             clock(config, task.process), sinks=others)
    accounts.audit(change.actor, "task_status", f"task:{task_id}",
                   {"via": sink.name, "remote": change.remote_id, "from": task.status,
                    "to": moved.status}, address)
    return Applied(f"task #{task_id} marked done", changed=True)


# --- the poll -----------------------------------------------------------------------------------


@dataclass
class PollReport:
    """What one poll of the ticket sinks did: tickets asked about, tasks marked done, comments
    brought back, and the sinks whose service failed (by name, with the error)."""

    tickets: int = 0
    done: list[int] = field(default_factory=list)
    comments: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed

    def summary(self) -> str:
        text = (f"polled {self.tickets} tickets: {len(self.done)} tasks marked done, "
                f"{self.comments} comments brought back")
        for sink, error in sorted(self.failed.items()):
            text += f"; {sink} failed: {error}"
        return text


def polled_sinks(config: KaizenConfig) -> list[TwoWaySinkConfig]:
    """The ticket sinks a poll asks: those with ``poll: true``, and by default those whose
    webhooks do not reach the web app (no ``webhook_secret_env``)."""
    return [sink for sink in config.sinks if isinstance(sink, TwoWaySinkConfig) and sink.polled]


def poll_tickets(resources: Resources, clock: Callable[[KaizenConfig, str], datetime | None] = process_time,
                 ) -> PollReport:
    """Ask each polled sink's service about the ticket of every task it linked and that is still
    in someone's hands: comments come back to the task (not the sinks' own), a ticket closed as
    done marks the task done. A sink whose service fails is reported and the others go on."""
    from kaizenflow.sinks import DatabaseLinks

    config, store = resources.config, resources.state
    accounts = AccountStore(store.engine)
    report = PollReport()
    for sink in polled_sinks(config):
        built = None
        try:
            built = sink.build(DatabaseLinks(store.engine))
            if not isinstance(built, TicketSink):
                continue
            for task_id, fingerprint, remote_id in _linked(store.engine, sink):
                try:
                    ticket = built.poll(remote_id, since=inbox.latest(store.engine, sink.link_target(),
                                                                      remote_id))
                except DeliveryError as error:
                    if error.status not in _GONE:
                        raise  # the service or the sink's access: its other tickets would fail alike
                    report.failed[sink.name] = _joined(report.failed.get(sink.name), str(error))
                    continue  # one deleted or moved ticket must not keep the others unasked
                report.tickets += 1
                _take_in(config, store, accounts, sink, ticket, task_id, fingerprint, report, clock)
        except (DeliveryError, ConfigError) as error:
            report.failed[sink.name] = _joined(report.failed.get(sink.name), str(error))
        except Exception as error:  # noqa: BLE001 - one service's surprise must not stop the others
            surprise = f"{type(error).__name__}: {error}"
            report.failed[sink.name] = _joined(report.failed.get(sink.name), surprise)
        finally:
            close = getattr(built, "close", None)
            if close is not None:
                close()
    return report


#: Answers that concern one ticket only: it was deleted, or moved out of reach.
_GONE = frozenset({404, 410})


def _joined(earlier: str | None, error: str) -> str:
    return error if earlier is None else f"{earlier}; {error}"


def _linked(engine: sa.Engine, sink: TwoWaySinkConfig) -> list[tuple[int, str, str]]:
    """Task id, fingerprint and ticket of the sink's links whose task is still in someone's hands."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(tasks.c.task_id, tasks.c.fingerprint, sink_links.c.remote_id)
            .join(sink_links, sink_links.c.fingerprint == tasks.c.fingerprint)
            .where(sink_links.c.target == sink.link_target(), tasks.c.status.in_(POLLED_STATUSES))
            .order_by(tasks.c.task_id)
        ).all()
    return [(int(task_id), str(fingerprint), str(remote_id)) for task_id, fingerprint, remote_id in rows]


def _undelivered(engine: sa.Engine, sink: str, fingerprint: str) -> bool:
    """Whether the sink still owes the ticket some of the task's events: until they are
    delivered, the ticket's state is behind the task's and says nothing new about it."""
    with engine.connect() as connection:
        return connection.execute(
            sa.select(sa.func.count()).select_from(outbox)
            .where(outbox.c.sink == sink, outbox.c.fingerprint == fingerprint, outbox.c.status != DELIVERED)
        ).scalar_one() > 0


def _take_in(config: KaizenConfig, store: StateStore, accounts: AccountStore, sink: TwoWaySinkConfig,
             ticket: RemoteTicket, task_id: int, fingerprint: str, report: PollReport,
             clock: Callable[[KaizenConfig, str], datetime | None]) -> None:
    target = sink.link_target()
    known = inbox.taken(store.engine, target, [f"comment:{c.comment_id}" for c in ticket.comments])
    for comment in ticket.comments:
        happening = f"comment:{comment.comment_id}"
        if happening in known:
            continue
        if comment.ours or not comment.text.strip():
            # Taken in without a change: the next poll lists from after it.
            inbox.take(store.engine, target, ticket.remote_id, happening, comment.created_at)
            continue
        applied = apply_remote_change(config, store, accounts, sink, RemoteChange(
            ticket.remote_id, COMMENT_ACTION, comment.author, comment.text, happening, comment.created_at),
            clock=clock)
        report.comments += applied.changed
    if ticket.done and not _undelivered(store.engine, sink.name, fingerprint):
        applied = apply_remote_change(config, store, accounts, sink, RemoteChange(
            ticket.remote_id, DONE_ACTION, ticket.closed_by, happening=ticket.closing), clock=clock)
        if applied.changed:
            report.done.append(task_id)
