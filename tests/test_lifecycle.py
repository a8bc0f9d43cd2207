"""Execution as learning, over simulated nights: tasks are done, verified, closed and reopened."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from stage_nights import stage_night

from kaizenflow.improvement.types import CLOSED, DONE, NOT_EFFECTIVE, OPEN, VERIFIED_EFFECTIVE
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import BPMN_PATH, DeviationRates, SimulationConfig, append_days, generate

pytestmark = pytest.mark.slow
SAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"

Key = tuple[str, "str | None"]  # pattern and business object: one task each
DUPLICATES: Key = ("repeated:Pay Invoice", "supplier=S-017")
SKIPPED_APPROVAL: Key = ("skipped:Approve Purchase Order", "plant=P-03")
EARLY_INVOICES: Key = ("wrong_order:Receive Invoice", None)


def night(config: KaizenConfig, number: int) -> dict[Key, str]:
    """One night without Prefect; returns what happened to each task."""
    _, _, changes = stage_night(config, f"night-{number}")
    return {(c.task.pattern_key, c.task.business_object): c.change for c in changes}


def statuses(config: KaizenConfig) -> dict[Key, str]:
    store = Resources(config).state
    try:
        return {(t.pattern_key, t.business_object): t.status for t in store.list_tasks()}
    finally:
        store.dispose()


def task_id(config: KaizenConfig, key: Key) -> int:
    store = Resources(config).state
    try:
        return next(t.task_id for t in store.list_tasks() if (t.pattern_key, t.business_object) == key)
    finally:
        store.dispose()


def test_a_done_task_is_verified_then_reopened_and_an_absent_pattern_closes_its_task(
    tmp_path: Path, postgres_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    erp = f"sqlite:///{tmp_path / 'p2p.db'}"
    generate(erp, SimulationConfig(cases=5000, days=120, seed=5))
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["storage"] = {"directory": "state", "state_url_env": "KAIZEN_TEST_STATE_URL"}
    process = data["processes"][0]
    process["window_days"] = 60
    process["tasks"].update(close_after_absent_runs=2, effect_window_days=30, effect_min_cases=30)
    (tmp_path / "kaizen.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(BPMN_PATH, tmp_path / "purchase_to_pay.bpmn")
    monkeypatch.setenv("KAIZEN_TEST_STATE_URL", postgres_url)
    config = load_config(tmp_path / "kaizen.yaml")

    first = night(config, 1)
    assert {DUPLICATES, SKIPPED_APPROVAL, EARLY_INVOICES} <= set(first)
    store = Resources(config).state
    now = stages.process_time(Resources(config), config.processes[0])
    store.transition(task_id(config, DUPLICATES), DONE, "buyer-lead", "blocked double payments", now)
    store.transition(task_id(config, SKIPPED_APPROVAL), DONE, "plant-p03", "reminded approvers", now)
    store.dispose()

    improved = DeviationRates().without("duplicate_payment", "invoice_before_po")
    history = []
    for number in range(2, 8):  # six more nights of 15 simulated days: 90 days after the change
        append_days(erp, 15, rates=improved)
        night(config, number)
        history.append(statuses(config))
    assert history[-1][DUPLICATES] == VERIFIED_EFFECTIVE, history
    assert history[-1][SKIPPED_APPROVAL] == NOT_EFFECTIVE, history  # nothing changed at P-03
    assert history[-1][EARLY_INVOICES] == CLOSED, history  # gone from the 60-day window
    assert history[0][DUPLICATES] == DONE  # not verified on too little data

    reopened = None
    for number in range(8, 12):  # duplicate payments come back
        append_days(erp, 15, rates=DeviationRates())
        changes = night(config, number)
        if changes.get(DUPLICATES) == "reopened":
            reopened = number
            break
    assert reopened is not None and statuses(config)[DUPLICATES] == OPEN

    store = Resources(config).state
    try:
        tasks = store.list_tasks()
        assert len({t.fingerprint for t in tasks}) == len(tasks)  # never a twin
        effect = next(t for t in tasks if (t.pattern_key, t.business_object) == SKIPPED_APPROVAL).effect
        assert effect is not None and effect["verdict"] == "not_effective"
        kpis = [h for h in store.history(task_id(config, DUPLICATES)) if h["type"] == "kpi"]
        assert len(kpis) == reopened  # one KPI value per night, appended
        notes = [h["note"] for h in store.history(task_id(config, DUPLICATES)) if h["type"] == "status"]
        assert "cases started since the change on" in str(notes[-1])  # the verdict's evidence
    finally:
        store.dispose()
