"""A night that finds nothing new repeats the newest findings: it records no run and reads no events,
and anything its findings depend on that changed makes it compute them again."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from report_fixtures import hostile_summary, make_summary

from kaizenflow.cli.demo import DEMO_DATABASE, prepare_demo
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.night import Night, run_night
from kaizenflow.pipeline.resources import Resources
from kaizenflow.pipeline.summary import RunSummary, summary_from_json, summary_json
from kaizenflow.reports.night import write_night_report
from kaizenflow.sample_logs import append_days
from kaizenflow.storage.schema import kpi_history, night_findings

PROCESS = "purchase-to-pay"


@pytest.fixture
def config(tmp_path: Path) -> KaizenConfig:
    path, _ = prepare_demo(tmp_path, cases=300, seed=11, days=40)
    return load_config(path)


def tonight(config: KaizenConfig, run_id: str, *, report: bool = False) -> Night:
    with Resources.open(config) as resources:
        return run_night(resources, config.processes[0], run_id=run_id,
                         report=write_night_report if report else None)


def findings(summary: RunSummary) -> RunSummary:
    """What a summary says about the process, without when, how fast or what it did to tasks."""
    return RunSummary(**{
        **summary.__dict__, "started_at": datetime(2000, 1, 1, tzinfo=UTC),
        "finished_at": datetime(2000, 1, 1, tzinfo=UTC), "new_events": 0, "task_changes": [],
        "stage_seconds": {}, "repeated": False, "report_path": None, "run_id": "",
        "source_watermarks": {},
    })


def recorded(config: KaizenConfig) -> tuple[list[str], int]:
    """The runs of the process, and how many KPI values the tasks have."""
    resources = Resources(config)
    try:
        with resources.state.engine.connect() as connection:
            kpis = connection.execute(sa.select(sa.func.count()).select_from(kpi_history)).scalar_one()
        return resources.state.run_ids(PROCESS), int(kpis)
    finally:
        resources.state.dispose()


def test_a_night_with_nothing_new_repeats_the_newest_findings_and_records_no_run(
    config: KaizenConfig,
) -> None:
    first = tonight(config, "night-1")
    runs, kpis = recorded(config)
    again = tonight(config, "night-2")
    assert again.summary.repeated and again.window is None and again.checked_cases == 0
    assert again.summary.run_id == "night-1" and again.summary.new_events == 0
    assert findings(again.summary) == findings(first.summary)
    assert recorded(config) == (runs, kpis) and runs == ["night-1"]
    with pytest.raises(ValueError, match="found nothing new"):
        _ = again.result


def test_new_events_make_the_night_compute_and_record_a_run(config: KaizenConfig) -> None:
    tonight(config, "night-1")
    append_days(f"sqlite:///{config.path(Path(DEMO_DATABASE))}", 2)
    night = tonight(config, "night-2")
    assert not night.summary.repeated and night.summary.new_events > 0
    assert recorded(config)[0] == ["night-1", "night-2"]


def test_an_acceptance_since_the_newest_night_makes_the_night_compute_again(config: KaizenConfig) -> None:
    first = tonight(config, "night-1")
    pattern = first.summary.patterns[0]
    with Resources.open(config) as resources:
        resources.state.accept_pattern(PROCESS, pattern.key, None, "agreed", "lead",
                                       datetime.now(UTC) + timedelta(days=30))
    night = tonight(config, "night-2")
    assert not night.summary.repeated
    assert [p.key for p in night.summary.accepted_patterns] == [pattern.key]
    assert night.summary.conforming_cases > first.summary.conforming_cases


def test_a_changed_setting_makes_the_night_compute_again(config: KaizenConfig, tmp_path: Path) -> None:
    first = tonight(config, "night-1")
    path = tmp_path / "kaizen.yaml"
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["processes"][0]["rules"] = [{"name": "quick payment", "type": "case_duration", "max_hours": 24}]
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    night = tonight(load_config(path), "night-2")
    assert not night.summary.repeated
    assert night.summary.conforming_cases < first.summary.conforming_cases


def test_a_changed_model_file_makes_the_night_compute_again(config: KaizenConfig) -> None:
    tonight(config, "night-1")
    model = config.path(config.processes[0].model)
    model.write_text(model.read_text(encoding="utf-8") + "\n<!-- edited in the modeler -->\n",
                     encoding="utf-8")
    assert not tonight(config, "night-2").summary.repeated


def test_findings_that_cannot_be_read_are_computed_again(config: KaizenConfig) -> None:
    first = tonight(config, "night-1")
    with Resources.open(config) as resources, resources.state.engine.begin() as connection:
        connection.execute(night_findings.update().values(summary_json='{"cases": "many"'))
    night = tonight(config, "night-2")
    assert not night.summary.repeated and findings(night.summary) == findings(first.summary)
    assert tonight(config, "night-3").summary.repeated  # readable findings were kept again


def test_deleted_findings_only_make_the_next_night_compute(config: KaizenConfig) -> None:
    tonight(config, "night-1")
    with Resources.open(config) as resources, resources.state.engine.begin() as connection:
        connection.execute(night_findings.delete())
    assert not tonight(config, "night-2").summary.repeated
    assert tonight(config, "night-3").summary.repeated


def test_a_repeated_night_points_at_the_report_that_stands(config: KaizenConfig) -> None:
    first = tonight(config, "night-1", report=True)
    again = tonight(config, "night-2", report=True)
    assert again.summary.repeated and again.summary.report_path == first.summary.report_path
    assert recorded(config)[0] == ["night-1"]


def test_a_repeated_night_whose_report_is_gone_computes_and_writes_one(config: KaizenConfig) -> None:
    first = tonight(config, "night-1", report=True)
    assert first.summary.report_path is not None
    Path(first.summary.report_path).unlink()
    night = tonight(config, "night-2", report=True)
    assert not night.summary.repeated
    assert night.summary.report_path is not None and Path(night.summary.report_path).is_file()


@pytest.mark.parametrize("summary", [make_summary(), hostile_summary(), make_summary(fitness=None)])
def test_a_summary_comes_back_from_its_json_equal(summary: RunSummary) -> None:
    assert summary_from_json(summary_json(summary)) == summary


def test_json_that_is_no_summary_is_refused() -> None:
    with pytest.raises(ValueError, match="not a run summary"):
        summary_from_json(json.dumps({"process": "p2p"}))
