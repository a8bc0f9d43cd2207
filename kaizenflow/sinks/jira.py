"""The Jira Cloud sink: one issue per task, created, commented on and transitioned to done (REST v3)."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

import httpx

from kaizenflow.sinks.base import (
    REOPENED,
    TASK_CLOSED,
    TASK_CREATED,
    TASK_UPDATED,
    DeliveryError,
    Event,
    RemoteComment,
    RemoteTicket,
    change_note,
    description_lines,
    parse_time,
)
from kaizenflow.sinks.http import DEFAULT_TIMEOUT_SECONDS, call, json_object, new_client
from kaizenflow.sinks.links import LinkStore, MemoryLinks
from kaizenflow.sinks.pages import WebPages

LABEL = "kaizenflow"
DONE_CATEGORY = "done"
_PROJECT_KEY = re.compile(r"^[A-Z][A-Z0-9_]{0,49}$")


def task_label(fingerprint: str) -> str:
    """The label that marks a task's issue; a JQL search for it makes creating idempotent."""
    return f"kaizenflow-{fingerprint}"


def event_reference(event_id: str) -> str:
    """Written at the end of a comment, so a retried event finds the comment an earlier try made."""
    return f"kaizenflow event {event_id}"


def written_by_us(text: str) -> bool:
    """A comment a kaizenflow sink wrote: its last line is an event reference. Never brought back."""
    lines = text.strip().splitlines()
    return bool(lines) and lines[-1].strip().startswith(event_reference(""))


