"""Two-way sinks: GitHub and Jira tell the web app that a task's issue was closed or commented on.

A delivery is believed only with a valid signature (HMAC-SHA256 of the body with the sink's
``webhook_secret_env``: GitHub's ``X-Hub-Signature-256``, Jira's ``X-Hub-Signature``) and only
once: its delivery id (``X-GitHub-Delivery``, ``X-Atlassian-Webhook-Identifier``) is recorded,
and a replay is refused. What the delivery asks of the task is made by ``pipeline.remote``, the
same code the poll of ``kaizen tasks deliver`` uses: the issue is found through the links the
sink keeps (``sink_links``); closing it marks the task done, a comment is added to its history.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime

import sqlalchemy as sa

from kaizenflow.pipeline.remote import COMMENT_ACTION, DONE_ACTION, RemoteChange
from kaizenflow.sinks import github, jira
from kaizenflow.sinks.base import parse_time
from kaizenflow.storage.accounts import hook_deliveries

MAX_BODY_BYTES = 1_000_000


class HookRefused(Exception):
    """A delivery that is not believed; ``status`` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


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
        closed_at = issue.get("closed_at")
        return RemoteChange(str(issue["number"]), DONE_ACTION, actor,
                            happening=f"closed:{closed_at}" if closed_at else None)
    comment = payload.get("comment")
    if event == "issue_comment" and payload.get("action") == "created" and isinstance(comment, dict):
        text = str(comment.get("body") or "")
        if text and not github.written_by_us(text):
            return RemoteChange(str(issue["number"]), COMMENT_ACTION, actor, text,
                                *_once(comment, "created_at"))
    return None


def _once(comment: dict[str, object], time_key: str) -> tuple[str | None, datetime | None]:
    """A comment's happening id and time, so that a poll does not bring it back a second time."""
    comment_id = comment.get("id")
    return (f"comment:{comment_id}" if comment_id is not None else None), parse_time(comment.get(time_key))


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
        if isinstance(category, dict) and category.get("key") == jira.DONE_CATEGORY:
            changed = fields.get("statuscategorychangedate") if isinstance(fields, dict) else None
            return RemoteChange(str(issue["key"]), DONE_ACTION, actor,
                                happening=f"closed:{changed}" if changed else None)
    if event == "comment_created" and isinstance(comment, dict):
        text = jira.plain_text(comment.get("body"))
        if text and not jira.written_by_us(text):
            return RemoteChange(str(issue["key"]), COMMENT_ACTION, actor, text, *_once(comment, "created"))
    return None


def parse(body: bytes) -> dict[str, object]:
    try:
        payload = json.loads(body)
    except ValueError:
        raise HookRefused(400, "the body is not JSON") from None
    if not isinstance(payload, dict):
        raise HookRefused(400, "the body is not a JSON object")
    return payload
