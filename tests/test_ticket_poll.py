"""`kaizen tasks deliver` polls the tasks' GitHub issues and Jira tickets when their webhooks cannot
reach the web app: a ticket closed as done marks its task done, comments come back once, the sinks'
own comments never, and a service that is down is reported while the others are still asked
(against the local stand-ins of the sink tests)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from fake_services import FakeGitHub, FakeJira
from ticket_support import TaskInState, record_one_task, ticket_sinks, write_config
from typer.testing import CliRunner

from kaizenflow.cli.main import app
from kaizenflow.improvement.types import ACKNOWLEDGED, DONE, OPEN, TaskProposal
from kaizenflow.pipeline import remote
from kaizenflow.pipeline.config import TwoWaySinkConfig, load_config
from kaizenflow.storage.accounts import AccountStore
from kaizenflow.storage.schema import outbox
from kaizenflow.storage.state import StateStore
from kaizenflow.web import hooks


@dataclass
class Polled(TaskInState):
    path: Path
    github: FakeGitHub
    jira: FakeJira

    def deliver(self, *options: str) -> dict[str, Any]:
        """`kaizen tasks deliver --json`: what it printed, parsed."""
        result = CliRunner().invoke(app, ["tasks", "deliver", "--config", str(self.path), "--json", *options])
        assert result.exit_code == 0, result.output
        document: dict[str, Any] = json.loads(result.output)
        return document

    def sinks_told(self) -> list[str]:
        """The sinks the task's events after its creation were written for, in order."""
        store = self.store()
        try:
            with store.engine.connect() as connection:
                return list(connection.execute(
                    sa.select(outbox.c.sink).where(outbox.c.task_id == self.task_id,
                                                   outbox.c.kind != "task.created").order_by(outbox.c.id)
                ).scalars())
        finally:
            store.dispose()


@pytest.fixture
def polled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Polled]:
    """A task delivered to a GitHub issue and a Jira ticket whose webhooks reach no web app."""
    with FakeGitHub() as github, FakeJira() as jira:
        monkeypatch.setenv("GH_TOKEN", github.token)
        monkeypatch.setenv("JIRA_TOKEN", jira.token)
        path = write_config(tmp_path, sinks=ticket_sinks(github, jira))
        config = load_config(path)
        task_id = record_one_task(config)
        setup = Polled(config=config, task_id=task_id, path=path, github=github, jira=jira)
        setup.deliver("--no-poll")
        assert len(github.issues) == 1 and len(jira.issues) == 1
        yield setup


def test_closing_the_github_issue_marks_the_task_done_at_the_next_delivery(polled: Polled) -> None:
    [number] = polled.github.issues
    polled.github.close_by(number, "octocat")
    answer = polled.deliver()
    assert answer["poll"]["done"] == [polled.task_id] and answer["poll"]["failed"] == {}
    assert polled.status() == DONE
    assert polled.notes()[-1] == f"octocat (GitHub): closed in github ({number})"
    assert polled.sinks_told() == ["jira"]  # told the other sink, not back to GitHub


def test_resolving_the_jira_ticket_marks_the_task_done_at_the_next_delivery(polled: Polled) -> None:
    [key] = polled.jira.issues
    polled.jira.resolve_by(key)
    assert polled.deliver()["poll"]["done"] == [polled.task_id]
    assert polled.status() == DONE
    assert polled.notes()[-1] == f"? (Jira): closed in jira ({key})"
    assert polled.sinks_told() == ["github"]


def test_an_issue_closed_as_not_planned_changes_nothing(polled: Polled) -> None:
    [number] = polled.github.issues
    polled.github.close_by(number, "octocat", reason="not_planned")
    assert polled.deliver()["poll"]["done"] == []
    assert polled.status() == OPEN


def test_a_comment_is_brought_back_once_across_two_polls(polled: Polled) -> None:
    [number] = polled.github.issues
    [key] = polled.jira.issues
    polled.github.comment_by(number, "octocat", "Approvers reminded")
    polled.jira.comment_by(key, "Dana", "Fixed in the approval workflow")
    first, second = polled.deliver(), polled.deliver()
    assert (first["poll"]["comments"], second["poll"]["comments"]) == (2, 0)
    notes = polled.notes()
    assert notes.count("octocat (GitHub): Approvers reminded") == 1
    assert notes.count("Dana (Jira): Fixed in the approval workflow") == 1
    assert polled.status() == OPEN


def test_a_later_github_poll_lists_only_the_comments_since_the_last_one_taken_in(polled: Polled) -> None:
    [number] = polled.github.issues
    polled.github.comment_by(number, "octocat", "first")
    polled.deliver()
    polled.github.comment_by(number, "octocat", "second")
    polled.deliver()
    *_, listing = polled.github.requests_to("GET", rf".*/issues/{number}/comments")
    since = listing.param("since")
    assert since is not None and since == polled.github.comments[number][0]["created_at"]
    assert polled.notes()[-2:] == ["octocat (GitHub): first", "octocat (GitHub): second"]


