"""What every sink shares: the event it is handed, the protocol it follows, the error it raises."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, runtime_checkable

from kaizenflow.sinks.pages import WebPages
from kaizenflow.storage.outbox import EVENT_KINDS, STATUS_SET, TASK_CLOSED, TASK_CREATED, TASK_UPDATED

__all__ = ["EVENT_KINDS", "STATUS_SET", "TASK_CLOSED", "TASK_CREATED", "TASK_UPDATED"]  # and what follows

#: The change of a ``task.updated`` event whose task was closed and is open again.
REOPENED = "reopened"


@dataclass(frozen=True)
class Event:
    """One task event on its way to one sink, as the outbox hands it over.

    ``attempts`` counts the earlier tries: a sink that cannot make a step idempotent by itself
    (a comment) looks for the trace of an earlier try only when it is above zero.
    """

    event_id: str
    sink: str
    kind: str
    task_id: int
    fingerprint: str
    sequence: int
    run_id: str
    created_at: datetime
    payload: Mapping[str, object]
    attempts: int = 0

    @property
    def change(self) -> str:
        """What happened to the task: created, updated, reopened, closed, verified_effective,
        not_effective, or a status a person set."""
        return str(self.payload.get("change", ""))

    @property
    def task(self) -> Mapping[str, object]:
        """The task's fields as stored when the event was written."""
        task = self.payload.get("task", {})
        return task if isinstance(task, Mapping) else {}


class DeliveryError(Exception):
    """A sink could not deliver an event.

    ``retryable`` says whether the same event may succeed later (a timeout, a 5xx, a rate limit)
    or never will as it stands (a 4xx: bad token, unknown repository). ``retry_after`` is the
    wait in seconds a service asked for; ``status`` the HTTP status when there was an answer.
    The message is stored as the event's ``last_error``
    and logged: sinks build it from status codes and their own words, never from secrets.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None,
                 status: int | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after
        self.status = status


@dataclass(frozen=True)
class RemoteComment:
    """A comment on a task's ticket, as its service lists it. ``ours`` marks one a kaizenflow sink
    wrote itself (it carries the event's marker): it is never brought back to the task."""

    comment_id: str
    author: str
    text: str
    created_at: datetime | None
    ours: bool


@dataclass(frozen=True)
class RemoteTicket:
    """A task's ticket as a poll finds it: whether it was closed as done (a GitHub issue closed as
    completed, a Jira issue in the *done* category), the closing's happening id (``closed:<when>``),
    who closed it, and its comments (the newest the service lists in one answer)."""

    remote_id: str
    done: bool
    closing: str
    closed_by: str
    comments: tuple[RemoteComment, ...]


@runtime_checkable
class TicketSink(Protocol):
    """A sink whose tickets can be asked about (GitHub, Jira): ``target`` names its links in
    ``sink_links``; ``poll`` makes a bounded number of requests (one listing) for one ticket and
    raises :class:`DeliveryError` when the service cannot answer."""

    target: str

    def poll(self, remote_id: str, since: datetime | None = None) -> RemoteTicket: ...


def parse_time(value: object) -> datetime | None:
    """An ISO 8601 time as the services write it (``...Z``, ``...+0000``), in UTC; None if absent."""
    if not isinstance(value, str) or not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return (moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)).astimezone(UTC)


@runtime_checkable
class Sink(Protocol):
    """Somewhere task events go. ``send`` returns when the event is delivered, else raises
    :class:`DeliveryError`; it may be called again for the same event (at-least-once), so it
    must be idempotent or tolerate a repeat."""

    def send(self, event: Event) -> None: ...


def redact(text: str, secrets: Iterable[str]) -> str:
    """The text with every secret replaced: a last guard for messages that quote a service."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text


def percent(value: object) -> str:
    return f"{float(value):.1%}" if isinstance(value, int | float) else "?"


def links_of(event: Event, pages: WebPages | None) -> dict[str, str]:
    """The web app's pages of the event's task and run; none without ``web.base_url``."""
    return pages.of_task(event.task) if pages is not None else {}


def one_line(event: Event, pages: WebPages | None = None) -> str:
    """The event as one line for a chat or an e-mail subject: what, which task, the KPI now, and
    the task's page in the web app when there is one."""
    task = event.task
    verb = {TASK_CREATED: "New task", TASK_UPDATED: "Task updated", TASK_CLOSED: "Task closed"}.get(
        event.kind, event.kind
    )
    if event.change == REOPENED:
        verb = "Task reopened"
    return (
        f"[kaizenflow] {verb}: {task.get('title', '?')} ({task.get('process', '?')}) - "
        f"owner {task.get('owner', '?')}, {task.get('kpi_name', 'KPI')} "
        f"{percent(task.get('current_value'))} (baseline {percent(task.get('baseline_value'))}, "
        f"target {percent(task.get('target_value'))})"
    ) + (f" {link}" if (link := links_of(event, pages).get("task")) else "")


def description_lines(event: Event, pages: WebPages | None = None) -> list[str]:
    """The task as plain lines, the common text of an issue body or a ticket description; with the
    web app, the links to the task's page and to the report of the run that last saw it."""
    links = links_of(event, pages)
    task = event.task
    effect = task.get("effect")
    lines = [
        f"Process: {task.get('process', '?')}",
        f"Scope: {task.get('business_object') or 'the whole process'}",
        f"Owner: {task.get('owner', '?')}",
        f"KPI: {task.get('kpi_name', '?')}",
        f"Baseline: {percent(task.get('baseline_value'))}",
        f"Current: {percent(task.get('current_value'))} ({task.get('cases', '?')} cases)",
        f"Target: {percent(task.get('target_value'))}",
        f"Status: {task.get('status', '?')}",
        *([f"Effect: {effect.get('verdict', '?')}"] if isinstance(effect, Mapping) else []),
        f"Raised in run {task.get('created_run', '?')}, last seen in run {task.get('last_seen_run', '?')}",
        *([f"Task page: {links['task']}"] if "task" in links else []),
        *([f"Run report: {links['run']}"] if "run" in links else []),
    ]
    return lines


def measurement(event: Event) -> str:
    """The KPI now against its baseline and target, for an update comment."""
    task = event.task
    return (
        f"{task.get('kpi_name', 'KPI')} is {percent(task.get('current_value'))} "
        f"(baseline {percent(task.get('baseline_value'))}, target {percent(task.get('target_value'))}), "
        f"{task.get('cases', '?')} cases, status {task.get('status', '?')}"
    )


_NOTES = {
    "updated": "Measured again",
    REOPENED: "Reopened: the pattern is back",
    "closed": "Closed: the pattern has not been seen for several runs",
    "verified_effective": "Verified effective: the KPI fell after the change",
    "not_effective": "Not effective: the KPI did not fall enough after the change",
    "dismissed": "Dismissed",
    "assigned": "Owner changed",
}


def change_note(event: Event) -> str:
    """A comment's text: what happened, the KPI now, and which run (or change) said so."""
    change = event.change
    if change.startswith(STATUS_SET):
        note = f"Status set to {change[len(STATUS_SET):].replace('_', ' ')}"
    else:
        note = _NOTES.get(change, "Updated")
    return f"{note}: {measurement(event)} (kaizenflow {event.run_id})."
