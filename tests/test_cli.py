"""The `kaizen` command: failures are one line with a reason and exit code 1 (usage errors 2), listings
take --json."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from unittest import mock

import pytest
import yaml
from typer.testing import CliRunner

from kaizenflow.cli.main import app
from kaizenflow.cli.tasks import task_lines
from kaizenflow.improvement.types import Task
from kaizenflow.sample_logs import BPMN_PATH
from kaizenflow.storage import EventStore

EXAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
runner = CliRunner()


@pytest.fixture(autouse=True)
def restored_environment() -> Iterator[None]:
    """The CLI sets Prefect's environment for its process; keep that out of other tests."""
    with mock.patch.dict(os.environ):
        yield


def test_an_invalid_configuration_fails_with_one_line_naming_the_key(tmp_path: Path) -> None:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["processes"][0]["colour"] = "red"
    config = tmp_path / "kaizen.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "processes.0.colour: unknown key" in result.stderr


@pytest.mark.slow
def test_a_night_that_fails_on_bad_input_prints_no_traceback(prefect_harness: None, tmp_path: Path) -> None:
    """Prefect logs the failed task; the reason is one line, and no traceback buries it."""
    from prefect.settings import PREFECT_API_URL

    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    data["connections"]["erp"]["url"] = "sqlite:///no-such-erp.db"
    config = tmp_path / "kaizen.yaml"
    config.write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(BPMN_PATH, tmp_path / "purchase_to_pay.bpmn")
    finished = subprocess.run(
        [str(Path(sys.executable).with_name("kaizen")), "run", "--config", str(config)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "PREFECT_API_URL": str(PREFECT_API_URL.value())},
    )
    assert finished.returncode == 1
    assert "Traceback" not in finished.stdout + finished.stderr
    assert finished.stderr.strip().splitlines() == [  # and no ERROR lines of Prefect's above it
        f"kaizen: error: source requisitions: SQLite database {tmp_path / 'no-such-erp.db'} does not exist"]
    assert finished.stderr.strip().splitlines()[-1] == (
        f"kaizen: error: source requisitions: SQLite database {tmp_path / 'no-such-erp.db'} does not exist")
    assert not (tmp_path / "no-such-erp.db").exists()