def test_the_sinks_own_comments_do_not_come_back_and_nothing_loops(polled: Polled) -> None:
    store = polled.store()
    try:  # an owner acknowledges the task: both sinks comment on their tickets
        store.transition(polled.task_id, ACKNOWLEDGED, "lead@example.com", sinks=["github", "jira"])
    finally:
        store.dispose()
    polled.deliver()
    [number] = polled.github.issues
    polled.github.close_by(number, "octocat")  # done: Jira is told, and comments on its ticket
    polled.deliver()
    told = polled.sinks_told()
    notes = polled.notes()
    again = polled.deliver()
    assert polled.github.comments[number] and any(polled.jira.comments.values())
    assert again["poll"] == {**again["poll"], "comments": 0, "done": []}
    assert polled.sinks_told() == told and polled.notes() == notes
    assert not any("kaizenflow" in note or "Status set" in note for note in notes)


def test_one_listing_request_per_linked_ticket_and_poll(polled: Polled) -> None:
    [number] = polled.github.issues
    [key] = polled.jira.issues
    polled.deliver()
    assert len(polled.github.requests_to("GET", rf".*/issues/{number}/comments")) == 1
    assert len(polled.github.requests_to("GET", rf".*/issues/{number}")) == 1
    assert len(polled.jira.requests_to("GET", rf"/rest/api/3/issue/{key}")) == 1


def test_a_service_that_is_down_is_reported_and_the_others_are_still_polled(polled: Polled) -> None:
    [key] = polled.jira.issues
    polled.jira.resolve_by(key)
    polled.github.stop()
    answer = polled.deliver()
    assert set(answer["poll"]["failed"]) == {"github"} and answer["poll"]["ok"] is False
    assert answer["poll"]["done"] == [polled.task_id] and polled.status() == DONE
    text = CliRunner().invoke(app, ["tasks", "deliver", "--config", str(polled.path)]).output
    assert "github failed: GitHub GET" in text


def test_no_poll_leaves_the_tickets_unasked(polled: Polled) -> None:
    [number] = polled.github.issues
    polled.github.close_by(number, "octocat")
    answer = polled.deliver("--no-poll")
    assert "poll" not in answer and polled.status() == OPEN
    assert polled.github.requests_to("GET", rf".*/issues/{number}") == []


def test_a_sink_whose_webhooks_reach_the_web_app_is_not_polled_unless_asked(polled: Polled) -> None:
    data = yaml.safe_load(polled.path.read_text(encoding="utf-8"))
    data["sinks"][0]["webhook_secret_env"] = "GH_HOOK"
    data["sinks"][1]["webhook_secret_env"] = "JIRA_HOOK"
    data["sinks"][1]["poll"] = True
    polled.path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert [sink.name for sink in remote.polled_sinks(load_config(polled.path))] == ["jira"]


def test_a_comment_taken_in_by_webhook_is_not_brought_back_by_the_poll(polled: Polled) -> None:
    [number] = polled.github.issues
    comment_id = polled.github.comment_by(number, "octocat", "seen by the webhook first")
    [comment] = polled.github.comments[number]
    change = hooks.github_change("issue_comment", {
        "action": "created", "issue": {"number": number}, "sender": {"login": "octocat"},
        "comment": {"id": comment_id, "body": comment["body"], "created_at": comment["created_at"]}})
    assert change is not None
    [sink] = [s for s in polled.config.sinks if isinstance(s, TwoWaySinkConfig) and s.type == "github"]
    store = polled.store()
    try:
        applied = remote.apply_remote_change(polled.config, store, AccountStore(store.engine), sink, change)
    finally:
        store.dispose()
    assert applied.changed
    assert polled.deliver()["poll"]["comments"] == 0
    assert polled.notes().count("octocat (GitHub): seen by the webhook first") == 1


def test_a_state_database_from_before_the_poll_is_healthy_and_gains_its_table(tmp_path: Path) -> None:
    from kaizenflow.storage.health import check_state

    url = f"sqlite:///{tmp_path / 'kaizen.db'}"
    StateStore(url).dispose()
    engine = sa.create_engine(url)
    with engine.begin() as connection:
        connection.exec_driver_sql("DROP TABLE remote_happenings")
    [state, *_] = check_state(tmp_path, url)
    assert state.status == "ok", state
    StateStore(url).dispose()
    assert "remote_happenings" in sa.inspect(engine).get_table_names()
    engine.dispose()


def test_a_deleted_issue_is_reported_and_the_other_tickets_are_still_asked(polled: Polled) -> None:
    store = polled.store()
    try:
        now = datetime.now(UTC)
        [second] = store.record_run(
            "r2", "purchase-to-pay", now, now,
            {"cases": 100, "events": 600, "fitness": 0.9, "conforming_cases": 80}, [],
            [TaskProposal(fingerprint="f2", process="purchase-to-pay", pattern_key="inserted:Pay Twice",
                          title="Stop paying twice", business_object=None, owner="lead@example.com",
                          kpi_name="share of cases", kpi_value=0.2, target_value=0.1, cases=20,
                          cases_in_scope=100, evidence={})],
            sinks=["github"],
        )
    finally:
        store.dispose()
    polled.deliver("--no-poll")
    first_issue, second_issue = sorted(polled.github.issues)
    del polled.github.issues[first_issue]  # someone deleted it
    polled.github.close_by(second_issue, "octocat")
    answer = polled.deliver()
    assert answer["poll"]["failed"] == {"github": f"GitHub GET /repos/{polled.github.repo}/issues/"
                                                  f"{first_issue}: HTTP 404 Not Found"}
    assert answer["poll"]["done"] == [second.task.task_id]
