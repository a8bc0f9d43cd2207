"""A verified task reopens on the cases started since its change, never on older ones in the window."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from kaizenflow.improvement.measurement import Measurement
from kaizenflow.improvement.raising import fingerprint
from kaizenflow.improvement.types import DONE, OPEN, VERIFIED_EFFECTIVE, TaskProposal
from kaizenflow.storage.state import StateStore

CHANGED_AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
KEY = "repeated:Pay Invoice"
FIGURES: dict[str, object] = {"cases": 423, "events": 2000, "fitness": 0.9, "conforming_cases": 300}


def proposal() -> TaskProposal:
    """The pattern as the window shows it: 77 of 423 cases, most of them from before the change."""
    return TaskProposal(
        fingerprint=fingerprint("p2p", KEY, None), process="p2p", pattern_key=KEY,
        title="Stop the rework: 'Pay Invoice' done more than once", business_object=None,
        owner="lead@example.com", kpi_name="share of cases with repeated 'Pay Invoice'",
        kpi_value=77 / 423, target_value=77 / 423 / 2, cases=77, cases_in_scope=423, evidence={},
    )


def night(store: StateStore, run: str, after_affected: int, after_cases: int, raised: bool = True) -> str:
    now = datetime.now(UTC)
    measured = Measurement(affected=77, in_scope=423, after_affected=after_affected,
                           after_in_scope=after_cases)
    task_id = store.list_tasks()[0].task_id
    [change] = store.record_run(run, "p2p", now, now, FIGURES, [], [proposal()] if raised else [],
                                {task_id: measured})
    return change.change


@pytest.fixture
def verified(tmp_path: Path) -> StateStore:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    now = datetime.now(UTC)
    store.record_run("r1", "p2p", now, now, FIGURES, [], [proposal()])
    store.transition(store.list_tasks()[0].task_id, DONE, "buyer-lead", "blocked double payments", CHANGED_AT)
    assert night(store, "r2", after_affected=0, after_cases=43) == VERIFIED_EFFECTIVE
    return store


def test_old_cases_still_in_the_window_do_not_reopen_a_verified_task(verified: StateStore) -> None:
    assert night(verified, "r3", after_affected=0, after_cases=60) != "reopened"
    assert verified.list_tasks()[0].status == VERIFIED_EFFECTIVE


def test_a_drop_that_holds_on_the_new_cases_keeps_the_verdict(verified: StateStore) -> None:
    assert night(verified, "r3", after_affected=4, after_cases=150) != "reopened"  # 2.7 % against 18.2 %
    assert verified.list_tasks()[0].status == VERIFIED_EFFECTIVE


def test_the_pattern_back_in_the_new_cases_reopens_it_and_says_which_cases(verified: StateStore) -> None:
    assert night(verified, "r3", after_affected=25, after_cases=150, raised=False) == "reopened"
    task = verified.list_tasks()[0]
    assert task.status == OPEN and task.changed_at is None
    note = [h for h in verified.history(task.task_id) if h["type"] == "status"][-1]["note"]
    assert "25 of 150 cases started since the change on 2026-11-20" in str(note)