def test_a_missing_configuration_file_is_named(tmp_path: Path) -> None:
    result = runner.invoke(app, ["tasks", "list", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 1
    assert "nope.yaml: cannot read the configuration" in result.stderr


def test_deviations_before_any_run_say_what_to_do(tmp_path: Path) -> None:
    config = tmp_path / "kaizen.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(app, ["deviations", "--config", str(config)])
    assert result.exit_code == 1
    assert "has not run yet" in result.stderr


@pytest.mark.parametrize("command", [["show"], ["ack"], ["done"], ["assign", "--owner", "x@example.com"]])
def test_a_task_id_no_task_has_fails_with_one_line(tmp_path: Path, command: list[str]) -> None:
    config = tmp_path / "kaizen.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(app, ["tasks", command[0], "99", "--config", str(config), *command[1:]])
    assert result.exit_code == 1
    assert result.stderr.strip() == "kaizen: error: there is no task #99"


def test_an_unknown_task_status_is_refused_naming_the_known_ones(tmp_path: Path) -> None:
    config = tmp_path / "kaizen.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(app, ["tasks", "list", "--config", str(config), "--status", "opne"])
    assert result.exit_code == 2  # a usage error, as click's own
    assert result.stderr.strip() == (
        "kaizen: error: unknown status 'opne' (statuses: open, acknowledged, in_progress, done, "
        "verified_effective, not_effective, dismissed, closed)")


@pytest.mark.parametrize("pattern", ["nonsense", "skiped:Approve Purchase Order", "skipped:"])
def test_accepting_a_pattern_key_that_can_match_nothing_is_refused(tmp_path: Path, pattern: str) -> None:
    config = tmp_path / "kaizen.yaml"
    config.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    result = runner.invoke(app, ["tasks", "accept", "--config", str(config), "--pattern", pattern,
                                 "--reason", "agreed"])
    assert result.exit_code == 1
    assert f"pattern {pattern!r} is not kind:activity" in result.stderr
    assert result.stderr.strip().count("\n") == 0


def test_a_task_reads_with_its_evidence_the_last_runs_kpi_and_times_in_utc() -> None:
    task = Task(
        task_id=4, fingerprint="f", process="p2p", pattern_key="wrong_order:Receive Invoice",
        title="Do 'Receive Invoice' at its designed point", business_object=None, owner="lead@example.com",
        kpi_name="share of cases with wrong order", baseline_value=0.04, current_value=0.03,
        target_value=0.02, status="open", cases=60, created_run="r1", last_seen_run="r7",
        evidence={"cases": 75, "extra_throughput_median_hours": 24.65, "extra_cost_median": 1200.0,
                  "example_case_ids": ["PR-8", "PR-34"],
                  "root_causes": [{"attribute": "supplier", "value": "S-005", "cases": 29, "lift": 8.3155}]},
    )
    history: list[dict[str, object]] = [
        {"type": "status", "at": datetime(2026, 12, 2, 1, 1, 50, 641676), "status": "open", "note": "raised"},
        {"type": "status", "at": datetime(2026, 12, 3, 3, 0, tzinfo=timezone(timedelta(hours=2))),
         "status": "acknowledged", "note": "lead: acknowledged"},
        *({"type": "kpi", "run_id": f"r{n}", "value": 0.04 - n / 1000, "cases": 75 - n,
           "cases_in_scope": 1863} for n in range(1, 8)),
    ]
    lines = task_lines(task, history)
    assert lines[2:4] == [
        "  pattern wrong_order:Receive Invoice",
        "  accept it with: kaizen tasks accept --pattern 'wrong_order:Receive Invoice' --reason ..."]
    lines = lines[:2] + lines[4:]
    assert lines[3] == ("  evidence when raised: 75 cases, +24.6 h median throughput against conforming "
                        "cases, +1,200.00 median cost; root causes supplier=S-005 (29 cases, lift 8.3)")
    assert lines[4] == "  example cases: PR-8, PR-34"
    assert lines[5].startswith("  KPI by run: r3 3.7% (72 of 1863), r4")  # the last five runs
    assert lines[5].endswith("r7 3.3% (68 of 1863)")
    assert lines[6:] == ["  2026-12-02 01:01 UTC open: raised",
                         "  2026-12-03 01:00 UTC acknowledged: lead: acknowledged"]


@pytest.mark.slow
def test_demo_then_listings_as_json(prefect_harness: None, tmp_path: Path) -> None:
    workdir = tmp_path / "demo"
    result = runner.invoke(app, ["demo", "--workdir", str(workdir), "--cases", "600", "--json"])
    assert result.exit_code == 0, result.output
    [headline] = json.loads(result.stdout)
    assert headline["cases"] == 600 and headline["new_events"] > 3000
    assert Path(headline["report"]).exists()
    config = str(workdir / "kaizen.yaml")

    tasks = json.loads(runner.invoke(app, ["tasks", "list", "--config", config, "--json"]).stdout)
    assert len(tasks) == headline["tasks_created"] and all(t["status"] == "open" for t in tasks)

    listed = json.loads(runner.invoke(app, ["deviations", "--config", config, "--json"]).stdout)
    assert listed["run_id"] == headline["run_id"]
    assert {d["kind"] for d in listed["deviations"]} >= {"skipped", "repeated"}

    scoped = next(t for t in tasks if t["business_object"])
    attribute, _, value = scoped["business_object"].partition("=")
    plants = EventStore(workdir / "state" / "events.duckdb").case_attributes("purchase-to-pay")[attribute]
    of_task = json.loads(runner.invoke(app, ["deviations", "--config", config, "--task",
                                             str(scoped["task_id"]), "--json"]).stdout)["deviations"]
    key = scoped["pattern_key"]
    same_pattern = [d for d in listed["deviations"] if f"{d['kind']}:{d['activity']}" == key]
    assert of_task == [d for d in same_pattern if plants[d["case_id"]] == value]
    assert 0 < len(of_task) < len(same_pattern)
    by_pattern = json.loads(runner.invoke(app, ["deviations", "--config", config, "--pattern",
                                                scoped["pattern_key"], "--json"]).stdout)["deviations"]
    assert by_pattern == same_pattern

    where = json.loads(runner.invoke(app, ["report", "--config", config, "--json"]).stdout)
    assert where["latest"]["purchase-to-pay"] == headline["report"]
