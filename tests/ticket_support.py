"""Test bed of the two-way sinks: a one-process configuration, a task delivered to the GitHub and
Jira stand-ins, and what the state says of it (tests/test_web_hooks.py, tests/test_ticket_poll.py)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import yaml
from fake_services import FakeGitHub, FakeJira

from kaizenflow.improvement.types import TaskProposal
from kaizenflow.pipeline.config import KaizenConfig
from kaizenflow.storage.state import StateStore

MODEL = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.bpmn"


def write_config(directory: Path, **sections: object) -> Path:
    """``directory/kaizen.yaml``: one purchase-to-pay process reading events.csv against the sample
    model, every task to lead@example.com; ``sections`` are the other top-level keys (sinks, web)."""
    path = directory / "kaizen.yaml"
    path.write_text(yaml.safe_dump({
        "processes": [{"name": "purchase-to-pay", "model": str(MODEL),
                       "sources": [{"name": "erp", "file": "events.csv", "case_id": "case",
                                    "activity": "activity", "timestamp": "at"}],
                       "tasks": {"owners": {"default": "lead@example.com"}}}],
        **sections,
    }), encoding="utf-8")
    return path


def ticket_sinks(
    github: FakeGitHub, jira: FakeJira, hook_secret_envs: Mapping[str, str] | None = None
) -> list[dict[str, object]]:
    """A GitHub and a Jira sink on the stand-ins (tokens in GH_TOKEN and JIRA_TOKEN);
    ``hook_secret_envs`` names, by sink name, the variable holding its webhook secret."""
    hook_secret_envs = hook_secret_envs or {}
    sinks: list[dict[str, object]] = [
        {"name": "github", "type": "github", "repo": github.repo, "token_env": "GH_TOKEN",
         "api_url": github.url, "timeout_seconds": 2},
        {"name": "jira", "type": "jira", "base_url": jira.url, "email": jira.email,
         "token_env": "JIRA_TOKEN", "project_key": jira.project, "timeout_seconds": 2},
    ]
    for sink in sinks:
        if sink["name"] in hook_secret_envs:
            sink["webhook_secret_env"] = hook_secret_envs[str(sink["name"])]
    return sinks


def record_one_task(config: KaizenConfig, run_id: str = "r1", sinks: Sequence[str] | None = None) -> int:
    """A run that raises one task, its events in the outbox for ``sinks`` (by default the GitHub
    and Jira sinks); the task's id."""
    config.state_directory.mkdir(parents=True, exist_ok=True)
    store = StateStore(config.state_url)
    try:
        now = datetime.now(UTC)
        [change] = store.record_run(
            run_id, "purchase-to-pay", now, now,
            {"cases": 100, "events": 600, "fitness": 0.9, "conforming_cases": 80}, [],
            [TaskProposal(fingerprint="f1", process="purchase-to-pay",
                          pattern_key="skipped:Approve Purchase Order",
                          title="Stop skipping 'Approve Purchase Order'", business_object=None,
                          owner="lead@example.com", kpi_name="share of cases", kpi_value=0.2,
                          target_value=0.1, cases=20, cases_in_scope=100, evidence={})],
            sinks=["github", "jira"] if sinks is None else sinks,
        )
    finally:
        store.dispose()
    return change.task.task_id


@dataclass
class TaskInState:
    """One task of a configuration's state, read afresh at each question."""

    config: KaizenConfig
    task_id: int

    def store(self) -> StateStore:
        return StateStore(self.config.state_url)

    def status(self) -> str:
        store = self.store()
        try:
            return store.task(self.task_id).status
        finally:
            store.dispose()

    def notes(self) -> list[str]:
        store = self.store()
        try:
            return [str(h["note"]) for h in store.history(self.task_id) if h["type"] == "status"]
        finally:
            store.dispose()
