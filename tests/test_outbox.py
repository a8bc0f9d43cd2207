"""The outbox: events written with the run, delivered in order, at least once, never twice at once."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from fake_services import FakeChat, FakeGitHub, FakeJira, FakeWebhookReceiver

from kaizenflow.improvement.types import (
    CLOSED,
    CREATED,
    DISMISSED,
    IN_PROGRESS,
    NOT_EFFECTIVE,
    OPEN,
    REOPENED,
    UNCHANGED,
    UPDATED,
    VERIFIED_EFFECTIVE,
    Task,
    TaskChange,
)
from kaizenflow.sinks import (
    TASK_CLOSED,
    TASK_CREATED,
    TASK_UPDATED,
    DatabaseLinks,
    DeliveryError,
    Event,
    Sink,
)
from kaizenflow.sinks.delivery import Backoff, dead_letters, deliver, requeue_dead
from kaizenflow.sinks.github import GitHubIssuesSink
from kaizenflow.sinks.jira import JiraSink
from kaizenflow.sinks.notify import AppriseSink
from kaizenflow.sinks.webhook import WebhookSink
from kaizenflow.storage.outbox import (
    DEAD,
    DELIVERED,
    PENDING,
    NewEvent,
    enqueue,
    status_events,
    task_events,
)
from kaizenflow.storage.schema import metadata, outbox

T0 = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
SECRET = "whsec-Zk7Qp2Vx9"
GITHUB_TOKEN = "ghp_Qm4Rt8Wz1Yx5"
JIRA_TOKEN = "ATATT-Hn3Kd6Ls0"
CHAT_PASSWORD = "chat-Pw5Jf2"
FAST = 0.4  # seconds: the HTTP sinks' timeout here
BACKOFF = Backoff(base_seconds=60, factor=2, max_seconds=3600)


def task(n: int, status: str = OPEN) -> Task:
    return Task(
        task_id=n, fingerprint=f"fp{n:04d}", process="p2p", pattern_key=f"skipped:A{n}",
        title=f"Stop skipping 'A{n}'", business_object=None, owner="lead@example.com",
        kpi_name="share of cases", baseline_value=0.2, current_value=0.2, target_value=0.1,
        status=status, cases=8, evidence={"example_case_ids": ["c1", "c2"]}, created_run="r1",
        last_seen_run="r1",
    )


def lifecycle(n: int, sinks: list[str]) -> list[NewEvent]:
    """A task's three events over three runs: created, updated, closed."""
    return (task_events("r1", [TaskChange(CREATED, task(n))], sinks)
            + task_events("r2", [TaskChange(UPDATED, task(n))], sinks)
            + task_events("r3", [TaskChange(CLOSED, task(n, CLOSED))], sinks))


def put(engine: sa.Engine, events: list[NewEvent]) -> list[str]:
    with engine.begin() as connection:
        return enqueue(connection, events, now=T0)


def rows(engine: sa.Engine) -> list[sa.RowMapping]:
    with engine.connect() as connection:
        return list(connection.execute(sa.select(outbox).order_by(outbox.c.id)).mappings())


class Recorder:
    """An in-process sink: records what it is sent, fails when told to (thread-safe)."""

    def __init__(self, fail: dict[str, DeliveryError] | None = None, pause: float = 0.0) -> None:
        self.sent: list[Event] = []
        self.calls = 0
        self.fail = fail or {}
        self.pause = pause
        self.lock = threading.Lock()

    def send(self, event: Event) -> None:
        with self.lock:
            self.calls += 1
            error = self.fail.get(event.fingerprint + "/" + event.kind) or self.fail.get("*")
        if error is not None:
            raise error
        time.sleep(self.pause)
        with self.lock:
            self.sent.append(event)

    def kinds_by_task(self) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for sent in self.sent:
            found.setdefault(sent.fingerprint, []).append(sent.kind)
        return found


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"sqlite:///{tmp_path / 'state.db'}")
    metadata.create_all(engine)
    yield engine
    engine.dispose()


# --- writing events -----------------------------------------------------------------------------


