"""A night's discovery aggregated from kept per-case contributions equals discovering the window."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from stage_nights import demo_config, late_event

from kaizenflow.cli.demo import DEMO_DATABASE
from kaizenflow.core.events import TIMESTAMP
from kaizenflow.mining.contributions import case_contributions, window_discovery, window_of
from kaizenflow.mining.discovery import discover_process_map, discover_variants, throughput
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig
from kaizenflow.pipeline.incremental import discover_with_contributions
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import append_days


def _both(config: KaizenConfig, run_id: str) -> tuple[stages.Discovery, stages.Discovery, int, int]:
    """Tonight's events stored; the window discovered from contributions and from its events; how
    many contributions were computed, and how many cases the window has."""
    process = config.processes[0]
    with Resources.open(config) as resources:
        stages.ingest(resources, process, run_id)
        log = stages.read_log(resources, process)
        aggregated, computed = discover_with_contributions(resources, process, log)
        return aggregated, stages.discover(log), computed, log.case_attributes.shape[0]


@pytest.mark.slow
def test_nights_aggregated_from_contributions_equal_discovering_the_window(tmp_path: Path) -> None:
    """Days pass (cases arrive, running cases go on, old ones leave the 45-day window), an event
    arrives late, the model changes: every night equals a full recomputation."""
    config = demo_config(tmp_path, window_days=45)
    url = f"sqlite:///{tmp_path / DEMO_DATABASE}"
    for night in range(6):
        if night:
            append_days(url, 3)
        if night == 2:
            late_event(config, f"late-{night}")
        if night == 4:
            config = demo_config(tmp_path, model=str(tmp_path / "changed.bpmn"))
            (tmp_path / "changed.bpmn").write_bytes((tmp_path / "purchase_to_pay.bpmn").read_bytes())
        aggregated, full, computed, cases = _both(config, f"night-{night}")
        assert aggregated == full, f"night {night}"
        assert full.process_map.edges and full.variants and full.throughput.median_hours
        if night:  # the new and continued cases, not the window
            assert 0 < computed < cases / 2, f"night {night}: {computed} of {cases} computed"


@pytest.mark.slow
def test_cases_leaving_the_window_are_forgotten(tmp_path: Path) -> None:
    config = demo_config(tmp_path, window_days=45)
    _both(config, "first")
    append_days(f"sqlite:///{tmp_path / DEMO_DATABASE}", 15)
    _both(config, "second")
    process = config.processes[0]
    with Resources.open(config) as resources:
        window = resources.events.case_attributes(process.name, window_days=45).index
        kept = resources.contributions.window(process.name).cases.index
    assert sorted(kept) == sorted(window.astype(str))


@pytest.mark.slow
def test_a_night_without_new_events_computes_nothing_again(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    _both(config, "first")
    aggregated, full, computed, _ = _both(config, "again")
    assert computed == 0 and aggregated == full


@pytest.mark.slow
def test_a_changed_activity_mapping_computes_every_case_again(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    _both(config, "first")
    merged = demo_config(tmp_path, activity_mapping={"Change Purchase Order": "Create Purchase Order"})
    aggregated, full, computed, cases = _both(merged, "second")
    assert computed == cases and aggregated == full
    assert "Change Purchase Order" not in aggregated.process_map.activities


@pytest.mark.slow
def test_lost_contributions_only_mean_computing_every_case_again(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    first, _, _, _ = _both(config, "first")
    Resources(config).contributions.path.unlink()
    again, full, computed, cases = _both(config, "again")
    assert computed == cases and again == full == first


@pytest.mark.slow
def test_damaged_contributions_are_set_aside_and_computed_again(tmp_path: Path) -> None:
    config = demo_config(tmp_path)
    first, _, _, _ = _both(config, "first")
    path = Resources(config).contributions.path
    path.write_bytes(b"not a DuckDB file" * 100)
    damaged, full, computed, cases = _both(config, "damaged")
    assert computed == cases and damaged == full == first
    assert list(path.parent.glob(f"{path.name}.damaged-*"))


def test_contributions_of_a_log_add_up_to_its_discovery() -> None:
    from eventlogs import log_from_rows

    log = log_from_rows([
        ("c1", "a", "2024-01-01T08:00:00Z", "u"), ("c1", "b", "2024-01-01T10:00:00Z", "u"),
        ("c1", "b", "2024-01-01T11:30:00Z", "u"), ("c2", "a", "2024-01-02T08:00:00Z", "u"),
        ("c2", "b", "2024-01-02T12:00:00Z", "u"), ("c3", "b", "2024-01-03T08:00:00Z", "v"),
    ])
    found = window_discovery(window_of(case_contributions(log)), log.has_timestamps)
    assert found.process_map == discover_process_map(log)
    assert found.variants == discover_variants(log)
    assert found.throughput == throughput(log)


def test_contributions_of_a_log_without_timestamps_add_up_to_its_discovery() -> None:
    from eventlogs import log_from_rows

    from kaizenflow.core.events import EventLog

    timed = log_from_rows([
        ("c1", "a", "2024-01-01T08:00:00Z", "u"), ("c1", "b", "2024-01-01T10:00:00Z", "u"),
        ("c2", "a", "2024-01-02T08:00:00Z", "u"), ("c2", "c", "2024-01-02T12:00:00Z", "u"),
    ])
    untimed = timed.events.copy()
    untimed[TIMESTAMP] = pd.Series(pd.NaT, index=untimed.index, dtype="datetime64[us, UTC]")
    log = EventLog(events=untimed, case_attributes=timed.case_attributes, has_timestamps=False)
    found = window_discovery(window_of(case_contributions(log)), log.has_timestamps)
    assert found.process_map == discover_process_map(log)
    assert found.variants == discover_variants(log)
    assert found.throughput == throughput(log) and found.throughput.median_hours is None
