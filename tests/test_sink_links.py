"""With ``web.base_url`` set, what the sinks send links to the web app's page of the task and to the
report of the run that last saw it; the links are pages the web app answers. Without it, nothing
changes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fake_services import FakeChat, FakeGitHub, FakeJira, FakeWebhookReceiver
from ticket_support import record_one_task, write_config
from web_support import PASSWORD, served_in_thread, signed_in

from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sinks import TASK_CREATED, Event
from kaizenflow.sinks.github import GitHubIssuesSink
from kaizenflow.sinks.jira import JiraSink
from kaizenflow.sinks.notify import AppriseSink
from kaizenflow.sinks.pages import WebPages, web_pages
from kaizenflow.sinks.webhook import WebhookSink
from kaizenflow.storage.accounts import ANALYST, AccountStore
from kaizenflow.storage.state import StateStore

BASE = "https://kaizen.example.com/"
PAGES = WebPages(BASE)
TASK_URL = "https://kaizen.example.com/tasks/7"
RUN_ID = "2024-05-02T02:00:00Z"
RUN_URL = "https://kaizen.example.com/reports/purchase-to-pay/2024-05-02T02-00-00Z.html"
SECRET = "whsec-Lk8Rt3Qa"


def event() -> Event:
    task = {"task_id": 7, "fingerprint": "f00d", "process": "Purchase to Pay",
            "title": "Stop skipping 'Approve'", "owner": "lead@example.com", "kpi_name": "share of cases",
            "baseline_value": 0.3, "current_value": 0.2, "target_value": 0.15, "status": "open", "cases": 12,
            "created_run": "2024-05-01T02:00:00Z", "last_seen_run": RUN_ID}
    return Event(event_id="e-1", sink="s", kind=TASK_CREATED, task_id=7, fingerprint="f00d", sequence=1,
                 run_id=RUN_ID, created_at=datetime(2024, 5, 2, tzinfo=UTC),
                 payload={"change": "created", "task": task})


def test_the_webhook_payload_links_the_task_page_and_the_run_report() -> None:
    with FakeWebhookReceiver(SECRET) as receiver:
        WebhookSink(receiver.url, SECRET, timeout_seconds=2, pages=PAGES).send(event())
        WebhookSink(receiver.url, SECRET, timeout_seconds=2).send(event())
    with_app, without = receiver.accepted
    assert with_app["links"] == {"task": TASK_URL, "run": RUN_URL}
    assert "links" not in without


def test_the_chat_message_ends_with_the_task_page() -> None:
    with FakeChat() as chat:
        AppriseSink([f"json://127.0.0.1:{chat.port}/hook"], pages=PAGES).send(event())
        AppriseSink([f"json://127.0.0.1:{chat.port}/hook"]).send(event())
    with_app, without = (m["message"] for m in chat.messages)
    assert with_app.endswith(f" {TASK_URL}") and "\n" not in with_app
    assert "http" not in without


def test_the_github_issue_body_links_the_task_page_and_the_run_report() -> None:
    with FakeGitHub() as github:
        GitHubIssuesSink(github.repo, github.token, github.url, timeout_seconds=2, pages=PAGES).send(event())
        [issue] = github.issues.values()
    assert f"- Task page: {TASK_URL}" in issue["body"]
    assert f"- Run report: {RUN_URL}" in issue["body"]


def test_the_jira_description_links_the_task_page_and_the_run_report() -> None:
    with FakeJira() as jira:
        JiraSink(jira.url, jira.email, jira.token, jira.project, timeout_seconds=2, pages=PAGES).send(event())
        [issue] = jira.issues.values()
    text = json.dumps(issue["fields"]["description"])
    assert f"Task page: {TASK_URL}" in text and f"Run report: {RUN_URL}" in text


def test_without_a_base_url_the_issue_body_has_no_link() -> None:
    with FakeGitHub() as github:
        GitHubIssuesSink(github.repo, github.token, github.url, timeout_seconds=2).send(event())
        [issue] = github.issues.values()
    assert web_pages(None) is None
    assert "Task page" not in issue["body"] and "http" not in issue["body"]


def _config(directory: Path, **extra: object) -> KaizenConfig:
    config = load_config(write_config(directory, **extra))
    config.state_directory.mkdir(parents=True)
    return config


def _record_task(config: KaizenConfig, run_id: str = RUN_ID) -> int:
    return record_one_task(config, run_id, config.sinks_of("purchase-to-pay"))


def test_delivering_the_outbox_links_to_the_configured_web_app(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOOK_SECRET", SECRET)
    with FakeWebhookReceiver(SECRET) as receiver:
        config = _config(tmp_path, web={"base_url": BASE}, sinks=[
            {"name": "hook", "type": "webhook", "url": receiver.url, "secret_env": "HOOK_SECRET"}])
        task_id = _record_task(config)
        with Resources.open(config) as resources:
            assert stages.deliver_task_events(resources).delivered
        [sent] = receiver.accepted
    assert sent["links"] == {"task": f"https://kaizen.example.com/tasks/{task_id}", "run": RUN_URL}


# --- the links are pages the web app answers ----------------------------------------------------


@pytest.fixture
def app_with_a_task(tmp_path: Path) -> Iterator[tuple[str, WebPages, int, str]]:
    """The web app with one recorded task, its run's report on disk and an analyst signed in."""
    config = _config(tmp_path)
    task_id = _record_task(config)
    store = StateStore(config.state_url)
    AccountStore(store.engine).add_user("analyst@example.com", ANALYST, PASSWORD)
    store.dispose()
    report = config.path(config.reports_directory) / "purchase-to-pay" / "2024-05-02T02-00-00Z.html"
    report.parent.mkdir(parents=True)
    report.write_text("<html><body>the run's report</body></html>", encoding="utf-8")
    with served_in_thread(config) as url:
        yield url, WebPages(url + "/"), task_id, RUN_ID


def test_the_linked_task_page_and_run_report_are_served(
    app_with_a_task: tuple[str, WebPages, int, str]
) -> None:
    url, pages, task_id, run_id = app_with_a_task
    with signed_in(url, "analyst@example.com") as client:
        task_page = client.get(pages.task(task_id))
        report = client.get(pages.run_report("purchase-to-pay", run_id))
    assert task_page.status_code == 200 and "Stop skipping" in task_page.text
    assert report.status_code == 200 and "the run's report" in report.text


def test_a_signed_out_visitor_of_a_link_is_sent_to_sign_in_first(
    app_with_a_task: tuple[str, WebPages, int, str]
) -> None:
    url, pages, task_id, _ = app_with_a_task
    answer = httpx.get(pages.task(task_id), follow_redirects=False, timeout=30)
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login?next=")