def test_an_event_enqueued_in_a_transaction_that_rolls_back_is_not_there(engine: sa.Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        enqueue(connection, lifecycle(1, ["hook"]), now=T0)
        raise RuntimeError("the run failed after its tasks were written")
    assert rows(engine) == []


def test_enqueue_numbers_each_tasks_events_and_stores_an_event_once(engine: sa.Engine) -> None:
    events = lifecycle(1, ["hook"]) + lifecycle(2, ["hook"])
    assert len(put(engine, events)) == 6
    assert put(engine, events) == []
    assert [(r["fingerprint"], r["sequence"], r["kind"]) for r in rows(engine)][:3] == [
        ("fp0001", 1, TASK_CREATED), ("fp0001", 2, TASK_UPDATED), ("fp0001", 3, TASK_CLOSED),
    ]


def test_run_changes_become_events_and_unchanged_tasks_tell_nobody() -> None:
    changes = [TaskChange(CREATED, task(1)), TaskChange(UNCHANGED, task(2)),
               TaskChange(UPDATED, task(3)), TaskChange(REOPENED, task(4)),
               TaskChange(CLOSED, task(5, CLOSED)),
               TaskChange(VERIFIED_EFFECTIVE, task(6, VERIFIED_EFFECTIVE)),
               TaskChange(NOT_EFFECTIVE, task(7, NOT_EFFECTIVE))]
    events = task_events("r9", changes, ["hook", "github"])
    assert [(e.task_id, e.kind, e.payload["change"]) for e in events if e.sink == "hook"] == [
        (1, TASK_CREATED, CREATED), (3, TASK_UPDATED, UPDATED), (4, TASK_UPDATED, REOPENED),
        (5, TASK_CLOSED, CLOSED), (6, TASK_CLOSED, VERIFIED_EFFECTIVE), (7, TASK_UPDATED, NOT_EFFECTIVE),
    ]
    assert len(events) == 12 and len({e.event_id for e in events}) == 12


def test_a_change_made_by_a_person_becomes_an_event_too() -> None:
    [dismissed] = status_events(task(5, DISMISSED), "history-17", ["hook"], previous_status=OPEN)
    [reopened] = status_events(task(5, OPEN), "history-18", ["hook"], previous_status=DISMISSED)
    [started] = status_events(task(5, IN_PROGRESS), "history-19", ["hook"], previous_status=OPEN)
    assert (dismissed.kind, dismissed.payload["change"]) == (TASK_CLOSED, "status:dismissed")
    assert (reopened.kind, reopened.payload["change"]) == (TASK_UPDATED, REOPENED)
    assert (started.kind, started.payload["change"]) == (TASK_UPDATED, "status:in_progress")
    [assigned] = status_events(task(5), "history-20", ["hook"], change="assigned")
    assert (assigned.kind, assigned.payload["change"]) == (TASK_UPDATED, "assigned")


# --- order and retries --------------------------------------------------------------------------


def test_events_reach_a_sink_in_order_per_task(engine: sa.Engine) -> None:
    put(engine, [e for pair in zip(lifecycle(1, ["hook"]), lifecycle(2, ["hook"]), strict=True)
                 for e in pair])
    sink = Recorder()
    report = deliver(engine, {"hook": sink}, now=T0)
    assert len(report.delivered) == 6 and report.pending == 0
    lifecycle_kinds = [TASK_CREATED, TASK_UPDATED, TASK_CLOSED]
    assert sink.kinds_by_task() == {"fp0001": lifecycle_kinds, "fp0002": lifecycle_kinds}


def test_a_later_event_waits_while_the_earlier_one_is_pending(engine: sa.Engine) -> None:
    put(engine, lifecycle(1, ["hook"]) + lifecycle(2, ["hook"]))
    sink = Recorder({"fp0001/task.created": DeliveryError("HTTP 500", retryable=False)})
    deliver(engine, {"hook": sink}, now=T0)
    assert sink.kinds_by_task() == {"fp0002": [TASK_CREATED, TASK_UPDATED, TASK_CLOSED]}
    assert [r["status"] for r in rows(engine)][:3] == [DEAD, PENDING, PENDING]


def test_a_failed_event_is_tried_again_on_the_backoff_schedule(engine: sa.Engine) -> None:
    put(engine, lifecycle(1, ["hook"])[:1])
    deliver(engine, {"hook": Recorder({"*": DeliveryError("timeout", retryable=True)})}, now=T0,
            backoff=BACKOFF)
    deliver(engine, {"hook": Recorder({"*": DeliveryError("timeout", retryable=True)})},
            now=T0 + timedelta(seconds=60), backoff=BACKOFF)
    [row] = rows(engine)
    assert (row["attempts"], row["last_error"]) == (2, "timeout")
    assert row["next_attempt_at"].replace(tzinfo=UTC) == T0 + timedelta(seconds=60 + 120)
    early, due = Recorder(), Recorder()
    deliver(engine, {"hook": early}, now=T0 + timedelta(seconds=179), backoff=BACKOFF)
    deliver(engine, {"hook": due}, now=T0 + timedelta(seconds=180), backoff=BACKOFF)
    assert (early.calls, len(due.sent)) == (0, 1)


def test_a_retry_after_longer_than_the_backoff_wins(engine: sa.Engine) -> None:
    put(engine, lifecycle(1, ["hook"])[:1])
    deliver(engine, {"hook": Recorder({"*": DeliveryError("429", retryable=True, retry_after=900)})},
            now=T0, backoff=BACKOFF)
    assert rows(engine)[0]["next_attempt_at"].replace(tzinfo=UTC) == T0 + timedelta(seconds=900)


def test_a_failing_sink_is_left_alone_for_the_rest_of_the_pass(engine: sa.Engine) -> None:
    put(engine, lifecycle(1, ["hook"])[:1] + lifecycle(2, ["hook"])[:1] + lifecycle(3, ["other"])[:1])
    down, other = Recorder({"*": DeliveryError("refused", retryable=True)}), Recorder()
    report = deliver(engine, {"hook": down, "other": other}, now=T0)
    assert down.calls == 1 and len(other.sent) == 1
    assert len(report.retrying) == 1 and report.pending == 2
    assert [r["attempts"] for r in rows(engine)] == [1, 0, 1]


def test_a_sink_down_for_two_rounds_then_up_gets_every_event_once_in_order(engine: sa.Engine) -> None:
    receiver = FakeWebhookReceiver(SECRET).start()
    receiver.stop()
    sinks = {"hook": WebhookSink(receiver.url, SECRET, timeout_seconds=FAST)}
    put(engine, lifecycle(1, ["hook"]) + lifecycle(2, ["hook"]))
    first = deliver(engine, sinks, now=T0, backoff=BACKOFF)
    second = deliver(engine, sinks, now=T0 + timedelta(hours=1), backoff=BACKOFF)
    assert first.delivered == second.delivered == [] and second.pending == 6
    waiting = rows(engine)[0]
    assert waiting["attempts"] == 2 and "ConnectError" in waiting["last_error"]
    receiver.start()
    try:
        third = deliver(engine, sinks, now=T0 + timedelta(hours=2), backoff=BACKOFF)
    finally:
        receiver.stop()
    assert len(third.delivered) == 6 and third.pending == 0
    assert Counter(receiver.event_ids()) == Counter({r["event_id"]: 1 for r in rows(engine)})
    kinds = [(e["fingerprint"], e["kind"]) for e in receiver.accepted]
    for fingerprint in ("fp0001", "fp0002"):
        assert [k for f, k in kinds if f == fingerprint] == [TASK_CREATED, TASK_UPDATED, TASK_CLOSED]


def test_an_event_is_dead_after_max_attempts_and_reported(engine: sa.Engine) -> None:
    put(engine, lifecycle(1, ["hook"])[:2])
    failing = Recorder({"*": DeliveryError("HTTP 503 Service Unavailable", retryable=True)})
    reports = [deliver(engine, {"hook": failing}, now=T0 + timedelta(days=i), max_attempts=3, backoff=BACKOFF)
               for i in range(4)]
    assert failing.calls == 3
    assert [len(r.dead) for r in reports] == [0, 0, 1, 0]
    [letter] = reports[2].dead
    assert (letter.kind, letter.attempts) == (TASK_CREATED, 3)
    assert letter.last_error == "HTTP 503 Service Unavailable"
    assert dead_letters(engine) == [letter]
    assert [r["status"] for r in rows(engine)] == [DEAD, PENDING]  # the update waits behind it


def test_a_requeued_dead_event_is_delivered_and_unblocks_its_task(engine: sa.Engine) -> None:
    put(engine, lifecycle(1, ["hook"])[:2])
    deliver(engine, {"hook": Recorder({"*": DeliveryError("HTTP 401", retryable=False)})}, now=T0)
    assert requeue_dead(engine, sink="hook", now=T0) == 1
    fixed = Recorder()
    deliver(engine, {"hook": fixed}, now=T0)
    assert [e.kind for e in fixed.sent] == [TASK_CREATED, TASK_UPDATED]
    assert {r["status"] for r in rows(engine)} == {DELIVERED}


def test_a_sink_that_raises_something_else_is_retried_without_its_message(engine: sa.Engine) -> None:
    class Broken:
        def send(self, event: Event) -> None:
            raise KeyError(f"Authorization: Bearer {GITHUB_TOKEN}")

    put(engine, lifecycle(1, ["hook"])[:1])
    report = deliver(engine, {"hook": Broken()}, now=T0)
    [row] = rows(engine)
    assert report.retrying == [row["event_id"]] and row["status"] == PENDING
    assert row["last_error"].startswith("unexpected KeyError at test_outbox.py:")


def test_events_for_a_sink_no_longer_configured_stay_and_are_counted(engine: sa.Engine) -> None:
    put(engine, lifecycle(1, ["old"])[:1] + lifecycle(1, ["hook"])[:1])
    report = deliver(engine, {"hook": Recorder()}, now=T0)
    assert len(report.delivered) == 1 and report.unconfigured == {"old": 1}


# --- lost answers: the service did the work, the client never heard --------------------------


def test_a_lost_github_answer_does_not_open_a_second_issue(engine: sa.Engine) -> None:
    with FakeGitHub(token=GITHUB_TOKEN) as github:
        sink = GitHubIssuesSink(github.repo, GITHUB_TOKEN, api_url=github.url, timeout_seconds=FAST,
                                links=DatabaseLinks(engine))
        github.fail(None, delay=FAST + 0.6, after_processing=True, method="POST", path=r"/issues$")
        put(engine, lifecycle(1, ["github"])[:2])
        first = deliver(engine, {"github": sink}, now=T0, backoff=BACKOFF)
        second = deliver(engine, {"github": sink}, now=T0 + timedelta(minutes=1), backoff=BACKOFF)
        assert len(first.retrying) == 1 and len(second.delivered) == 2
        assert len(github.issues) == 1
        assert len(github.requests_to("POST", r".*/issues")) == 1
        assert len(github.comments[1]) == 1  # the update went to the one issue


def test_a_lost_jira_answer_does_not_create_a_second_issue(engine: sa.Engine) -> None:
    with FakeJira(token=JIRA_TOKEN) as jira:
        sink = JiraSink(jira.url, jira.email, JIRA_TOKEN, jira.project, timeout_seconds=FAST,
                        links=DatabaseLinks(engine))
        jira.fail(None, delay=FAST + 0.6, after_processing=True, method="POST", path=r"/issue$")
        put(engine, lifecycle(1, ["jira"]))
        first = deliver(engine, {"jira": sink}, now=T0, backoff=BACKOFF)
        second = deliver(engine, {"jira": sink}, now=T0 + timedelta(minutes=1), backoff=BACKOFF)
        assert len(first.retrying) == 1 and len(second.delivered) == 3
        assert list(jira.issues) == ["OPS-1"]
        assert len(jira.requests_to("POST", r"/rest/api/3/issue")) == 1
        assert jira.issues["OPS-1"]["fields"]["status"]["name"] == "Done"


# --- concurrency --------------------------------------------------------------------------------


def two_deliverers_never_send_an_event_twice(engine: sa.Engine) -> None:
    metadata.create_all(engine)
    put(engine, [e for n in range(1, 21) for e in lifecycle(n, ["hook"])])
    sink = Recorder(pause=0.002)
    both_busy = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    class Meeting:
        """Each thread's first send waits for the other's: both hold claims at the same time."""

        def __init__(self) -> None:
            self.met = False

        def send(self, event: Event) -> None:
            if not self.met:
                self.met = True
                both_busy.wait()
            sink.send(event)

    def run() -> None:
        try:
            mine: dict[str, Sink] = {"hook": Meeting()}
            while deliver(engine, mine, now=T0, batch_size=5).delivered:
                pass
        except BaseException as error:  # noqa: BLE001 - surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    sent = Counter(e.event_id for e in sink.sent)
    assert len(sent) == 60 and set(sent.values()) == {1}
    assert all(kinds == [TASK_CREATED, TASK_UPDATED, TASK_CLOSED] for kinds in sink.kinds_by_task().values())
    assert {r["status"] for r in rows(engine)} == {DELIVERED}


def test_two_deliverers_never_send_an_event_twice_on_sqlite(engine: sa.Engine) -> None:
    two_deliverers_never_send_an_event_twice(engine)


def test_two_deliverers_never_send_an_event_twice_on_postgresql(postgres_url: str) -> None:
    engine = sa.create_engine(postgres_url)
    try:
        two_deliverers_never_send_an_event_twice(engine)
    finally:
        engine.dispose()


def test_two_deliverers_never_send_an_event_twice_on_mariadb(mariadb_url: str) -> None:
    engine = sa.create_engine(mariadb_url)
    try:
        two_deliverers_never_send_an_event_twice(engine)
    finally:
        engine.dispose()


# --- secrets ------------------------------------------------------------------------------------


def test_no_secret_reaches_a_body_a_stored_error_or_the_logs(
    engine: sa.Engine, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with (FakeWebhookReceiver(SECRET) as receiver, FakeGitHub(token=GITHUB_TOKEN) as github,
          FakeJira(token=JIRA_TOKEN) as jira, FakeChat() as chat, FakeChat() as stopped):
        stopped.stop()  # Apprise logs the connection error to a URL that holds a password
        sinks: dict[str, Sink] = {
            "hook": WebhookSink(receiver.url, SECRET, timeout_seconds=FAST),
            "github": GitHubIssuesSink(github.repo, GITHUB_TOKEN, api_url=github.url, timeout_seconds=FAST),
            "jira": JiraSink(jira.url, jira.email, JIRA_TOKEN, jira.project, timeout_seconds=FAST),
            "chat": AppriseSink([f"json://bot:{CHAT_PASSWORD}@127.0.0.1:{chat.port}/hook"]),
            "chat-down": AppriseSink([f"json://bot:{CHAT_PASSWORD}@127.0.0.1:{stopped.port}/hook"]),
            "bad-github": GitHubIssuesSink(github.repo, GITHUB_TOKEN + "x", api_url=github.url,
                                           timeout_seconds=FAST),
        }
        put(engine, [e for n in (1, 2) for e in lifecycle(n, list(sinks))])
        for service in (receiver, github, jira, chat):
            service.fail(500, times=1)
            service.fail(429, times=1, headers={"Retry-After": "1"})
        for hour in range(4):
            deliver(engine, sinks, now=T0 + timedelta(hours=hour), backoff=BACKOFF)
        bodies = b"".join(b for service in (receiver, github, jira, chat) for b in service.all_bodies())
    errors = " ".join(r["last_error"] or "" for r in rows(engine))
    assert len(receiver.accepted) == 6 and len(github.issues) == 2 and len(jira.issues) == 2
    assert len(chat.messages) == 6
    assert all(word in errors for word in ("HTTP 500", "HTTP 429", "HTTP 401", "Apprise"))
    for secret in (SECRET, GITHUB_TOKEN, JIRA_TOKEN, CHAT_PASSWORD):
        assert secret.encode() not in bodies
        assert secret not in errors
        assert secret not in caplog.text
    assert all(SECRET not in str(r.headers) for r in receiver.requests)
    # The check read the libraries' own debug logs too, not just ours.
    expected = {"apprise", "httpx", "httpcore.http11", "kaizenflow.sinks.delivery"}
    assert expected <= {r.name for r in caplog.records}
