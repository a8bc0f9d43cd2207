"""What the `kaizen` command prints: --json everywhere, a task table that fits 80 columns, and the
pattern keys in the form `tasks accept --pattern` takes."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
import typer
from typer.testing import CliRunner

from kaizenflow.cli.main import app
from kaizenflow.conformance.types import Deviation
from kaizenflow.improvement.raising import fingerprint
from kaizenflow.improvement.types import TaskProposal
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.resources import Resources

EXAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
KEY = "segregation_of_duties:Requester does not approve the own order"
runner = CliRunner()


@pytest.fixture(autouse=True)
def restored_environment() -> Iterator[None]:
    with mock.patch.dict(os.environ):
        yield


@pytest.fixture
def config(tmp_path: Path) -> str:
    """A stored run with one deviation and a task whose owner and title are long."""
    path = tmp_path / "kaizen.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    store = Resources.open(load_config(path)).state
    now = datetime.now(UTC)
    proposal = TaskProposal(
        fingerprint=fingerprint("purchase-to-pay", KEY, "plant=P-01"), process="purchase-to-pay",
        pattern_key=KEY, title="Enforce segregation of duties: 'Requester does not approve the own order' "
        "for plant P-01", business_object="plant=P-01", owner="plant-manager-p01@example.com",
        kpi_name="share", kpi_value=0.231, target_value=0.116, cases=87, cases_in_scope=376, evidence={},
    )
    found = [Deviation("PR-0000042", "segregation_of_duties", "Requester does not approve the own order")]
    store.record_run("r1", "purchase-to-pay", now, now, {"cases": 9, "events": 40, "conforming_cases": 8},
                     found, [proposal])
    store.dispose()
    return str(path)


def commands(group: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    for name, command in getattr(group, "commands", {}).items():
        if getattr(command, "commands", None):
            yield from commands(command, (*path, name))
        else:
            yield (*path, name), command


def test_every_command_that_prints_takes_json() -> None:
    lacking = [" ".join(path) for path, command in commands(typer.main.get_command(app))
               if "--json" not in {o for p in command.params for o in getattr(p, "opts", [])}]
    assert lacking == ["serve", "web"]  # long-running servers, not listings


def test_the_task_list_has_a_header_and_fits_80_columns(config: str) -> None:
    result = runner.invoke(app, ["tasks", "list", "-c", config])
    assert result.exit_code == 0, result.output
    header, row = result.stdout.splitlines()
    assert header.split() == ["#", "status", "KPI", "owner", "title"]
    assert len(header) <= 80 and len(row) == 80 and row.endswith("…")
    assert row.split()[:4] == ["1", "open", "23.1%", "plant-manager-p01…"]


def test_comment_and_deliver_answer_in_json(config: str) -> None:
    commented = runner.invoke(app, ["tasks", "comment", "1", "-c", config, "--text", "reminded",
                                    "--by", "anna", "--json"])
    assert commented.exit_code == 0, commented.output
    assert json.loads(commented.stdout) == {"task_id": 1, "comment": "reminded", "by": "anna",
                                            "status": "open"}
    delivered = runner.invoke(app, ["tasks", "deliver", "-c", config, "--json"])
    assert delivered.exit_code == 0, delivered.output
    assert json.loads(delivered.stdout)["ok"] is True


def test_deviations_and_a_task_show_the_key_accept_takes(config: str) -> None:
    listed = runner.invoke(app, ["deviations", "-c", config])
    assert f"PR-0000042       {KEY}" in listed.stdout
    shown = runner.invoke(app, ["tasks", "show", "1", "-c", config])
    assert f"kaizen tasks accept --pattern '{KEY}' --object plant=P-01" in shown.stdout


def test_a_usage_error_exits_2_and_a_failure_1(config: str) -> None:
    assert runner.invoke(app, ["tasks", "list", "-c", config, "--colour", "red"]).exit_code == 2
    assert runner.invoke(app, ["tasks", "list", "-c", config, "--status", "opne"]).exit_code == 2
    assert runner.invoke(app, ["tasks", "show", "99", "-c", config]).exit_code == 1


def test_map_answers_in_json(tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("case_id,activity,timestamp\n1,a,2024-01-01T10:00:00Z\n1,b,2024-01-01T11:00:00Z\n",
                   encoding="utf-8")
    result = runner.invoke(app, ["map", str(log), "--out", str(tmp_path / "map.svg"), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["edges"] == 1 and (tmp_path / "map.svg").exists()


def test_a_run_says_how_far_acceptances_moved_its_conforming_cases() -> None:
    from report_fixtures import make_summary

    from kaizenflow.cli.main import _describe
    from kaizenflow.improvement.acceptance import AcceptanceEffect, AcceptanceNote

    summary = make_summary()
    summary.cases, summary.conforming_cases = 2000, 1533
    summary.acceptance_effect = AcceptanceEffect(cases=2000, conforming_cases=1533,
                                                 conforming_without_acceptances=1460)
    moment = datetime(2026, 12, 3, tzinfo=UTC)
    summary.acceptances = [AcceptanceNote(1, "wrong_order:Receive Invoice", None, "framework contracts",
                                          "anna", moment, moment, 75, 73)]
    lines = _describe(summary).splitlines()
    expected = "  accepted:          73 of them conform only by 1 acceptance(s): 73.0% without, +3.6 points"
    assert expected in lines
    assert not any(line.startswith("  accepted:") for line in _describe(make_summary()).splitlines())


def test_a_night_with_nothing_new_says_whose_findings_stand_and_that_no_run_was_recorded() -> None:
    from dataclasses import replace

    from report_fixtures import make_summary

    from kaizenflow.cli.main import _describe, _headline
    from kaizenflow.reports.prefect_summary import summary_markdown

    repeated = replace(make_summary(run_id="night-7"), repeated=True, new_events=0, task_changes=[])
    lines = _describe(repeated).splitlines()
    assert lines[0] == "Purchase to Pay — nothing new since run night-7: its findings stand, no run recorded"
    assert "  tasks:             as they were (no run recorded)" in lines
    assert _headline(repeated)["repeated"] is True and _headline(make_summary())["repeated"] is False
    assert "Nothing new since run night-7" in summary_markdown(repeated)
    assert "Nothing new" not in summary_markdown(make_summary())
