"""A name the configuration refers to that neither the model nor the log has fails the night's load."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.pipeline.config import ConfigError, KaizenConfig, load_config
from kaizenflow.pipeline.names import check_names
from kaizenflow.sample_logs import BPMN_PATH

EXAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
STEPS = ["Create Purchase Requisition", "Create Purchase Order", "Approve Purchase Order", "Receive Goods",
         "Receive Invoice", "Pay Invoice"]


def configured(tmp_path: Path, change: Any = None) -> KaizenConfig:
    data = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    if change is not None:
        change(data["processes"][0])
    (tmp_path / "kaizen.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(BPMN_PATH, tmp_path / "purchase_to_pay.bpmn")
    return load_config(tmp_path / "kaizen.yaml")


def log(steps: list[str] = STEPS) -> EventLog:
    rows = [("PR-1", step, f"2026-06-0{1 + i}T10:00:00Z", "u") for i, step in enumerate(steps)]
    return log_from_rows(rows, {"plant": {"PR-1": "P-03"}, "supplier": {"PR-1": "S-005"}})


def refusal(config: KaizenConfig, events: EventLog | None = None) -> str:
    with pytest.raises(ConfigError) as refused:
        check_names(config, config.processes[0], events or log())
    return str(refused.value)


def test_the_sample_configuration_names_only_known_activities_and_attributes(tmp_path: Path) -> None:
    config = configured(tmp_path)
    check_names(config, config.processes[0], log())


def test_a_misspelt_activity_in_a_rule_is_refused_with_its_path_and_the_closest_names(tmp_path: Path) -> None:
    def misspell(process: dict[str, Any]) -> None:
        process["rules"][1]["activities"][1] = "Approve Purchase Ordr"

    assert refusal(configured(tmp_path, misspell)).startswith(
        "processes.0.rules.1.activities.1: unknown activity 'Approve Purchase Ordr' "
        "(closest: 'Approve Purchase Order'")


def test_a_mapping_from_a_name_the_log_lacks_or_to_one_the_model_lacks_is_refused(tmp_path: Path) -> None:
    def mapping(process: dict[str, Any]) -> None:
        process["activity_mapping"] = {"Recieve Goods": "Receive Goods", "Pay Invoice": "Pay the Invoice"}

    message = refusal(configured(tmp_path, mapping))
    assert ("processes.0.activity_mapping: unknown log activity 'Recieve Goods' (closest: 'Receive Goods'"
            in message)
    assert "processes.0.activity_mapping.Pay Invoice: unknown model activity 'Pay the Invoice'" in message


def test_a_mapped_name_counts_as_known_for_the_rules(tmp_path: Path) -> None:
    def mapped(process: dict[str, Any]) -> None:
        process["activity_mapping"] = {"PO approved": "Approve Purchase Order"}

    config = configured(tmp_path, mapped)
    renamed = [("PO approved" if step == "Approve Purchase Order" else step) for step in STEPS]
    check_names(config, config.processes[0], log(renamed))


def test_task_scopes_and_owner_routing_must_name_case_attributes(tmp_path: Path) -> None:
    def scopes(process: dict[str, Any]) -> None:
        process["tasks"]["scope_attributes"] = ["supplier", "plnat"]

    assert refusal(configured(tmp_path, scopes)).startswith(
        "processes.0.tasks.scope_attributes.1: unknown attribute 'plnat' (closest: 'plant')")

    def owners(process: dict[str, Any]) -> None:
        process["tasks"]["owners"]["by_attribute"]["suplier"] = {"*": "x@example.com"}

    assert "processes.0.tasks.owners.by_attribute: unknown attribute 'suplier'" in refusal(
        configured(tmp_path, owners))


def test_a_forbidden_activity_may_be_absent_from_model_and_log(tmp_path: Path) -> None:
    def forbid(process: dict[str, Any]) -> None:
        process["rules"].append({"type": "forbidden_activity", "name": "no cancellations",
                                 "activity": "Cancel Invoice"})

    config = configured(tmp_path, forbid)
    check_names(config, config.processes[0], log())


def test_before_any_event_only_model_names_are_checked(tmp_path: Path) -> None:
    def scopes(process: dict[str, Any]) -> None:
        process["tasks"]["scope_attributes"] = ["plnat"]
        process["rules"][0]["to"] = "Pay Invoices"

    config = configured(tmp_path, scopes)
    empty = log()
    empty = EventLog(events=empty.events.iloc[:0], case_attributes=empty.case_attributes.iloc[:0, :0])
    expected = "processes.0.rules.0.to: unknown activity 'Pay Invoices' (closest: 'Pay Invoice')"
    assert refusal(config, empty) == expected
