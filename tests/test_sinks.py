"""Each sink against a local stand-in of its service: what it sends, and how failures are sorted."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from fake_services import FakeChat, FakeGitHub, FakeJira, FakeWebhookReceiver

from kaizenflow.sinks import (
    REOPENED,
    TASK_CLOSED,
    TASK_CREATED,
    TASK_UPDATED,
    DatabaseLinks,
    DeliveryError,
    Event,
    Sink,
)
from kaizenflow.sinks.github import GitHubIssuesSink, task_marker
from kaizenflow.sinks.jira import JiraSink, task_label
from kaizenflow.sinks.notify import AppriseSink
from kaizenflow.sinks.webhook import WebhookSink, sign, verify_signature
from kaizenflow.storage.schema import metadata

SECRET = "whsec-Zk7Qp2Vx9"
GITHUB_TOKEN = "ghp_Qm4Rt8Wz1Yx5"
JIRA_TOKEN = "ATATT-Hn3Kd6Ls0"
FAST = 0.5  # seconds: every sink's timeout in these tests


def event(kind: str = TASK_CREATED, fingerprint: str = "f00d", status: str = "open", attempts: int = 0,
          event_id: str | None = None, current: float = 0.2, change: str | None = None) -> Event:
    task = {
        "task_id": 7, "fingerprint": fingerprint, "process": "p2p", "pattern_key": "skipped:Approve",
        "title": "Stop skipping 'Approve'", "business_object": "supplier=S-17", "owner": "lead@example.com",
        "kpi_name": "share of cases", "baseline_value": 0.3, "current_value": current,
        "target_value": 0.15, "status": status, "cases": 12, "evidence": {"example_case_ids": ["c1"]},
        "created_run": "r1", "last_seen_run": "r2",
    }
    return Event(
        event_id=event_id or f"{kind}-{fingerprint}-{attempts}", sink="s", kind=kind, task_id=7,
        fingerprint=fingerprint, sequence=1, run_id="r2", created_at=datetime(2024, 5, 1, tzinfo=UTC),
        payload={"change": change or kind.removeprefix("task."), "task": task}, attempts=attempts,
    )


@pytest.fixture
def receiver() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver(SECRET) as service:
        yield service


@pytest.fixture
def github() -> Iterator[FakeGitHub]:
    with FakeGitHub(token=GITHUB_TOKEN) as service:
        yield service


@pytest.fixture
def jira() -> Iterator[FakeJira]:
    with FakeJira(token=JIRA_TOKEN) as service:
        yield service


def github_sink(service: FakeGitHub, **options: object) -> GitHubIssuesSink:
    return GitHubIssuesSink(service.repo, GITHUB_TOKEN, api_url=service.url, timeout_seconds=FAST,
                            **options)  # type: ignore[arg-type]


def jira_sink(service: FakeJira) -> JiraSink:
    return JiraSink(service.url, service.email, JIRA_TOKEN, service.project, timeout_seconds=FAST)


def raised(sink: Sink, sent: Event) -> DeliveryError:
    with pytest.raises(DeliveryError) as info:
        sink.send(sent)
    return info.value


# --- webhook ----------------------------------------------------------------------------------


def test_the_webhook_posts_a_signed_event_the_receiver_accepts(receiver: FakeWebhookReceiver) -> None:
    WebhookSink(receiver.url, SECRET, timeout_seconds=FAST).send(event())
    [request] = receiver.requests
    assert receiver.event_ids() == ["task.created-f00d-0"]
    assert request.headers["x-kaizen-event-id"] == "task.created-f00d-0"
    assert request.headers["x-kaizen-signature"].startswith("sha256=")
    assert json.loads(request.body)["task"]["title"] == "Stop skipping 'Approve'"


def test_verify_accepts_a_fresh_signature() -> None:
    body = b'{"event_id":"e1"}'
    now = time.time()
    signature = sign(SECRET, str(int(now)), body)
    assert verify_signature(SECRET, str(int(now)), body, signature, now=now + 10)


def test_verify_rejects_a_tampered_body() -> None:
    now = int(time.time())
    signature = sign(SECRET, str(now), b'{"event_id":"e1","kind":"task.created"}')
    assert not verify_signature(SECRET, str(now), b'{"event_id":"e1","kind":"task.closed"}', signature)


def test_verify_rejects_a_wrong_secret() -> None:
    now = int(time.time())
    signature = sign("another-secret", str(now), b"{}")
    assert not verify_signature(SECRET, str(now), b"{}", signature)


@pytest.mark.parametrize("age", [301, -301, 86_400])
def test_verify_rejects_a_replay_outside_the_window(age: int) -> None:
    signed_at = 1_700_000_000
    signature = sign(SECRET, str(signed_at), b"{}")
    assert verify_signature(SECRET, str(signed_at), b"{}", signature, now=signed_at + 299)
    assert not verify_signature(SECRET, str(signed_at), b"{}", signature, now=signed_at + age)


@pytest.mark.parametrize("timestamp,signature", [
    ("", "sha256=00"), ("12a", "sha256=00"), ("1700000000", "md5=abc"), ("1700000000", ""),
])
def test_verify_rejects_malformed_headers(timestamp: str, signature: str) -> None:
    assert not verify_signature(SECRET, timestamp, b"{}", signature, now=1_700_000_000)


@pytest.mark.parametrize("status,retryable", [
    (500, True), (502, True), (503, True), (408, True), (400, False), (404, False), (410, False),
])
def test_webhook_answers_are_sorted_into_retry_or_give_up(
    receiver: FakeWebhookReceiver, status: int, retryable: bool
) -> None:
    receiver.fail(status)
    error = raised(WebhookSink(receiver.url, SECRET, timeout_seconds=FAST), event())
    assert error.retryable is retryable
    assert str(status) in str(error)


def test_a_webhook_429_carries_its_retry_after(receiver: FakeWebhookReceiver) -> None:
    receiver.fail(429, headers={"Retry-After": "120"})
    error = raised(WebhookSink(receiver.url, SECRET, timeout_seconds=FAST), event())
    assert error.retryable and error.retry_after == 120


def test_a_slow_webhook_times_out_as_retryable(receiver: FakeWebhookReceiver) -> None:
    receiver.fail(None, delay=FAST + 0.5)
    started = time.monotonic()
    error = raised(WebhookSink(receiver.url, SECRET, timeout_seconds=FAST), event())
    assert error.retryable and "no answer in time" in str(error)
    assert time.monotonic() - started < FAST + 0.4


def test_a_stopped_webhook_refuses_the_connection_as_retryable(receiver: FakeWebhookReceiver) -> None:
    receiver.stop()
    assert raised(WebhookSink(receiver.url, SECRET, timeout_seconds=FAST), event()).retryable


def test_a_receiver_with_another_secret_refuses_the_event_for_good(receiver: FakeWebhookReceiver) -> None:
    error = raised(WebhookSink(receiver.url, "not-the-shared-secret", timeout_seconds=FAST), event())
    assert not error.retryable and receiver.rejected == 1


# --- GitHub Issues ------------------------------------------------------------------------------


def test_github_creates_one_labelled_issue_with_the_task_marker(github: FakeGitHub) -> None:
    github_sink(github).send(event())
    [issue] = github.issues.values()
    assert issue["title"] == "Stop skipping 'Approve'"
    assert task_marker("f00d") in issue["body"] and "lead@example.com" in issue["body"]
    assert [label["name"] for label in issue["labels"]] == ["kaizenflow"]
    [create] = github.requests_to("POST", r".*/issues")
    assert create.headers["authorization"] == f"Bearer {GITHUB_TOKEN}"
    assert create.headers["accept"] == "application/vnd.github+json"
    assert create.headers["x-github-api-version"] == "2022-11-28"


def test_github_finds_the_issue_it_made_instead_of_making_another(github: FakeGitHub) -> None:
    github_sink(github).send(event())
    github_sink(github).send(event(event_id="again"))  # a new process: nothing remembered
    assert len(github.issues) == 1


def test_github_searches_every_page_for_the_marker(github: FakeGitHub) -> None:
    github_sink(github).send(event())
    for n in range(150):
        github.seed(f"other {n}", task_marker(f"other{n}"), ["kaizenflow"])
    github_sink(github).send(event(TASK_UPDATED))
    assert len(github.issues) == 151
    pages = [r.param("page") for r in github.requests_to("GET", r".*/issues")]
    assert pages[-1] == "2"


def test_github_ignores_issues_without_its_label(github: FakeGitHub) -> None:
    github.seed("copied by hand", task_marker("f00d"), ["bug"])
    github_sink(github).send(event())
    assert len(github.issues) == 2


def test_a_github_update_rewrites_the_body_and_comments_the_new_kpi(github: FakeGitHub) -> None:
    sink = github_sink(github)
    sink.send(event())
    sink.send(event(TASK_UPDATED, current=0.125))
    issue = github.issues[1]
    assert "12.5%" in issue["body"]
    [comment] = github.comments[1]
    assert "12.5%" in comment["body"] and "target 15.0%" in comment["body"]


def test_github_closes_the_issue_as_completed_or_not_planned(github: FakeGitHub) -> None:
    sink = github_sink(github)
    sink.send(event(fingerprint="a"))
    sink.send(event(TASK_CLOSED, fingerprint="a", status="verified_effective"))
    sink.send(event(fingerprint="b"))
    sink.send(event(TASK_CLOSED, fingerprint="b", status="dismissed"))
    assert [(i["state"], i["state_reason"]) for i in github.issues.values()] == [
        ("closed", "completed"), ("closed", "not_planned"),
    ]


def test_a_reopened_task_reopens_its_github_issue(github: FakeGitHub) -> None:
    sink = github_sink(github)
    sink.send(event())
    sink.send(event(TASK_CLOSED, status="closed"))
    sink.send(event(TASK_UPDATED, change=REOPENED))
    assert (github.issues[1]["state"], github.issues[1]["state_reason"]) == ("open", "reopened")
    assert github.comments[1][-1]["body"].endswith("(kaizenflow r2).")
    assert "Reopened: the pattern is back" in github.comments[1][-1]["body"]


def test_a_retried_github_comment_is_not_written_twice(github: FakeGitHub) -> None:
    sink = github_sink(github)
    sink.send(event())
    github.fail(None, delay=FAST + 0.5, after_processing=True, method="POST", path=r"/comments$")
    assert raised(sink, event(TASK_UPDATED, event_id="u1")).retryable
    sink.send(event(TASK_UPDATED, event_id="u1", attempts=1))
    assert len(github.comments[1]) == 1


def test_a_bad_github_token_is_not_retried(github: FakeGitHub) -> None:
    sink = GitHubIssuesSink(github.repo, "ghp_wrong", api_url=github.url, timeout_seconds=FAST)
    error = raised(sink, event())
    assert not error.retryable and "401" in str(error)


def test_a_github_rate_limit_is_retried_after_the_wait_it_names(github: FakeGitHub) -> None:
    github.fail(403, headers={"Retry-After": "60", "x-ratelimit-remaining": "0"})
    error = raised(github_sink(github), event())
    assert error.retryable and error.retry_after == 60


def test_github_remembers_the_issue_in_the_database(github: FakeGitHub, tmp_path: Path) -> None:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'links.db'}")
    metadata.create_all(engine)
    github_sink(github, links=DatabaseLinks(engine)).send(event())
    github_sink(github, links=DatabaseLinks(engine)).send(event(TASK_UPDATED))
    assert len(github.requests_to("GET", r".*/issues")) == 1  # the update needed no search
    engine.dispose()


# --- Jira Cloud ---------------------------------------------------------------------------------


def test_jira_creates_an_issue_labelled_for_its_task(jira: FakeJira) -> None:
    jira_sink(jira).send(event())
    [(key, issue)] = jira.issues.items()
    assert key == "OPS-1"
    assert issue["fields"]["labels"] == ["kaizenflow", task_label("f00d")]
    assert issue["fields"]["description"]["type"] == "doc"
    assert "lead@example.com" in json.dumps(issue["fields"]["description"])


def test_jira_finds_the_issue_by_its_label_instead_of_making_another(jira: FakeJira) -> None:
    jira_sink(jira).send(event())
    jira_sink(jira).send(event(event_id="again"))
    assert len(jira.issues) == 1
    [search] = jira.requests_to("POST", r"/rest/api/3/search/jql")[1:]
    assert task_label("f00d") in search.json()["jql"]


def test_a_jira_update_edits_the_issue_and_comments(jira: FakeJira) -> None:
    sink = jira_sink(jira)
    sink.send(event())
    sink.send(event(TASK_UPDATED, current=0.125))
    [comment] = jira.comments["OPS-1"]
    assert "12.5%" in json.dumps(comment["body"])
    assert "12.5%" in json.dumps(jira.issues["OPS-1"]["fields"]["description"])


def test_jira_closes_through_a_transition_to_done_once(jira: FakeJira) -> None:
    sink = jira_sink(jira)
    sink.send(event())
    sink.send(event(TASK_CLOSED, status="closed", event_id="c1"))
    sink.send(event(TASK_CLOSED, status="closed", event_id="c1", attempts=1))  # a retry
    assert jira.issues["OPS-1"]["fields"]["status"]["statusCategory"]["key"] == "done"
    assert len(jira.requests_to("POST", r".*/transitions")) == 1
    assert len(jira.comments["OPS-1"]) == 1


def test_a_reopened_task_moves_its_jira_issue_back_to_do(jira: FakeJira) -> None:
    sink = jira_sink(jira)
    sink.send(event())
    sink.send(event(TASK_CLOSED, status="closed"))
    sink.send(event(TASK_UPDATED, change=REOPENED))
    assert jira.issues["OPS-1"]["fields"]["status"]["statusCategory"]["key"] == "new"


def test_a_bad_jira_token_is_not_retried(jira: FakeJira) -> None:
    sink = JiraSink(jira.url, jira.email, "wrong", jira.project, timeout_seconds=FAST)
    assert not raised(sink, event()).retryable


# --- Apprise (chat, e-mail) ---------------------------------------------------------------------


def test_apprise_posts_one_line_per_event() -> None:
    with FakeChat() as chat:
        AppriseSink([f"json://127.0.0.1:{chat.port}/hook"]).send(event())
        [message] = chat.messages
    assert "\n" not in message["message"]
    assert message["message"].startswith("[kaizenflow] New task: Stop skipping 'Approve' (p2p)")


def test_apprise_down_is_retryable_and_the_url_is_not_quoted() -> None:
    chat = FakeChat().start()
    chat.stop()
    error = raised(AppriseSink([f"json://bot:{SECRET}@127.0.0.1:{chat.port}/hook"]), event())
    assert error.retryable and SECRET not in str(error) and "#1" in str(error)


def test_apprise_retries_only_the_urls_that_failed() -> None:
    with FakeChat() as up:
        down = FakeChat().start()
        down.stop()
        sink = AppriseSink([f"json://127.0.0.1:{up.port}/a", f"json://127.0.0.1:{down.port}/b"])
        raised(sink, event())
        down.start()
        sink.send(event(attempts=1, event_id="task.created-f00d-0"))
        down.stop()
    assert len(up.messages) == 1 and len(down.messages) == 1


def test_an_invalid_apprise_url_is_refused_without_showing_it() -> None:
    with pytest.raises(ValueError, match=r"#1 \(scheme 'nosuchservice'\)") as info:
        AppriseSink([f"nosuchservice://{SECRET}@host"])
    assert SECRET not in str(info.value)
