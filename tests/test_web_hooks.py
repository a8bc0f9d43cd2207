"""Two-way sinks: a GitHub issue closed or a Jira issue resolved marks its task done, comments come
back, and only signed, first deliveries are believed (round trips against the local stand-ins)."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fake_services import FakeGitHub, FakeJira
from ticket_support import TaskInState, record_one_task, ticket_sinks, write_config
from web_support import served_in_thread

from kaizenflow.improvement.types import DONE, OPEN
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.storage.schema import outbox

GITHUB_HOOK_SECRET = "gh-hook-7Rk2Lp"
JIRA_HOOK_SECRET = "jira-hook-4Wq9Zs"


@dataclass
class TwoWay(TaskInState):
    client: httpx.Client
    github: FakeGitHub
    jira: FakeJira


@pytest.fixture
def two_way(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TwoWay]:
    """A task delivered to GitHub and Jira (the outbox, the sinks, the stand-ins), and the web app."""
    with FakeGitHub() as github, FakeJira() as jira:
        for name, value in (("GH_TOKEN", github.token), ("JIRA_TOKEN", jira.token),
                            ("GH_HOOK", GITHUB_HOOK_SECRET), ("JIRA_HOOK", JIRA_HOOK_SECRET)):
            monkeypatch.setenv(name, value)
        config = load_config(write_config(
            tmp_path, sinks=ticket_sinks(github, jira, {"github": "GH_HOOK", "jira": "JIRA_HOOK"})))
        task_id = record_one_task(config)
        with Resources.open(config) as resources:
            report = stages.deliver_task_events(resources)
        assert len(github.issues) == 1 and len(jira.issues) == 1, report.summary()
        with served_in_thread(config) as url, httpx.Client(base_url=url, timeout=30) as client:
            yield TwoWay(config=config, task_id=task_id, client=client, github=github, jira=jira)


def _signed(secret: str, payload: Mapping[str, object]) -> tuple[bytes, str]:
    body = json.dumps(payload).encode("utf-8")
    return body, "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def github_delivery(two_way: TwoWay, event: str, payload: Mapping[str, object], delivery: str,
                    secret: str | None = GITHUB_HOOK_SECRET) -> tuple[int, str]:
    body, signature = _signed(secret or "", payload)
    headers = {"X-GitHub-Event": event, "X-GitHub-Delivery": delivery, "Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signature
    answer = two_way.client.post("/hooks/github", content=body, headers=headers)
    return answer.status_code, answer.text


def jira_delivery(two_way: TwoWay, payload: Mapping[str, object], delivery: str) -> tuple[int, str]:
    body, signature = _signed(JIRA_HOOK_SECRET, payload)
    answer = two_way.client.post("/hooks/jira", content=body, headers={
        "X-Hub-Signature": signature, "X-Atlassian-Webhook-Identifier": delivery,
        "Content-Type": "application/json"})
    return answer.status_code, answer.text


def _closed(number: int) -> dict[str, object]:
    return {"action": "closed", "sender": {"login": "octocat"},
            "issue": {"number": number, "state": "closed", "state_reason": "completed"}}


def test_closing_the_github_issue_marks_the_task_done(two_way: TwoWay) -> None:
    [number] = two_way.github.issues
    answer = github_delivery(two_way, "issues", _closed(number), "d-1")
    assert answer == (200, f"task #{two_way.task_id} marked done")
    assert two_way.status() == DONE
    assert two_way.notes()[-1] == f"octocat (GitHub): closed in github ({number})"


def test_the_change_goes_to_the_other_sinks_not_back_to_github(two_way: TwoWay) -> None:
    [number] = two_way.github.issues
    github_delivery(two_way, "issues", _closed(number), "d-1")
    store = two_way.store()
    try:
        with store.engine.connect() as connection:
            sinks = connection.execute(
                sa.select(outbox.c.sink)
                .where(outbox.c.task_id == two_way.task_id, outbox.c.kind != "task.created")
            ).scalars().all()
    finally:
        store.dispose()
    assert sinks == ["jira"]


def test_a_github_comment_comes_back_to_the_tasks_history(two_way: TwoWay) -> None:
    [number] = two_way.github.issues
    payload = {"action": "created", "issue": {"number": number}, "sender": {"login": "octocat"},
               "comment": {"body": "Approvers reminded <script>x</script>"}}
    assert github_delivery(two_way, "issue_comment", payload, "d-2")[0] == 200
    assert two_way.notes()[-1] == "octocat (GitHub): Approvers reminded <script>x</script>"
    assert two_way.status() == OPEN


def test_a_replayed_delivery_is_refused_and_changes_nothing(two_way: TwoWay) -> None:
    [number] = two_way.github.issues
    payload = {"action": "created", "issue": {"number": number}, "sender": {"login": "octocat"},
               "comment": {"body": "once"}}
    assert github_delivery(two_way, "issue_comment", payload, "d-3")[0] == 200
    status, text = github_delivery(two_way, "issue_comment", payload, "d-3")
    assert status == 409 and "replay" in text
    assert sum(note.endswith(": once") for note in two_way.notes()) == 1


def test_an_unsigned_or_wrongly_signed_delivery_is_refused(two_way: TwoWay) -> None:
    [number] = two_way.github.issues
    unsigned = github_delivery(two_way, "issues", _closed(number), "d-4", secret=None)
    forged = github_delivery(two_way, "issues", _closed(number), "d-5", secret="guessed")
    assert unsigned == (401, "unsigned delivery") and forged == (401, "bad signature")
    assert two_way.status() == OPEN


def test_resolving_the_jira_issue_marks_the_task_done_and_its_comments_come_back(two_way: TwoWay) -> None:
    [key] = two_way.jira.issues
    comment = {"webhookEvent": "comment_created", "issue": {"key": key},
               "comment": {"author": {"displayName": "Dana"}, "body": {
                   "type": "doc", "content": [{"type": "paragraph", "content": [
                       {"type": "text", "text": "Fixed in the approval workflow"}]}]}}}
    assert jira_delivery(two_way, comment, "j-1")[0] == 200
    resolved = {"webhookEvent": "jira:issue_updated", "user": {"displayName": "Dana"},
                "issue": {"key": key,
                          "fields": {"status": {"name": "Done", "statusCategory": {"key": "done"}}}}}
    assert jira_delivery(two_way, resolved, "j-2") == (200, f"task #{two_way.task_id} marked done")
    assert two_way.status() == DONE
    assert two_way.notes()[-2:] == ["Dana (Jira): Fixed in the approval workflow",
                                    f"Dana (Jira): closed in jira ({key})"]


def test_the_jira_sinks_own_comment_echoed_back_is_not_added(two_way: TwoWay) -> None:
    [key] = two_way.jira.issues
    echo = {"webhookEvent": "comment_created", "issue": {"key": key},
            "comment": {"author": {"displayName": "kaizen bot"}, "body": {
                "type": "doc", "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": "Status set to done"}]},
                    {"type": "paragraph", "content": [{"type": "text", "text": "kaizenflow event 9f2c"}]}]}}}
    assert jira_delivery(two_way, echo, "j-3") == (200, "nothing to do")
    assert not any("Status set" in note for note in two_way.notes())


def test_a_hook_for_a_sink_without_a_webhook_secret_does_not_exist(two_way: TwoWay) -> None:
    assert two_way.client.post("/hooks/chat", content=b"{}").status_code == 404
