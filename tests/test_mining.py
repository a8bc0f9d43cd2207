"""Process map, variants and throughput: exact on hand-built logs, equal to pm4py on real ones."""

from pathlib import Path

import pandas as pd
import pytest
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.discovery import discover_process_map, discover_variants, throughput

ROWS = [
    ("c1", "a", "2024-01-01T08:00:00Z", "u"), ("c1", "b", "2024-01-01T10:00:00Z", "u"),
    ("c1", "c", "2024-01-01T11:00:00Z", "u"),
    ("c2", "a", "2024-01-02T08:00:00Z", "u"), ("c2", "b", "2024-01-02T12:00:00Z", "u"),
    ("c2", "c", "2024-01-02T13:00:00Z", "u"),
    ("c3", "a", "2024-01-03T08:00:00Z", "u"), ("c3", "c", "2024-01-03T09:00:00Z", "u"),
]


def test_the_process_map_counts_activities_and_edges_with_waiting_times() -> None:
    found = discover_process_map(log_from_rows(ROWS))
    assert found.activities == {"a": 3, "c": 3, "b": 2}
    edges = {(e.source, e.target): e for e in found.edges}
    assert set(edges) == {("a", "b"), ("b", "c"), ("a", "c")}
    assert edges[("a", "b")].frequency == 2 and edges[("a", "b")].cases == 2
    assert edges[("a", "b")].median_wait_hours == pytest.approx(3.0)
    assert found.start_activities == {"a": 3} and found.end_activities == {"c": 3}


def test_variants_are_counted_most_frequent_first_with_median_throughput() -> None:
    found = discover_variants(log_from_rows(ROWS))
    assert [(v.activities, v.cases) for v in found] == [(("a", "b", "c"), 2), (("a", "c"), 1)]
    assert found[0].share == pytest.approx(2 / 3)
    assert found[0].median_throughput_hours == pytest.approx(4.0)


def test_throughput_is_first_to_last_event_per_case() -> None:
    found = throughput(log_from_rows(ROWS))
    assert found.cases == 3
    assert found.median_hours == pytest.approx(3.0)


def test_a_log_without_timestamps_reports_no_timing() -> None:
    log = log_from_rows(ROWS)
    no_times = log.events.assign(timestamp=pd.Series(pd.NaT, index=log.events.index))
    untimed = EventLog(events=no_times, case_attributes=log.case_attributes, has_timestamps=False)
    assert throughput(untimed).median_hours is None
    assert all(e.median_wait_hours is None for e in discover_process_map(untimed).edges)


def receipt_log(shared_data: Path) -> tuple[pd.DataFrame, EventLog]:
    import pm4py

    frame = pm4py.read_xes(str(shared_data / "logs" / "receipt.xes.gz"))
    events = pd.DataFrame({
        "event_id": pd.Series(range(len(frame))).astype("string"),
        "case_id": frame["case:concept:name"].astype("string"),
        "activity": frame["concept:name"].astype("string"),
        "timestamp": pd.to_datetime(frame["time:timestamp"], utc=True).astype("datetime64[us, UTC]"),
        "resource": frame["org:resource"].astype("string"),
    }).sort_values(["case_id", "timestamp"], kind="stable").reset_index(drop=True)
    cases = pd.DataFrame(index=pd.Index(sorted(events["case_id"].unique()), name="case_id"))
    return frame, EventLog(events=events, case_attributes=cases)


def test_frequencies_agree_with_pm4py_on_the_receipt_log(shared_data: Path) -> None:
    import pm4py

    frame, log = receipt_log(shared_data)
    dfg, starts, ends = pm4py.discover_dfg(frame)
    found = discover_process_map(log)
    assert {(e.source, e.target): e.frequency for e in found.edges} == dict(dfg)
    assert found.start_activities == dict(starts) and found.end_activities == dict(ends)
    variants = pm4py.get_variants(frame)
    assert {v.activities: v.cases for v in discover_variants(log)} == {
        tuple(k): int(v) for k, v in variants.items()}


def test_waiting_times_agree_with_pm4py_on_the_receipt_log(shared_data: Path) -> None:
    import pm4py

    frame, log = receipt_log(shared_data)
    performance, _, _ = pm4py.discover_performance_dfg(frame)
    found = {(e.source, e.target): e for e in discover_process_map(log).edges}
    for edge, stats in performance.items():
        assert found[edge].median_wait_hours == pytest.approx(stats["median"] / 3600, abs=1e-6)
