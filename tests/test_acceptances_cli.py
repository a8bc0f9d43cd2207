"""Accepting a pattern from the command line: only patterns a run saw, listed, revoked, explained."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pandas as pd
import pytest
from typer.testing import CliRunner

from kaizenflow.cli.main import app
from kaizenflow.conformance.types import ConformanceResult, Deviation, deviation_table
from kaizenflow.improvement.acceptance import describe_acceptances, set_aside_accepted
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.resources import Resources

EXAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
EARLY_INVOICES = "wrong_order:Receive Invoice"
runner = CliRunner()


@pytest.fixture(autouse=True)
def restored_environment() -> Iterator[None]:
    with mock.patch.dict(os.environ):
        yield


@pytest.fixture
def config(tmp_path: Path) -> str:
    """The sample configuration after one stored run that saw two patterns."""
    path = tmp_path / "kaizen.yaml"
    path.write_text(EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    store = Resources.open(load_config(path)).state
    now = datetime.now(UTC)
    found = [Deviation("PR-1", "wrong_order", "Receive Invoice"),
             Deviation("PR-2", "skipped", "Approve Purchase Order")]
    figures: dict[str, object] = {"cases": 2, "events": 9, "conforming_cases": 0}
    store.record_run("r1", "purchase-to-pay", now, now, figures, found, [])
    store.dispose()
    return str(path)


def invoke(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_a_pattern_the_latest_run_did_not_see_is_refused_naming_the_closest(config: str) -> None:
    code, _, err = invoke("tasks", "accept", "-c", config, "--pattern", "wrong_order:Receive-Invoice",
                          "--reason", "framework contracts")
    assert code == 1 and err.count("\n") == 1
    assert "pattern 'wrong_order:Receive-Invoice' was not found in the latest run of purchase-to-pay" in err
    assert "did you mean 'wrong_order:Receive Invoice'?" in err
    code, out, _ = invoke("tasks", "acceptances", "-c", config, "--json")
    assert code == 0 and json.loads(out) == []


def test_accepted_patterns_are_listed_with_who_why_and_until_then_revoked(config: str) -> None:
    code, out, err = invoke("tasks", "accept", "-c", config, "--pattern", EARLY_INVOICES, "--reason",
                            "framework contracts", "--by", "anna", "--days", "30", "--json")
    assert code == 0, err
    accepted = json.loads(out)
    assert (accepted["pattern"], accepted["accepted_by"], accepted["reason"]) == (
        EARLY_INVOICES, "anna", "framework contracts")

    code, out, _ = invoke("tasks", "acceptances", "-c", config, "--json")
    [listed] = json.loads(out)
    assert (listed["id"], listed["state"]) == (accepted["acceptance_id"], "in force")
    assert listed["accepted_by"] == "anna"
    until = datetime.fromisoformat(listed["expires_at"])
    assert timedelta(days=29) < until - datetime.now(UTC) <= timedelta(days=30)
    code, out, _ = invoke("tasks", "acceptances", "-c", config)
    assert code == 0 and "wrong_order:Receive Invoice" in out and "why: framework contracts" in out
    assert max(len(line) for line in out.splitlines()) <= 80

    code, out, _ = invoke("tasks", "revoke", str(accepted["acceptance_id"]), "-c", config, "--by", "ben",
                          "--reason", "contracts ended", "--json")
    assert code == 0 and json.loads(out)["state"] == "revoked" and json.loads(out)["revoked_by"] == "ben"
    store = Resources.open(load_config(Path(config))).state
    try:
        assert store.accepted("purchase-to-pay") == []
    finally:
        store.dispose()
    code, out, _ = invoke("tasks", "acceptances", "-c", config)
    assert "no acceptance in force" in out
    code, out, _ = invoke("tasks", "acceptances", "-c", config, "--all", "--json")
    assert [a["state"] for a in json.loads(out)] == ["revoked"]
    code, _, err = invoke("tasks", "revoke", str(accepted["acceptance_id"]), "-c", config)
    assert code == 1 and "was revoked already by ben" in err


def test_revoking_an_acceptance_no_one_made_fails_with_one_line(config: str) -> None:
    code, _, err = invoke("tasks", "revoke", "7", "-c", config)
    assert code == 1 and err.strip() == (
        "kaizen: error: there is no acceptance #7 (`kaizen tasks acceptances` lists them)")


def test_the_summary_says_who_accepted_what_and_how_far_it_moved_the_headline() -> None:
    attributes = pd.DataFrame({"plant": ["P-03", "P-03", "P-06", "P-06"]},
                              index=pd.Index(["c1", "c2", "c3", "c4"], name="case_id")).astype("string")
    early = ("wrong_order", "Receive Invoice")
    found = [Deviation("c1", *early), Deviation("c2", *early), Deviation("c2", "skipped", "Approve"),
             Deviation("c3", *early)]
    result = ConformanceResult(cases=4, conforming_cases=1, incomplete_cases=0, unchecked_cases=0,
                               fitness=0.9, average_trace_fitness=0.9, deviation_table=deviation_table(found))
    acceptance = {"id": 3, "pattern_key": "wrong_order:Receive Invoice", "business_object": "plant=P-03",
                  "reason": "framework contracts", "accepted_by": "anna",
                  "accepted_at": datetime(2026, 11, 1), "expires_at": datetime(2027, 1, 30)}
    kept, set_aside = set_aside_accepted(result, [acceptance], attributes)
    [note], effect = describe_acceptances(kept, set_aside, [acceptance], attributes)
    assert (note.accepted_by, note.reason, note.expires_at) == (
        "anna", "framework contracts", datetime(2027, 1, 30, tzinfo=UTC))
    assert (note.cases, note.conforming_cases) == (2, 1)  # c2 still has its skipped approval
    assert (effect.conforming_without_acceptances, effect.conforming_cases) == (1, 2)
    assert effect.share_points == pytest.approx(25.0)
    assert effect.describe() == ("1 cases conform only because of accepted deviations: conformance 25.0% "
                                 "without acceptances, +25.0 points with them")
