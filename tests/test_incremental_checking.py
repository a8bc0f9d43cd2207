"""A night checks only the cases that changed, and gets what checking the whole window gets."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest
import yaml

from kaizenflow.cli.demo import DEMO_DATABASE, prepare_demo
from kaizenflow.conformance.alignments import cached_aligner
from kaizenflow.conformance.types import CaseChecks, ConformanceResult
from kaizenflow.core.events import tuples_array
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.incremental import check_changed_cases
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import append_days
from kaizenflow.storage.case_checks import CaseLedger


def _config(workdir: Path, **process_settings: object) -> KaizenConfig:
    path, _ = prepare_demo(workdir, cases=500, seed=5, days=60)
    if process_settings:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        data["processes"][0].update(process_settings)
        path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def _both(config: KaizenConfig, run_id: str) -> tuple[ConformanceResult, ConformanceResult, int]:
    """Tonight's events stored, then the window checked incrementally and from scratch."""
    process = config.processes[0]
    resources = Resources(config)
    stages.ingest(resources, process, run_id)
    model = stages.designed_model(resources, process)
    aligner = cached_aligner(resources.alignments)
    log = stages.read_log(resources, process)
    incremental, checked = check_changed_cases(resources, process, model, aligner, log)
    full = stages.check(process, log, model, aligner)
    return incremental, full, checked


@pytest.mark.slow
def test_incremental_nights_equal_checking_the_whole_window(tmp_path: Path) -> None:
    config = _config(tmp_path)
    url = f"sqlite:///{tmp_path / DEMO_DATABASE}"
    for night in range(4):
        if night:
            append_days(url, 2)
        incremental, full, checked = _both(config, f"night-{night}")
        assert incremental == full, f"night {night}"
        assert full.cases > 0 and full.deviations and full.incomplete_cases > 0
        if night == 0:
            assert checked == full.cases
        else:  # new events, and cases whose running status flipped, but not all of them
            assert 0 < checked < full.cases / 2, f"night {night}: {checked} of {full.cases} checked"


@pytest.mark.slow
def test_a_night_without_new_events_checks_nothing_again(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _both(config, "first")
    incremental, full, checked = _both(config, "again")
    assert checked == 0 and incremental == full


@pytest.mark.slow
def test_cases_leaving_the_window_leave_the_figures(tmp_path: Path) -> None:
    config = _config(tmp_path, window_days=20)
    url = f"sqlite:///{tmp_path / DEMO_DATABASE}"
    first, _, _ = _both(config, "first")
    append_days(url, 10)
    incremental, full, _ = _both(config, "second")
    assert incremental == full
    left = {d.case_id for d in first.deviations} - {d.case_id for d in full.deviations}
    assert left, "some deviating cases should have left the 20-day window"


@pytest.mark.slow
def test_changed_rules_check_every_case_again(tmp_path: Path) -> None:
    config = _config(tmp_path)
    _both(config, "first")
    stricter = _config(tmp_path, rules=[{"name": "quick payment", "type": "case_duration", "max_hours": 24}])
    incremental, full, checked = _both(stricter, "second")
    assert checked == full.cases and incremental == full
    assert any(d.activity == "quick payment" for d in full.deviations)


@pytest.mark.slow
def test_a_lost_ledger_only_means_checking_every_case_again(tmp_path: Path) -> None:
    config = _config(tmp_path)
    first, _, _ = _both(config, "first")
    Resources(config).ledger.path.unlink()
    again, full, checked = _both(config, "again")
    assert checked == full.cases and again == full == first


def test_the_changed_cases_keep_every_attribute_column_of_the_window() -> None:
    """Tonight's few cases may all lack an attribute; a rule on it must still find the column."""
    from kaizenflow.core.events import EventLog, cases_of

    events = pd.DataFrame({"event_id": ["e1", "e2", "e3"], "case_id": ["c1", "c2", "c2"],
                           "activity": ["a", "a", "b"],
                           "timestamp": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03"], utc=True),
                           "resource": ["u", "u", "v"]})
    attributes = pd.DataFrame({"amount": ["10", pd.NA]}, index=pd.Index(["c1", "c2"], name="case_id"),
                              dtype="string")
    tonight = cases_of(EventLog(events=events, case_attributes=attributes), pd.Index(["c2"]))
    assert tonight.events["event_id"].tolist() == ["e2", "e3"]
    assert tonight.events.index.tolist() == [0, 1]
    assert list(tonight.case_attributes.columns) == ["amount"]
    assert tonight.case_attributes.index.tolist() == ["c2"]


def _case_checks(variants: dict[str, tuple[str, ...]]) -> CaseChecks:
    cases = pd.DataFrame({
        "variant": tuples_array(variants.values()), "running": False, "pending": False, "checked": True,
        "cost": 0.0, "bwc": 10.0, "fitness": 1.0,
    }, index=pd.Index(list(variants), dtype=object, name="case_id"))
    return CaseChecks(cases, CaseChecks.empty().deviations)


def test_the_ledger_keeps_each_variant_once_and_forgets_those_no_case_has(tmp_path: Path) -> None:
    ledger = CaseLedger(tmp_path / "case_checks.duckdb")
    tonight: dict[str, tuple[str, ...]] = {"c1": ("a", "b"), "c2": ("a", "b"), "c3": ("a", "c")}
    ledger.save("p", "f", pd.Series(2, index=list(tonight)), _case_checks(tonight), left=pd.Index([]))
    ledger.save("p", "f", pd.Series([3], index=["c4"]), _case_checks({"c4": ("a", "c", "d")}),
                left=pd.Index(["c3"]))  # c3 left the window
    events, kept = ledger.load("p", "f")
    assert kept.cases["variant"].to_dict() == {"c1": ("a", "b"), "c2": ("a", "b"), "c4": ("a", "c", "d")}
    assert events.to_dict() == {"c1": 2, "c2": 2, "c4": 3}
    with duckdb.connect(str(ledger.path), read_only=True) as connection:
        stored = connection.execute("SELECT variant FROM ledger_variants ORDER BY variant_id").fetchall()
    assert stored == [('["a", "b"]',), ('["a", "c", "d"]',)]
