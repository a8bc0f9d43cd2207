"""Accepted deviations: they stop counting and raising tasks, but never pass for an improvement."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml
from stage_nights import stage_night
from typer.testing import CliRunner

from kaizenflow.cli.main import app
from kaizenflow.conformance.types import ConformanceResult, Deviation
from kaizenflow.improvement.types import OPEN, Task
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import BPMN_PATH, SimulationConfig, append_days, generate

SAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
EARLY_INVOICES = "wrong_order:Receive Invoice"
SKIPPED_APPROVAL = "skipped:Approve Purchase Order"
runner = CliRunner()


@pytest.fixture
def config(tmp_path: Path) -> KaizenConfig:
    """The simulated purchase-to-pay system; a pattern absent for two nights closes its task."""
    generate(f"sqlite:///{tmp_path / 'p2p.db'}", SimulationConfig(cases=2000, days=90, seed=5))
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["storage"] = {"directory": "state"}
    data["processes"][0]["tasks"]["close_after_absent_runs"] = 2
    (tmp_path / "kaizen.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(BPMN_PATH, tmp_path / "purchase_to_pay.bpmn")
    return load_config(tmp_path / "kaizen.yaml")


def night(config: KaizenConfig, number: int) -> tuple[ConformanceResult, list[Deviation], dict[int, str]]:
    """What counts, what was set aside, and what happened to each task (by number)."""
    result, accepted, changes = stage_night(config, f"night-{number}")
    return result, accepted, {c.task.task_id: c.change for c in changes}


def tasks_of(config: KaizenConfig, pattern_key: str) -> list[Task]:
    store = Resources(config).state
    try:
        return [t for t in store.list_tasks() if t.pattern_key == pattern_key]
    finally:
        store.dispose()


def config_file(config: KaizenConfig) -> str:
    return str(config.base_dir / "kaizen.yaml")


def accept(config: KaizenConfig, pattern: str, *scope: str) -> str:
    result = runner.invoke(app, ["tasks", "accept", "--config", config_file(config), "--pattern", pattern,
                                 "--reason", "agreed with procurement", "--by", "lead", *scope])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_an_accepted_pattern_stops_counting_but_its_task_keeps_its_true_kpi(config: KaizenConfig) -> None:
    first, _, _ = night(config, 1)
    [task] = tasks_of(config, EARLY_INVOICES)
    assert task.status == OPEN and task.current_value > 0

    said = accept(config, EARLY_INVOICES)
    assert f"#{task.task_id}" in said and "KPIs still count its cases" in said
    nights = [night(config, 2)]
    append_days(f"sqlite:///{config.base_dir / 'p2p.db'}", 1)  # without new events night 3 repeats 2
    nights.append(night(config, 3))

    for result, accepted, changes in nights:
        assert accepted and {f"{d.kind}:{d.activity}" for d in accepted} == {EARLY_INVOICES}
        assert EARLY_INVOICES not in {f"{d.kind}:{d.activity}" for d in result.deviations}
        assert result.conforming_cases > first.conforming_cases  # cases left without a deviation conform
        assert changes.get(task.task_id) != "closed"
    [after] = tasks_of(config, EARLY_INVOICES)
    # a day's new cases move the KPI a little; an accepted pattern would have set it to zero
    assert after.status == OPEN and after.cases >= task.cases
    assert after.current_value == pytest.approx(task.current_value, rel=0.1)


def test_an_acceptance_for_one_business_object_sets_aside_only_its_cases(config: KaizenConfig) -> None:
    night(config, 1)
    accept(config, SKIPPED_APPROVAL, "--object", "plant=P-03")
    result, accepted, _ = night(config, 2)

    process = config.processes[0]
    plants = stages.read_log(Resources(config), process).case_attributes["plant"]
    assert accepted and {plants[d.case_id] for d in accepted} == {"P-03"}
    still_counting = {d.case_id for d in result.deviations if f"{d.kind}:{d.activity}" == SKIPPED_APPROVAL}
    assert still_counting and "P-03" not in {plants[case] for case in still_counting}


@pytest.mark.parametrize("scope", ["plantP-03", "plant=", "=P-03"])
def test_an_acceptance_scope_that_is_not_attribute_equals_value_is_refused(
    config: KaizenConfig, scope: str
) -> None:
    result = runner.invoke(app, ["tasks", "accept", "--config", config_file(config), "--pattern",
                                 SKIPPED_APPROVAL, "--reason", "agreed", "--object", scope])
    assert result.exit_code == 1
    assert f"object {scope!r} is not attribute=value" in result.stderr


def test_the_night_summary_and_report_say_who_accepted_what_and_the_headlines_move(
    config: KaizenConfig,
) -> None:
    from kaizenflow.pipeline.night import run_night
    from kaizenflow.pipeline.resources import Resources
    from kaizenflow.reports.night import write_night_report

    night(config, 1)
    accept(config, EARLY_INVOICES)
    with Resources.open(config) as resources:
        tonight = run_night(resources, config.processes[0], run_id="night-2", report=write_night_report)
    summary = tonight.summary
    [note] = summary.acceptances
    assert (note.pattern_key, note.accepted_by) == (EARLY_INVOICES, "lead")
    assert note.reason == "agreed with procurement"
    assert note.cases == len({d.case_id for d in tonight.analysed.accepted}) and note.conforming_cases > 0
    effect = summary.acceptance_effect
    assert effect is not None and effect.conforming_cases == summary.conforming_cases
    assert effect.gained == note.conforming_cases  # the one acceptance explains the whole move
    assert summary.report_path is not None
    page = Path(summary.report_path).read_text(encoding="utf-8")
    assert "agreed with procurement" in page and f"{effect.gained:,} cases conform only because" in page
