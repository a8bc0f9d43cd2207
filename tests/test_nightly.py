"""The nightly loop end to end on a generated purchase-to-pay database, checked against its ground truth."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import pytest
import sqlalchemy as sa

from kaizenflow.cli.demo import prepare_demo
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.storage import EventStore
from kaizenflow.storage.state import StateStore

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def night(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    from kaizenflow.flows.nightly import run_nightly

    workdir = tmp_path_factory.mktemp("p2p")
    config_path, created = prepare_demo(workdir, cases=2000, seed=11)
    assert created
    first: list[RunSummary] = run_nightly(str(config_path))
    second: list[RunSummary] = run_nightly(str(config_path))
    return workdir, config_path, first[0], second[0]


def by_kind(rows) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    found: dict[str, set[str]] = defaultdict(set)
    for case_id, kind in rows:
        found[kind].add(case_id)
    return found


def test_detected_deviations_match_the_ground_truth_per_kind(night) -> None:  # type: ignore[no-untyped-def]
    workdir, config_path, first, _ = night
    engine = sa.create_engine(f"sqlite:///{workdir / 'p2p.db'}")
    with engine.connect() as connection:
        truth = by_kind(connection.execute(sa.text("SELECT case_id, kind FROM ground_truth")))
    engine.dispose()
    store = StateStore(load_config(config_path).state_url)
    detected = by_kind((d.case_id, d.kind) for d in store.run_deviations(first.run_id))
    store.dispose()
    assert set(truth) >= {"skipped", "wrong_order", "repeated", "segregation_of_duties", "sla_breach"}
    for kind, cases in truth.items():
        hits = len(cases & detected[kind])
        recall, precision = hits / len(cases), hits / max(1, len(detected[kind]))
        assert recall >= 0.95 and precision >= 0.95, f"{kind}: recall {recall:.3f}, precision {precision:.3f}"
    assert set(detected) <= set(truth), "a kind was detected that was never injected"


def test_the_first_run_ingests_every_business_event(night) -> None:  # type: ignore[no-untyped-def]
    workdir, _, first, _ = night
    engine = sa.create_engine(f"sqlite:///{workdir / 'p2p.db'}")
    tables = ["purchase_requisitions", "purchase_orders", "po_changes", "po_approvals",
              "goods_receipts", "invoices", "payments"]
    with engine.connect() as connection:
        rows = sum(connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one() for t in tables)
    engine.dispose()
    assert first.new_events == first.events == rows
    assert first.cases == 2000


def test_running_the_same_night_again_adds_no_event_no_task_and_no_run(night) -> None:  # type: ignore[no-untyped-def]
    """Nothing new: the flow repeats the first run's findings and its report (pipeline.repeat)."""
    _, config_path, first, second = night
    assert second.new_events == 0 and second.events == first.events
    assert EventStore(load_config(config_path).state_directory / "events.duckdb").duplicate_event_ids() == 0
    assert second.repeated and second.run_id == first.run_id and second.task_changes == []
    assert (second.conforming_cases, second.patterns) == (first.conforming_cases, first.patterns)
    assert second.report_path == first.report_path
    store = StateStore(load_config(config_path).state_url)
    assert len(store.list_tasks()) == len(first.task_changes) > 0
    assert store.run_ids(first.process) == [first.run_id]
    store.dispose()


def test_concentrated_deviations_become_tasks_scoped_to_their_object(night) -> None:  # type: ignore[no-untyped-def]
    _, _, first, _ = night
    scoped = {c.task.pattern_key: c.task.business_object for c in first.task_changes}
    assert scoped["skipped:Approve Purchase Order"] == "plant=P-03"
    assert scoped["repeated:Pay Invoice"] == "supplier=S-017"
    owners = {c.task.pattern_key: c.task.owner for c in first.task_changes}
    assert owners["skipped:Approve Purchase Order"] == "plant-manager-p03@example.com"


