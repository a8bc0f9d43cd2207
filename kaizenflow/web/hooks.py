"""Two-way sinks: GitHub and Jira tell the web app that a task's issue was closed or commented on.

A delivery is believed only with a valid signature (HMAC-SHA256 of the body with the sink's
``webhook_secret_env``: GitHub's ``X-Hub-Signature-256``, Jira's ``X-Hub-Signature``) and only
once: its delivery id (``X-GitHub-Delivery``, ``X-Atlassian-Webhook-Identifier``) is recorded,
and a replay is refused. The issue is found through the links the sink keeps (``sink_links``);
closing it (a Jira issue reaching the *done* category) marks the task done, a comment is added
to the task's history, both through the same state-store calls as the CLI, and written to the
audit log. The change goes to every other sink of the process, not back to the one it came from.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from kaizenflow.improvement.lifecycle import MANUAL_TRANSITIONS
from kaizenflow.improvement.types import DONE
from kaizenflow.sinks.github import event_marker
from kaizenflow.storage.accounts import hook_deliveries
from kaizenflow.storage.schema import sink_links, tasks

MAX_BODY_BYTES = 1_000_000
_OUR_COMMENTS = event_marker("")[: -len(" -->")]  # comments the sinks wrote themselves


class HookRefused(Exception):
    """A delivery that is not believed; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class RemoteChange:
    """What a delivery asks of a task: ``done`` or ``comment`` (with its text), and by whom."""

    remote_id: str
    action: str
    actor: str
    text: str = ""


def verify(secret: str, body: bytes, signature: str | None) -> None:
    """The signature is ``sha256=<hex HMAC of the body>``; compared in constant time."""
    if not signature:
        raise HookRefused(401, "unsigned delivery")
    expected = "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode("utf-8"), signature.strip().encode("utf-8")):
        raise HookRefused(401, "bad signature")


def first_delivery(engine: sa.Engine, sink: str, delivery_id: str | None) -> None:
    """Record the delivery id; a second delivery with the same id is a replay."""
    if not delivery_id:
        raise HookRefused(400, "no delivery id")
    try:
        with engine.begin() as connection:
            connection.execute(hook_deliveries.insert().values(sink=sink, delivery_id=delivery_id[:128],
                                                          received_at=datetime.now(UTC)))
    except sa.exc.IntegrityError:
        raise HookRefused(409, f"delivery {delivery_id} was received already (a replay)") from None


def github_change(event: str | None, payload: dict[str, object]) -> RemoteChange | None:
    """An issue closed (as completed) or commented on; anything else asks nothing."""
    issue = payload.get("issue")
    sender = payload.get("sender")
    if not isinstance(issue, dict) or "number" not in issue:
        return None
    login = str(sender.get("login", "?")) if isinstance(sender, dict) else "?"
    actor = f"{login} (GitHub)"
    if event == "issues" and payload.get("action") == "closed" and issue.get("state_reason") != "not_planned":
        return RemoteChange(str(issue["number"]), "done", actor)
    comment = payload.get("comment")
    if event == "issue_comment" and payload.get("action") == "created" and isinstance(comment, dict):
        text = str(comment.get("body") or "")
        if text and _OUR_COMMENTS not in text:
            return RemoteChange(str(issue["number"]), "comment", actor, text)
    return None


def jira_change(payload: dict[str, object]) -> RemoteChange | None:
    """An issue moved into the *done* status category, or a comment created."""
    issue = payload.get("issue")
    if not isinstance(issue, dict) or "key" not in issue:
        return None
    event = payload.get("webhookEvent")
    comment = payload.get("comment")
    user = payload.get("user") or (comment.get("author") if isinstance(comment, dict) else None)
    name = str(user.get("displayName") or user.get("emailAddress") or "?") if isinstance(user, dict) else "?"
    actor = f"{name} (Jira)"
    if event == "jira:issue_updated":
        fields = issue.get("fields") or {}
        status = fields.get("status") if isinstance(fields, dict) else None
        category = status.get("statusCategory") if isinstance(status, dict) else None
        if isinstance(category, dict) and category.get("key") == "done":
            return RemoteChange(str(issue["key"]), "done", actor)
    if event == "comment_created" and isinstance(comment, dict):
        text = _jira_text(comment.get("body"))
        if text and _OUR_COMMENTS not in text:
            return RemoteChange(str(issue["key"]), "comment", actor, text)
    return None


def _jira_text(body: object) -> str:
    """Plain text of a comment body: a string, or the text nodes of an Atlassian document."""
    if isinstance(body, str):
        return body
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if node.get("type") == "text":
                found.append(str(node.get("text", "")))
            for child in node.get("content", []) or []:
                walk(child)
            if node.get("type") == "paragraph":
                found.append("\n")

    walk(body)
    return "".join(found).strip()


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


def parse(body: bytes) -> dict[str, object]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise HookRefused(400, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise HookRefused(400, "the body is not a JSON object")
    return payload
