"""A night reads only the changed cases' events, and its window equals reading the window whole."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pytest
from stage_nights import demo_config, late_event

from kaizenflow.cli.demo import DEMO_DATABASE, prepare_demo
from kaizenflow.core.events import EventLog, case_event_counts, case_times
from kaizenflow.core.window import Window
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.night import run_night
from kaizenflow.pipeline.resources import Resources
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.pipeline.window import read_window
from kaizenflow.sample_logs import append_days

#: A late event's attributes: a new value, and a key whose value is JSON null.
LATE_ATTRIBUTES = '{"plant": "P-late", "note": null}'
DERIVED = ("case_checks.duckdb", "alignments.db", "case_contributions.duckdb")


def _assert_same(window: Window, log: EventLog) -> None:
    counts = case_event_counts(log.events)
    times = case_times(log.events)
    assert window.cases.index.tolist() == counts.index.astype(str).tolist()
    assert window.cases["events"].tolist() == counts.tolist()
    assert window.cases["first"].tolist() == times["first"].tolist()
    assert window.cases["last"].tolist() == times["last"].tolist()
    pd.testing.assert_frame_equal(window.case_attributes, log.case_attributes, check_index_type=False)
    assert window.case_costs is not None and log.case_costs is not None
    pd.testing.assert_series_equal(window.case_costs, log.case_costs, check_index_type=False,
                                   check_names=False)
    assert window.event_count == log.event_count and window.has_timestamps == log.has_timestamps
    pd.testing.assert_frame_equal(window.whole().events.reset_index(drop=True), log.events)


@pytest.mark.slow
def test_windows_read_from_kept_facts_equal_reading_the_window_whole(tmp_path: Path) -> None:
    """Days pass (cases arrive, running cases go on, old ones leave the 45-day window), events
    arrive late for a case inside and one outside the window, the kept facts are deleted: every
    night's window equals reading it whole, and a night reads only the changed cases' events."""
    config = demo_config(tmp_path, window_days=45, cost={"attribute": "payment_terms_days", "per": "event"})
    url = f"sqlite:///{tmp_path / DEMO_DATABASE}"
    process = config.processes[0]
    for night in range(6):
        if night:
            append_days(url, 3)
        late = []
        if night == 2:
            late = [late_event(config, "late-in", True, LATE_ATTRIBUTES),
                    late_event(config, "late-out", False, LATE_ATTRIBUTES)]
        if night == 4:
            Resources(config).contributions.path.unlink()
        with Resources.open(config) as resources:
            stages.ingest(resources, process, f"night-{night}")
            window = read_window(resources, process)
            log = stages.read_log(resources, process)
        _assert_same(window, log)
        changed = window.changed.case_attributes.index
        assert window.changed.event_count == int(window.cases.loc[changed, "events"].sum())
        if night in (0, 4):
            assert len(changed) == window.case_count, f"night {night}"
        else:  # the new and continued cases, not the window
            assert 0 < len(changed) < window.case_count / 2, f"night {night}: {len(changed)} changed"
        if late:
            assert late[0] in changed and late[1] not in window.cases.index
            assert "note" in window.case_attributes.columns


def _digest(summary: RunSummary) -> str:
    figures = {name: getattr(summary, name) for name in (
        "cases", "events", "fitness", "conforming_cases", "incomplete_cases", "unchecked_cases",
        "throughput", "process_map", "variants", "patterns", "accepted_patterns", "drift",
        "model_hash", "has_timestamps")}
    return hashlib.sha256(repr(sorted(figures.items())).encode("utf-8")).hexdigest()


def _night(workdir: Path, run_id: str) -> tuple[str, int]:
    config = load_config(workdir / "kaizen.yaml")
    with Resources.open(config) as resources:
        night = run_night(resources, config.processes[0], run_id=run_id)
    changed = 0 if night.window is None else len(night.window.changed.case_attributes)
    return _digest(night.summary), changed


@pytest.mark.slow
def test_nights_equal_a_full_recomputation(tmp_path: Path) -> None:
    """Night after night (a late event, cases leaving the window, a changed model, deleted derived
    state), a night's findings equal those of the same night with no derived state kept."""
    work = tmp_path / "work"
    work.mkdir()
    demo_config(work, window_days=45)
    url = f"sqlite:///{work / DEMO_DATABASE}"
    for night in range(5):
        if night:
            append_days(url, 4)
        if night == 2:
            late_event(load_config(work / "kaizen.yaml"), "late", True, LATE_ATTRIBUTES)
        if night == 3:
            (work / "changed.bpmn").write_bytes((work / "purchase_to_pay.bpmn").read_bytes())
            demo_config(work, model="changed.bpmn")
        if night == 4:
            (work / "state" / "case_contributions.duckdb").unlink()
        full = tmp_path / f"full-{night}"
        shutil.copytree(work, full)
        for derived in DERIVED:
            (full / "state" / derived).unlink(missing_ok=True)
        incremental, changed = _night(work, f"night-{night}")
        recomputed, _ = _night(full, f"night-{night}")
        assert incremental == recomputed, f"night {night}"
        if night in (1, 2, 3):
            assert 0 < changed < 500, f"night {night}: {changed} changed"


@pytest.mark.slow
def test_a_replaced_event_store_means_reading_the_window_whole(tmp_path: Path) -> None:
    """Facts kept for batches the event store no longer has are not used."""
    config = demo_config(tmp_path, window_days=45)
    process = config.processes[0]
    with Resources.open(config) as resources:
        stages.ingest(resources, process, "first")
        read_window(resources, process)
    Resources(config).events.path.unlink()
    (tmp_path / DEMO_DATABASE).unlink()
    prepare_demo(tmp_path, cases=600, seed=12, days=120)
    config = demo_config(tmp_path, window_days=45)
    with Resources.open(config) as resources:
        stages.ingest(resources, process, "again")
        window = read_window(resources, process)
        log = stages.read_log(resources, process)
    assert len(window.changed.case_attributes) == window.case_count
    assert window.cases.index.tolist() == log.case_attributes.index.astype(str).tolist()
