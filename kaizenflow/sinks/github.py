"""The GitHub Issues sink: one issue per task, created, commented on and closed over the REST API."""

from __future__ import annotations

import json
from datetime import UTC, datetime
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
from kaizenflow.sinks.http import DEFAULT_TIMEOUT_SECONDS, call, json_list, json_object, new_client
from kaizenflow.sinks.links import LinkStore, MemoryLinks
from kaizenflow.sinks.pages import WebPages

API_VERSION = "2022-11-28"
LABEL = "kaizenflow"
MAX_PAGES = 100
_NOT_PLANNED = {"dismissed"}


def task_marker(fingerprint: str) -> str:
    """Hidden in the issue body; finding it again is what makes creating an issue idempotent."""
    return f"<!-- kaizenflow:task:{fingerprint} -->"


def event_marker(event_id: str) -> str:
    """Hidden in a comment, so a retried event finds the comment an earlier try already wrote."""
    return f"<!-- kaizenflow:event:{event_id} -->"


_OUR_MARK = event_marker("")[: -len(" -->")]


def written_by_us(text: str) -> bool:
    """A comment a kaizenflow sink wrote (it carries an event marker): never brought back."""
    return _OUR_MARK in text


class GitHubIssuesSink:
    """Each task is one issue in ``repo`` (``owner/name``), labelled ``kaizenflow``.

    ``task.created`` opens it, ``task.updated`` rewrites its body and comments with the new KPI
    (and reopens it when the task was reopened), ``task.closed`` comments and closes it. A retry
    after a lost answer must not open a second issue, so before creating one the sink lists the
    repository's labelled issues (all states, every page) for the task's marker; the issue
    number found or made is kept in ``links``.
    """

    def __init__(self, repo: str, token: str, api_url: str = "https://api.github.com", *,
                 links: LinkStore | None = None, label: str = LABEL,
                 timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS, api_version: str = API_VERSION,
                 pages: WebPages | None = None) -> None:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repo must be 'owner/name', not {repo!r}")
        if not token:
            raise ValueError("a GitHub sink needs a token")
        self.repo = repo
        self.api_url = api_url.rstrip("/")
        self.target = f"github:{self.api_url}/{repo}"
        self.label = label
        self.links: LinkStore = links if links is not None else MemoryLinks()
        self.pages = pages
        self._base = f"{self.api_url}/repos/{owner}/{name}"
        self._host = httpx.URL(self.api_url).host
        self._client = new_client(timeout_seconds, headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": api_version,
        })

    def __repr__(self) -> str:
        return f"GitHubIssuesSink(repo={self.repo!r}, api_url={self.api_url!r})"

    def close(self) -> None:
        self._client.close()

    def send(self, event: Event) -> None:
        if event.kind not in (TASK_CREATED, TASK_UPDATED, TASK_CLOSED):
            raise DeliveryError(f"GitHub: unknown event kind {event.kind!r}", retryable=False)
        number = self._issue_for(event)
        if event.kind == TASK_CREATED:
            return
        fields: dict[str, Any] = {"title": _title(event), "body": issue_body(event, self.pages)}
        if event.kind == TASK_UPDATED and event.change == REOPENED:
            fields.update(state="open", state_reason="reopened")
        self._patch(number, fields)
        self._comment_once(event, number, change_note(event))
        if event.kind == TASK_CLOSED:
            reason = "not_planned" if event.task.get("status") in _NOT_PLANNED else "completed"
            self._patch(number, {"state": "closed", "state_reason": reason})

    def poll(self, remote_id: str, since: datetime | None = None) -> RemoteTicket:
        """The issue's state and its comments since ``since`` (GitHub compares it with each
        comment's last update): two requests, the issue and one page of its comments."""
        issue = json_object(call(self._client, "GET", f"{self._base}/issues/{int(remote_id)}",
                                 what=f"GitHub GET /repos/{self.repo}/issues/{remote_id}"), "GitHub issue")
        params: dict[str, Any] = {"per_page": 100}
        if since is not None:
            params["since"] = since.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        listed = json_list(call(self._client, "GET", f"{self._base}/issues/{int(remote_id)}/comments",
                                params=params,
                                what=f"GitHub GET /repos/{self.repo}/issues/{remote_id}/comments"),
                           "GitHub comments")
        closer = issue.get("closed_by")
        closer_login = closer.get("login") if isinstance(closer, dict) else None
        comments = tuple(
            RemoteComment(comment_id=str(c["id"]), author=f"{_login(c.get('user'))} (GitHub)",
                          text=str(c.get("body") or ""), created_at=parse_time(c.get("created_at")),
                          ours=written_by_us(str(c.get("body") or "")))
            for c in listed if c.get("id") is not None
        )
        return RemoteTicket(
            remote_id=str(remote_id),
            done=issue.get("state") == "closed" and issue.get("state_reason") != "not_planned",
            closing=f"closed:{issue.get('closed_at') or ''}", closed_by=f"{closer_login or '?'} (GitHub)",
            comments=comments,
        )

    # --- the issue of a task ------------------------------------------------------------------

    def _issue_for(self, event: Event) -> int:
        """The task's issue: remembered, else found by its marker, else created now. An update
        for a task whose issue was never made (the sink was added later) creates it too."""
        linked = self.links.get(self.target, event.fingerprint)
        if linked is not None:
            return int(linked)
        number = self._find(event.fingerprint)
        if number is None:
            number = self._create(event)
        self.links.put(self.target, event.fingerprint, str(number))
        return number

    def _find(self, fingerprint: str) -> int | None:
        marker = task_marker(fingerprint)
        url: str | None = f"{self._base}/issues"
        params: dict[str, Any] | None = {"state": "all", "labels": self.label, "per_page": 100}
        for _ in range(MAX_PAGES):
            if url is None:
                return None
            response = call(self._client, "GET", url, params=params,
                            what=f"GitHub GET /repos/{self.repo}/issues")
            for issue in json_list(response, "GitHub issue list"):
                if "pull_request" not in issue and marker in (issue.get("body") or ""):
                    return int(issue["number"])
            url, params = self._next_page(response), None
        raise DeliveryError(f"GitHub: more than {MAX_PAGES} pages of '{self.label}' issues", retryable=False)

    def _next_page(self, response: httpx.Response) -> str | None:
        """The Link header's next page, followed only on the API's own host: the token goes with it."""
        url = response.links.get("next", {}).get("url")
        if url is None or httpx.URL(url).host != self._host:
            return None
        return url

    def _create(self, event: Event) -> int:
        response = call(
            self._client, "POST", f"{self._base}/issues", expected=(201,),
            what=f"GitHub POST /repos/{self.repo}/issues",
            json={"title": _title(event), "body": issue_body(event, self.pages), "labels": [self.label]},
        )
        return int(json_object(response, "GitHub issue")["number"])

    def _patch(self, number: int, fields: dict[str, Any]) -> None:
        call(self._client, "PATCH", f"{self._base}/issues/{number}", json=fields,
             what=f"GitHub PATCH /repos/{self.repo}/issues/{number}")

    def _comment_once(self, event: Event, number: int, text: str) -> None:
        """Comment, unless an earlier try of this event already did (the answer may have been lost)."""
        marker = event_marker(event.event_id)
        if event.attempts > 0 and self._has_comment(number, marker):
            return
        call(self._client, "POST", f"{self._base}/issues/{number}/comments", expected=(201,),
             json={"body": f"{marker}\n{text}"},
             what=f"GitHub POST /repos/{self.repo}/issues/{number}/comments")

    def _has_comment(self, number: int, marker: str) -> bool:
        url: str | None = f"{self._base}/issues/{number}/comments"
        params: dict[str, Any] | None = {"per_page": 100}
        for _ in range(MAX_PAGES):
            if url is None:
                return False
            response = call(self._client, "GET", url, params=params,
                            what=f"GitHub GET /repos/{self.repo}/issues/{number}/comments")
            if any(marker in (c.get("body") or "") for c in json_list(response, "GitHub comments")):
                return True
            url, params = self._next_page(response), None
        return False


def _login(user: object) -> str:
    return str(user.get("login") or "?") if isinstance(user, dict) else "?"


def _title(event: Event) -> str:
    return str(event.task.get("title", f"kaizenflow task {event.fingerprint}"))[:256]


def issue_body(event: Event, pages: WebPages | None = None) -> str:
    """The issue's description in Markdown, with the task marker on its first line (and, with the
    web app, the links to the task's page and its last run's report)."""
    lines = [task_marker(event.fingerprint), "", "Raised by kaizenflow from a recurring deviation.", ""]
    lines += [f"- {line}" for line in description_lines(event, pages)]
    evidence = event.task.get("evidence")
    if evidence:
        text = json.dumps(evidence, indent=2, sort_keys=True, default=str)
        if len(text) > 4000:
            text = text[:4000] + "\n..."
        lines += ["", "<details><summary>Evidence</summary>", "", "```json", text, "```", "", "</details>"]
    return "\n".join(lines)
