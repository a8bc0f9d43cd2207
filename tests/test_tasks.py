"""Raising improvement tasks from patterns, and keeping one task per pattern across runs."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from kaizenflow.conformance.types import Deviation, DeviationPattern, RootCause
from kaizenflow.improvement.raising import RaisingPolicy, fingerprint, propose_tasks
from kaizenflow.storage.state import StateStore

CASES = [f"c{i:02d}" for i in range(40)]
ATTRIBUTES = pd.DataFrame(
    {"supplier": ["S-17" if i < 10 else "S-01" for i in range(40)]},
    index=pd.Index(CASES, name="case_id"),
).astype("string")
AFFECTED = ["c00", "c01", "c02", "c03", "c04", "c05", "c20"]
PATTERN = DeviationPattern(
    kind="repeated", activity="Pay Invoice", cases=7, share=7 / 40,
    extra_throughput_median_hours=12.0, extra_throughput_p90_hours=30.0,
    root_causes=(RootCause("supplier", "S-17", 6, 6 / 7, (6 / 7) / (10 / 40)),),
    example_case_ids=tuple(AFFECTED[:5]),
)
POLICY = RaisingPolicy(min_cases=5, min_share=0.05, scope_attributes=["supplier"],
                       default_owner="lead@example.com",
                       owners_by_attribute={"supplier": {"*": "suppliers@example.com"}})


def propose(policy: RaisingPolicy = POLICY, pattern: DeviationPattern = PATTERN):  # type: ignore[no-untyped-def]
    return propose_tasks("p2p", [pattern], {pattern.key: AFFECTED}, ATTRIBUTES, 40, policy)


def test_a_concentrated_pattern_becomes_a_task_scoped_to_its_business_object() -> None:
    [task] = propose()
    assert task.business_object == "supplier=S-17"
    assert task.title == "Stop the rework: 'Pay Invoice' done more than once for supplier S-17"
    assert task.owner == "suppliers@example.com"
    assert task.kpi_value == pytest.approx(6 / 10)
    assert task.target_value == pytest.approx(0.3)
    assert (task.cases, task.cases_in_scope) == (6, 10)


def test_a_pattern_below_the_thresholds_raises_nothing() -> None:
    assert propose(RaisingPolicy(min_cases=8)) == []
    assert propose(RaisingPolicy(min_share=0.5)) == []


def test_without_a_scope_attribute_the_task_covers_the_whole_process() -> None:
    [task] = propose(RaisingPolicy(default_owner="lead@example.com"))
    assert task.business_object is None and task.owner == "lead@example.com"
    assert task.kpi_value == pytest.approx(7 / 40)


def test_the_fingerprint_is_stable_and_scope_specific() -> None:
    assert fingerprint("p2p", "repeated:Pay Invoice", "supplier=S-17") == propose()[0].fingerprint
    assert fingerprint("p2p", "repeated:Pay Invoice", None) != propose()[0].fingerprint


def record(store: StateStore, run_id: str, proposals: list[Any]) -> list[Any]:
    now = datetime.now(UTC)
    figures: dict[str, object] = {"cases": 40, "events": 200, "fitness": 0.9, "conforming_cases": 30}
    return store.record_run(run_id, "p2p", now, now, figures,
                            [Deviation(c, "repeated", "Pay Invoice") for c in AFFECTED], proposals)


def test_a_second_run_updates_the_task_instead_of_creating_a_twin(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    [first] = record(store, "r1", propose())
    [again] = record(store, "r2", propose())
    assert (first.change, again.change) == ("created", "unchanged")
    assert first.task.task_id == again.task.task_id
    assert len(store.list_tasks()) == 1


def test_the_baseline_is_frozen_and_the_kpi_history_grows(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    record(store, "r1", propose())
    smaller = DeviationPattern(**{**PATTERN.__dict__, "cases": 5})
    [updated] = propose_tasks("p2p", [smaller], {smaller.key: AFFECTED[2:]}, ATTRIBUTES, 40, POLICY)
    [change] = record(store, "r2", [updated])
    assert change.change == "updated"
    assert change.task.baseline_value == pytest.approx(0.6)
    assert change.task.current_value == pytest.approx(0.4)
    from kaizenflow.storage.schema import kpi_history

    with store.engine.connect() as connection:
        values = [row.value for row in connection.execute(kpi_history.select())]
    assert values == pytest.approx([0.6, 0.4])


def test_the_latest_run_deviations_are_kept_per_case(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    record(store, "r1", [])
    assert store.latest_run_id("p2p") == "r1"
    assert [d.case_id for d in store.run_deviations("r1")] == sorted(AFFECTED)


def test_only_the_newest_runs_keep_their_per_case_deviations(tmp_path: Path) -> None:
    store = StateStore(f"sqlite:///{tmp_path / 'state.db'}")
    now = datetime.now(UTC)
    figures: dict[str, object] = {"cases": 40, "events": 200, "fitness": 0.9, "conforming_cases": 30}
    for run_id in ("r1", "r2", "r3"):
        store.record_run(run_id, "p2p", now, now, figures,
                         [Deviation(c, "repeated", "Pay Invoice") for c in AFFECTED], [],
                         deviation_runs_kept=2)
        now += timedelta(days=1)
    assert store.run_deviations("r1") == []
    assert len(store.run_deviations("r2")) == len(store.run_deviations("r3")) == len(AFFECTED)
    assert store.run_ids("p2p") == ["r1", "r2", "r3"]  # the runs themselves stay


def test_the_state_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    StateStore(f"sqlite:///{tmp_path / 'state.db'}").dispose()
    assert (tmp_path / "state.db").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("database", ["sqlite", "postgres_url", "mariadb_url"])
def test_a_run_stores_its_deviation_table_row_for_row_on_every_state_database(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """The deviations go in through the driver's own executemany, in each driver's parameter style."""
    url = f"sqlite:///{tmp_path / 'state.db'}" if database == "sqlite" else request.getfixturevalue(database)
    store = StateStore(url)
    found = [Deviation(case, "sla_breach", "Approve within 2 days", "took 51.5 h; 'quoted' % text")
             for case in AFFECTED] + [Deviation("c30", "skipped", "Receive Goods")]
    table = pd.DataFrame([(d.case_id, d.kind, d.activity, d.detail) for d in reversed(found)],
                         columns=["case_id", "kind", "activity", "detail"], dtype=object)
    now = datetime.now(UTC)
    store.record_run("r1", "p2p", now, now, {"cases": 40, "events": 200, "fitness": 0.9,
                                               "conforming_cases": 32}, table, [])
    try:
        assert store.run_deviations("r1") == sorted(found, key=lambda d: (d.case_id, d.kind, d.activity))
    finally:
        store.dispose()


def test_a_scoped_task_shows_evidence_from_its_scope_only() -> None:
    everywhere = DeviationPattern(**{**PATTERN.__dict__, "example_case_ids": tuple(AFFECTED)})  # c20: S-01
    [task] = propose(pattern=everywhere)
    assert task.business_object == "supplier=S-17"
    assert task.evidence["example_case_ids"] == ["c00", "c01", "c02", "c03", "c04", "c05"]
    assert (task.evidence["cases"], task.evidence["pattern_cases"]) == (6, 7)
    assert task.evidence["share"] == pytest.approx(6 / 10)
    assert all(cause["attribute"] != "supplier" for cause in task.evidence["root_causes"])  # one value here
