"""What a case costs: an event attribute summed over the case, the same from a file or the store."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from kaizenflow.core.events import CaseCost, UnknownAttributeError
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import ConfigError, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import BPMN_PATH, SimulationConfig, generate
from kaizenflow.sources.files import events_to_log, read_events_file
from kaizenflow.storage import EventStore

SAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"


@pytest.fixture
def running_example(shared_data: Path) -> pd.DataFrame:
    return read_events_file(shared_data / "logs" / "running-example.xes", process="p", source="file")


def pm4py_costs(shared_data: Path, first_only: bool = False) -> pd.Series:
    """The reference: pm4py's own reading of the file, its events' costs summed (or the first)."""
    import pm4py

    frame = pm4py.read_xes(str(shared_data / "logs" / "running-example.xes"))
    frame["Costs"] = frame["Costs"].astype("float64")  # pm4py keeps the file's text
    grouped = frame.sort_values(["case:concept:name", "time:timestamp"], kind="stable") \
        .groupby("case:concept:name")["Costs"]
    costs = (grouped.first() if first_only else grouped.sum()).astype("float64")
    named: pd.Series = costs.rename_axis("case_id").rename(None)
    return named


def test_a_case_costs_the_sum_of_its_events_costs(running_example: pd.DataFrame, shared_data: Path) -> None:
    costs = events_to_log(running_example, CaseCost("Costs")).case_costs
    assert costs is not None
    pd.testing.assert_series_equal(costs.rename(None), pm4py_costs(shared_data), check_index_type=False)


def test_the_event_store_sums_the_same_costs(running_example: pd.DataFrame, shared_data: Path,
                                             tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    store.append("p", "r1", running_example, {"file": 0})
    for per, first_only in (("event", False), ("case", True)):
        costs = store.read_log("p", cost=CaseCost("Costs", per)).case_costs  # type: ignore[arg-type]
        assert costs is not None
        pd.testing.assert_series_equal(costs.rename(None), pm4py_costs(shared_data, first_only),
                                       check_index_type=False)


def test_a_cost_attribute_no_event_carries_is_named_with_those_there_are(
    running_example: pd.DataFrame, tmp_path: Path
) -> None:
    with pytest.raises(UnknownAttributeError, match=r"'Cost': no event of the log carries it "
                                                   r"\(attributes: Activity, Costs, Resource"):
        events_to_log(running_example, CaseCost("Cost"))
    store = EventStore(tmp_path / "events.duckdb")
    store.append("p", "r1", running_example, {"file": 0})
    with pytest.raises(UnknownAttributeError, match="'Cost': no event of process p carries it"):
        store.read_log("p", cost=CaseCost("Cost"))


def test_a_night_names_the_configuration_key_of_an_unknown_cost_attribute(tmp_path: Path) -> None:
    generate(f"sqlite:///{tmp_path / 'p2p.db'}", SimulationConfig(cases=200, days=30, seed=3))
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["storage"] = {"directory": "state"}
    data["processes"][0]["cost"] = {"attribute": "handling_cost"}
    (tmp_path / "kaizen.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(BPMN_PATH, tmp_path / "purchase_to_pay.bpmn")
    config = load_config(tmp_path / "kaizen.yaml")
    stages.ingest(Resources(config), config.processes[0], "r1")
    with pytest.raises(ConfigError, match=r"^processes\.0\.cost\.attribute: cost attribute 'handling_cost'"):
        stages.read_log(Resources(config), config.processes[0])


def test_duplicate_payments_cost_what_was_paid_twice(tmp_path: Path) -> None:
    """The simulated purchase-to-pay system, with each payment's amount as its cost."""
    from kaizenflow.reports.exports import pattern_rows as export_rows
    from kaizenflow.reports.html import pattern_rows as report_rows

    generate(f"sqlite:///{tmp_path / 'p2p.db'}", SimulationConfig(cases=2000, days=90, seed=5))
    data = yaml.safe_load(SAMPLE.read_text(encoding="utf-8"))
    data["storage"] = {"directory": "state"}
    process = data["processes"][0]
    [payments] = [s for s in process["sources"] if s["name"] == "payments"]
    payments["query"] = payments["query"].replace("p.paid_by", "p.paid_by, p.amount AS paid_amount")
    payments["attributes"] = ["paid_amount"]
    process["cost"] = {"attribute": "paid_amount"}
    (tmp_path / "kaizen.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    shutil.copy(BPMN_PATH, tmp_path / "purchase_to_pay.bpmn")
    config = load_config(tmp_path / "kaizen.yaml")
    [configured] = config.processes
    stages.ingest(Resources(config), configured, "r1")
    log = stages.read_log(Resources(config), configured)
    result = stages.check(configured, log, stages.designed_model(Resources(config), configured))
    found = stages.patterns(configured, log, result)

    duplicates = next(p for p in found if p.key == "repeated:Pay Invoice")
    assert duplicates.extra_cost_median is not None and duplicates.extra_cost_median > 0
    assert duplicates.extra_cost_total is not None and duplicates.extra_cost_total > 0
    exported = next(r for r in export_rows(found)
                    if (r["kind"], r["activity"]) == ("repeated", "Pay Invoice"))
    assert exported["extra_cost_total"] == duplicates.extra_cost_total
    shown = next(r for r in report_rows(found) if r.activity == "Pay Invoice" and r.kind.startswith("Repeat"))
    assert shown.extra_cost.endswith(f"{duplicates.extra_cost_total:+,.2f} in all")