class JiraSink:
    """Each task is one issue of ``project_key`` on a Jira Cloud site, labelled ``kaizenflow`` and
    ``kaizenflow-<fingerprint>``.

    ``task.created`` creates it, ``task.updated`` rewrites summary and description and comments
    (and moves a reopened task's issue back to a to-do status), ``task.closed`` comments and
    takes the first transition into the done status category.
    Before creating, a JQL search for the task's label finds an issue an earlier try made but
    whose answer was lost. Jira's search index may lag a freshly created issue by seconds; the
    outbox's back-off (a minute by default) leaves it that time before the retry searches.
    """

    def __init__(self, base_url: str, email: str, token: str, project_key: str, *,
                 links: LinkStore | None = None, issue_type: str = "Task",
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, pages: WebPages | None = None) -> None:
        if not _PROJECT_KEY.match(project_key):
            raise ValueError(f"not a Jira project key: {project_key!r}")
        if not email or not token:
            raise ValueError("a Jira sink needs the account's e-mail and an API token")
        self.base_url = base_url.rstrip("/")
        self.project_key = project_key
        self.issue_type = issue_type
        self.target = f"jira:{self.base_url}/{project_key}"
        self.links: LinkStore = links if links is not None else MemoryLinks()
        self.pages = pages
        self._api = f"{self.base_url}/rest/api/3"
        self._client = new_client(
            timeout_seconds, headers={"Accept": "application/json"}, auth=httpx.BasicAuth(email, token)
        )

    def __repr__(self) -> str:
        return f"JiraSink(base_url={self.base_url!r}, project_key={self.project_key!r})"

    def close(self) -> None:
        self._client.close()

    def send(self, event: Event) -> None:
        if event.kind not in (TASK_CREATED, TASK_UPDATED, TASK_CLOSED):
            raise DeliveryError(f"Jira: unknown event kind {event.kind!r}", retryable=False)
        key = self._issue_for(event)
        if event.kind == TASK_CREATED:
            return
        if event.change == REOPENED:
            # First out of done: a workflow may forbid editing issues in a done status.
            self._move(key, ("new", "indeterminate"))
        call(self._client, "PUT", f"{self._api}/issue/{key}", expected=(204,),
             json={"fields": {"summary": _summary(event), "description": description(event, self.pages)}},
             what=f"Jira PUT /issue/{key}")
        self._comment_once(event, key, change_note(event))
        if event.kind == TASK_CLOSED:
            self._move(key, (DONE_CATEGORY,))

    def poll(self, remote_id: str, since: datetime | None = None) -> RemoteTicket:
        """The issue's status category and its comments, in one request (Jira sends the comments
        with the issue; ``since`` is not needed: each comment is taken in once by its id)."""
        response = call(self._client, "GET", f"{self._api}/issue/{remote_id}",
                        params={"fields": "status,comment,statuscategorychangedate"},
                        what=f"Jira GET /issue/{remote_id}")
        fields = json_object(response, "Jira issue").get("fields") or {}
        listed = _dig(fields, "comment", "comments") or []
        comments = tuple(
            RemoteComment(comment_id=str(c["id"]), author=f"{_name(c.get('author'))} (Jira)",
                          text=plain_text(c.get("body")), created_at=parse_time(c.get("created")),
                          ours=written_by_us(plain_text(c.get("body"))))
            for c in listed if isinstance(c, dict) and c.get("id") is not None
        )
        changed = fields.get("statuscategorychangedate") if isinstance(fields, dict) else None
        return RemoteTicket(
            remote_id=remote_id, done=_dig(fields, "status", "statusCategory", "key") == DONE_CATEGORY,
            closing=f"closed:{changed or ''}", closed_by="? (Jira)", comments=comments,
        )

    # --- the issue of a task ------------------------------------------------------------------

    def _issue_for(self, event: Event) -> str:
        linked = self.links.get(self.target, event.fingerprint)
        if linked is not None:
            return linked
        key = self._find(event.fingerprint)
        if key is None:
            key = self._create(event)
        self.links.put(self.target, event.fingerprint, key)
        return key

    def _find(self, fingerprint: str) -> str | None:
        # The key and the label are checked against patterns, so nothing can be injected into JQL.
        jql = f'project = "{self.project_key}" AND labels = "{task_label(fingerprint)}" ORDER BY created ASC'
        response = call(self._client, "POST", f"{self._api}/search/jql", what="Jira POST /search/jql",
                        json={"jql": jql, "fields": ["summary", "labels"], "maxResults": 10})
        issues = json_object(response, "Jira search").get("issues") or []
        for issue in issues:
            if isinstance(issue, dict) and issue.get("key"):
                return str(issue["key"])
        return None

    def _create(self, event: Event) -> str:
        fields = {
            "project": {"key": self.project_key},
            "issuetype": {"name": self.issue_type},
            "summary": _summary(event),
            "description": description(event, self.pages),
            "labels": [LABEL, task_label(event.fingerprint)],
        }
        response = call(self._client, "POST", f"{self._api}/issue", expected=(201,),
                        json={"fields": fields}, what="Jira POST /issue")
        key = json_object(response, "Jira issue").get("key")
        if not key:
            raise DeliveryError("Jira POST /issue: the answer has no issue key", retryable=True)
        return str(key)

    def _comment_once(self, event: Event, key: str, text: str) -> None:
        reference = event_reference(event.event_id)
        if event.attempts > 0 and self._has_comment(key, reference):
            return
        call(self._client, "POST", f"{self._api}/issue/{key}/comment", expected=(201,),
             json={"body": adf([text, reference])}, what=f"Jira POST /issue/{key}/comment")

    def _has_comment(self, key: str, reference: str) -> bool:
        response = call(self._client, "GET", f"{self._api}/issue/{key}/comment",
                        params={"orderBy": "-created", "maxResults": 100},
                        what=f"Jira GET /issue/{key}/comment")
        comments = json_object(response, "Jira comments").get("comments") or []
        return any(reference in json.dumps(c.get("body"), ensure_ascii=False)
                   for c in comments if isinstance(c, dict))

    def _move(self, key: str, categories: tuple[str, ...]) -> None:
        """Take the first transition into a status of the first category that has one (Jira
        workflows name statuses freely; the category is the fixed vocabulary). None available
        is fine only when the issue is in one already: a retry, or someone moved it by hand."""
        response = call(self._client, "GET", f"{self._api}/issue/{key}/transitions",
                        what=f"Jira GET /issue/{key}/transitions")
        transitions = json_object(response, "Jira transitions").get("transitions") or []
        for category in categories:
            for transition in transitions:
                if _dig(transition, "to", "statusCategory", "key") == category and transition.get("id"):
                    call(self._client, "POST", f"{self._api}/issue/{key}/transitions", expected=(204,),
                         json={"transition": {"id": str(transition["id"])}},
                         what=f"Jira POST /issue/{key}/transitions")
                    return
        response = call(self._client, "GET", f"{self._api}/issue/{key}", params={"fields": "status"},
                        what=f"Jira GET /issue/{key}")
        status = _dig(json_object(response, "Jira issue"), "fields", "status", "statusCategory", "key")
        if status not in categories:
            wanted = " or ".join(categories)
            raise DeliveryError(f"Jira: issue {key} has no transition to a {wanted} status", retryable=False)


def _summary(event: Event) -> str:
    # Jira refuses summaries over 255 characters and any line break in them.
    title = str(event.task.get("title", f"kaizenflow task {event.fingerprint}"))
    return " ".join(title.split())[:255]


def description(event: Event, pages: WebPages | None = None) -> dict[str, Any]:
    return adf(["Raised by kaizenflow from a recurring deviation.", *description_lines(event, pages)])


def adf(paragraphs: list[str]) -> dict[str, Any]:
    """An Atlassian Document Format document of plain paragraphs (v3 takes no plain strings;
    an empty text node is invalid, so blank paragraphs are left out)."""
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": text}]}
            for text in paragraphs if text
        ],
    }


def plain_text(body: object) -> str:
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


def _name(user: object) -> str:
    if not isinstance(user, dict):
        return "?"
    return str(user.get("displayName") or user.get("emailAddress") or "?")


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value
