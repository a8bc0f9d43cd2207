"""The analyses agree with pm4py wherever both compute the same thing, on the real logs of ../shared/data."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pandas as pd
import pytest

from kaizenflow.core.events import EventLog
from kaizenflow.mining.bottlenecks import find_bottlenecks
from kaizenflow.mining.calendar import ROUND_THE_CLOCK, BusinessCalendar
from kaizenflow.mining.organisation import resource_handovers
from kaizenflow.mining.performance import analyse_performance, case_working_hours
from kaizenflow.mining.profile import profile_log
from kaizenflow.mining.rework import analyse_rework

#: pm4py's default business hours: Monday to Friday, 07:00-17:00.
PM4PY_HOURS = BusinessCalendar(hours=(7.0, 17.0))


@cache
def xes(path: Path) -> pd.DataFrame:
    import pm4py

    frame: pd.DataFrame = pm4py.read_xes(str(path))
    return frame


def as_log(frame: pd.DataFrame, order: list[str] | None = None) -> EventLog:
    """A pm4py frame as an EventLog, with its case attributes and start times when it has them."""
    frame = frame.reset_index(drop=True)
    resources = frame["org:resource"] if "org:resource" in frame else pd.Series(pd.NA, index=frame.index)
    events = pd.DataFrame({
        "event_id": pd.Series(range(len(frame))).astype("string"),
        "case_id": frame["case:concept:name"].astype("string"),
        "activity": frame["concept:name"].astype("string"),
        "timestamp": utc(frame["time:timestamp"]),
        "resource": resources.astype("string"),
    })
    if "start_timestamp" in frame:
        events["start_timestamp"] = utc(frame["start_timestamp"])
    events = events.sort_values(order or ["case_id", "timestamp"], kind="stable").reset_index(drop=True)
    names = [c for c in frame.columns if c.startswith("case:") and c != "case:concept:name"]
    cases = frame.groupby("case:concept:name")[names].first().astype("string")
    cases.columns = [c.removeprefix("case:") for c in names]
    cases.index = pd.Index(cases.index.astype(str), name="case_id")
    return EventLog(events=events, case_attributes=cases)


def utc(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values, utc=True).astype("datetime64[us, UTC]")


def interval_frame(shared_data: Path) -> pd.DataFrame:
    frame = pd.read_csv(shared_data / "logs" / "interval_event_log.csv")
    for column in ("time:timestamp", "start_timestamp"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    return frame


def test_working_throughput_agrees_with_pm4py_business_hours(shared_data: Path) -> None:
    import pm4py

    frame = xes(shared_data / "logs" / "receipt.xes.gz")
    theirs = pm4py.get_all_case_durations(frame, business_hours=True)
    ours = sorted(case_working_hours(as_log(frame), PM4PY_HOURS) * 3600)
    assert ours == pytest.approx(theirs, abs=1e-3)


def test_edge_waits_in_working_time_agree_with_pm4py_business_hours(shared_data: Path) -> None:
    import pm4py

    frame = xes(shared_data / "logs" / "receipt.xes.gz")
    theirs, _, _ = pm4py.discover_performance_dfg(frame, business_hours=True)
    ours = {(e.source, e.target): e for e in analyse_performance(as_log(frame), PM4PY_HOURS).edges}
    assert set(ours) == set(theirs)
    for edge, stats in theirs.items():
        assert ours[edge].median_hours == pytest.approx(stats["median"] / 3600, abs=1e-6)
        assert ours[edge].total_hours == pytest.approx(stats["sum"] / 3600, abs=1e-4)


def test_hand_over_waits_sum_as_in_pm4pys_performance_map(shared_data: Path) -> None:
    import pm4py

    frame = xes(shared_data / "logs" / "receipt.xes.gz")
    theirs, _, _ = pm4py.discover_performance_dfg(frame)
    found = find_bottlenecks(as_log(frame), ROUND_THE_CLOCK, top=len(theirs))
    assert found.total_wait_hours == pytest.approx(sum(s["sum"] for s in theirs.values()) / 3600)
    for handover in found.handovers:
        assert handover.total_hours == pytest.approx(theirs[(handover.source, handover.target)]["sum"] / 3600)


def test_processing_time_agrees_with_pm4py_service_time(shared_data: Path) -> None:
    import pm4py

    frame = interval_frame(shared_data)
    theirs = pm4py.get_service_time(frame, start_timestamp_key="start_timestamp")
    found = analyse_performance(as_log(frame), ROUND_THE_CLOCK).activities
    ours = {a.activity: a.mean_processing_hours for a in found}
    assert ours == pytest.approx({activity: seconds / 3600 for activity, seconds in theirs.items()})


def test_waits_of_an_interval_log_agree_with_pm4pys_start_time_map(shared_data: Path) -> None:
    from pm4py.algo.discovery.dfg.adapters.pandas.df_statistics import get_dfg_graph

    frame = interval_frame(shared_data)
    theirs = get_dfg_graph(frame.copy(), measure="performance", start_timestamp_key="start_timestamp",
                           perf_aggregation_key="all")
    # pm4py orders events by start time; the same order here gives the same directly-follows pairs
    log = as_log(frame, order=["case_id", "start_timestamp", "timestamp"])
    ours = {(e.source, e.target): e for e in analyse_performance(log, ROUND_THE_CLOCK).edges}
    assert set(ours) == set(theirs)
    for edge, stats in theirs.items():
        assert ours[edge].median_hours == pytest.approx(stats["median"] / 3600, abs=1e-6)


def test_rework_cases_agree_with_pm4py(shared_data: Path) -> None:
    import pm4py

    for name in ("receipt.xes.gz", "helpdesk.xes.gz"):
        frame = xes(shared_data / "logs" / name)
        found = analyse_rework(as_log(frame)).activities
        ours = {a.activity: a.cases_repeating for a in found if a.cases_repeating}
        assert ours == pm4py.get_rework_cases_per_activity(frame)


def test_resource_hand_overs_agree_with_pm4pys_handover_network(shared_data: Path) -> None:
    import pm4py

    frame = xes(shared_data / "logs" / "receipt.xes.gz")
    theirs = pm4py.discover_handover_of_work_network(frame).connections
    found = resource_handovers(as_log(frame))
    total = sum(h.count for h in found)
    assert {(h.source, h.target): h.count / total for h in found} == pytest.approx(dict(theirs))


def test_the_profile_counts_agree_with_pm4py(shared_data: Path) -> None:
    import pm4py

    frame = xes(shared_data / "logs" / "receipt.xes.gz")
    found = profile_log(as_log(frame))
    assert (found.cases, found.events) == (frame["case:concept:name"].nunique(), len(frame))
    assert found.variants == len(pm4py.get_variants(frame))
    assert found.activities == len(pm4py.get_event_attribute_values(frame, "concept:name"))
    assert found.resources == len(pm4py.get_event_attribute_values(frame, "org:resource"))
    cardinality = {a.name: a.cardinality for a in found.attributes if a.level == "case"}
    assert cardinality == {name: len(pm4py.get_trace_attribute_values(frame, f"case:{name}"))
                           for name in cardinality}