def test_alignments_on_a_process_pool_equal_those_of_one_process(night, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The variants are spread over worker processes in chunks; the deviations must not change."""
    import yaml

    from kaizenflow.flows.nightly import run_nightly

    workdir, config_path, first, _ = night
    data = yaml.safe_load(Path(config_path).read_text(encoding="utf-8"))
    data["execution"] = {"task_runner": "process", "workers": 2, "chunk_size": 10}
    data["storage"] = {"directory": str(tmp_path / "state")}
    data["reports_directory"] = str(tmp_path / "reports")
    parallel_config = workdir / "parallel.yaml"
    parallel_config.write_text(yaml.safe_dump(data), encoding="utf-8")
    [parallel] = run_nightly(str(parallel_config))
    one = StateStore(load_config(config_path).state_url)
    many = StateStore(load_config(parallel_config).state_url)
    assert many.run_deviations(parallel.run_id) == one.run_deviations(first.run_id)
    assert parallel.fitness == first.fitness
    one.dispose()
    many.dispose()


def test_each_run_writes_a_self_contained_report(night) -> None:  # type: ignore[no-untyped-def]
    _, _, first, second = night
    report = Path(first.report_path).read_text(encoding="utf-8")
    assert first.process in report and f"{first.cases:,}" in report
    assert "<svg" in report and "src=\"http" not in report
    assert "rows with approved_at after <time" in report  # the manifest says where each source was read up to
    index = Path(first.report_path).parent.parent / "index.html"
    assert first.run_id in index.read_text(encoding="utf-8")
    assert second.run_id in index.read_text(encoding="utf-8")


def test_the_flow_run_publishes_its_summary_as_prefect_artifacts(night) -> None:  # type: ignore[no-untyped-def]
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterKey

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=[
                "purchase-to-pay-summary", "purchase-to-pay-deviation-patterns"]))
        )
    kinds = {a.key: a for a in artifacts}
    assert "fitness" in str(kinds["purchase-to-pay-summary"].data)
    assert "Approve Purchase Order" in str(kinds["purchase-to-pay-deviation-patterns"].data)


def test_the_top_root_cause_of_each_concentrated_deviation_is_where_it_was_injected(night) -> None:  # type: ignore[no-untyped-def]
    _, _, first, _ = night
    top = {p.key: (p.root_causes[0].attribute, p.root_causes[0].value) for p in first.patterns
           if p.root_causes}
    assert top["skipped:Approve Purchase Order"] == ("plant", "P-03")
    assert top["repeated:Approve Purchase Order"] == ("plant", "P-02")
    assert top["segregation_of_duties:Requester does not approve the own order"] == ("plant", "P-01")
    assert top["wrong_order:Receive Invoice"] == ("supplier", "S-005")
    assert top["wrong_order:Pay Invoice"] == ("supplier", "S-011")
    assert top["repeated:Pay Invoice"] == ("supplier", "S-017")
    assert top["sla_breach:Pay within the supplier's payment terms"] == ("supplier", "S-008")


def test_a_connection_url_can_come_from_a_prefect_secret_block(night, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from prefect.blocks.system import Secret
    from pydantic import SecretStr

    from kaizenflow.pipeline.config import Connection

    workdir, _, _, _ = night
    Secret(value=SecretStr(f"sqlite:///{workdir / 'p2p.db'}")).save("kaizen-test-erp-url", overwrite=True)
    connection = Connection(url_secret="kaizen-test-erp-url")
    assert connection.resolve_url(workdir) == f"sqlite:///{workdir / 'p2p.db'}"


def test_every_stage_of_the_night_is_a_prefect_task_run_with_its_own_duration(night) -> None:  # type: ignore[no-untyped-def]
    from prefect import get_client
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName, FlowRunFilter, FlowRunFilterId

    # other tests of the session run (and fail) nights too: take this module's completed ones
    with get_client(sync_client=True) as client:
        nightly = FlowFilter(name=FlowFilterName(any_=["kaizen-nightly"]))
        flow_runs = client.read_flow_runs(flow_filter=nightly)
        runs_of_each = [client.read_task_runs(flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[f.id])))
                        for f in flow_runs if f.state is not None and f.state.is_completed()]
    [task_runs, *_] = [runs for runs in runs_of_each if any(r.name == "report" for r in runs)]
    stages = {run.name.split("-")[0]: run for run in task_runs}
    expected = {"watermarks", "extract", "load", "read", "discover", "check", "patterns", "record", "drift",
                "report"}
    assert expected <= set(stages), sorted(stages)
    for name in expected:
        state = stages[name].state
        assert state is not None and state.is_completed(), name
        assert stages[name].total_run_time.total_seconds() > 0, name
    extracts = [run.name for run in task_runs if run.name.startswith("extract-")]
    assert "extract-requisitions" in extracts and len(extracts) == 7
