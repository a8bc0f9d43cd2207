"""The event store: append-only, each event once, appends published all at once, columnar reads."""

from pathlib import Path

import pandas as pd
import pytest

from kaizenflow.sources.mapping import EventMapping, map_rows
from kaizenflow.storage import EventStore

MAPPING = EventMapping(source="s", case_id="case", timestamp="at", activity_column="act",
                       resource="who", attributes=("plant",))


def batch(n_cases: int = 3) -> pd.DataFrame:
    data: dict[str, list[object]] = {"case": [], "act": [], "at": [], "who": [], "plant": []}
    for c in range(n_cases):
        for i, act in enumerate(["a", "b"]):
            data["case"].append(f"c{c}")
            data["act"].append(act)
            data["at"].append(f"2024-01-0{1 + i} 10:00:00")
            data["who"].append("u")
            data["plant"].append(f"P{c % 2}" if i == 0 else None)
    return map_rows(pd.DataFrame(data), MAPPING, "p")


def test_appending_the_same_events_twice_stores_them_once(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    assert store.append("p", "r1", batch(), {"s": 0}).added == 6
    assert store.append("p", "r2", batch(4), {"s": 0}).added == 2
    assert store.count("p") == 8
    assert store.duplicate_event_ids() == 0


def test_an_event_offered_twice_in_one_batch_keeps_its_first_row(tmp_path: Path) -> None:
    """The id leaves out the attributes, so the copies can differ; the source's first one wins."""
    rows = pd.DataFrame({"case": ["c1", "c1", "c1"], "act": ["a", "a", "b"],
                         "at": ["2024-01-01 10:00:00"] * 2 + ["2024-01-02 10:00:00"],
                         "who": ["u", "u", "u"], "plant": ["P1", "P2", None]})
    store = EventStore(tmp_path / "events.duckdb")
    assert store.append("p", "r1", map_rows(rows, MAPPING, "p"), {"s": 0}).added == 2
    log = store.read_log("p")
    assert log.case_attributes.loc["c1", "plant"] == "P1"
    assert log.events["activity"].tolist() == ["a", "b"]


def test_the_nightly_log_leaves_event_ids_in_the_store(tmp_path: Path) -> None:
    """No analysis needs them; audits read them with the stored events."""
    store = EventStore(tmp_path / "events.duckdb")
    offered = batch(2)
    store.append("p", "r1", offered, {"s": 0})
    assert "event_id" not in store.read_log("p").events.columns
    stored = store.stored_events("p")
    assert stored["event_id"].tolist() == sorted(offered["event_id"])
    pairs = sorted(stored[["case_id", "activity"]].values.tolist())
    assert pairs == [["c0", "a"], ["c0", "b"], ["c1", "a"], ["c1", "b"]]


def test_a_failing_append_leaves_events_and_watermarks_as_they_were(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    store.append("p", "r1", batch(1), {"s": 0}, watermarks={"s": "2024-01-01"})
    with pytest.raises(Exception):  # noqa: B017 - any database error must roll back
        store.append("p", "r2", batch(3), {"s": 0}, watermarks={"s": None})  # type: ignore[dict-item]
    assert store.count("p") == 2
    assert store.watermarks("p") == {"s": "2024-01-01"}


def test_the_log_is_ordered_by_case_and_time_with_case_attributes(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    store.append("p", "r1", batch(2), {"s": 0})
    log = store.read_log("p")
    assert log.events[["case_id", "activity"]].values.tolist() == [
        ["c0", "a"], ["c0", "b"], ["c1", "a"], ["c1", "b"]]
    assert str(log.events["timestamp"].dtype) == "datetime64[us, UTC]"
    assert log.case_attributes["plant"].to_dict() == {"c0": "P0", "c1": "P1"}
    assert log.has_timestamps


def test_reading_a_store_that_does_not_exist_yet_gives_an_empty_log(tmp_path: Path) -> None:
    log = EventStore(tmp_path / "none.duckdb").read_log("p")
    assert log.event_count == 0 and not (tmp_path / "none.duckdb").exists()


def test_the_store_file_is_readable_by_its_owner_only(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    store.append("p", "r1", batch(1), {"s": 0})
    assert (tmp_path / "events.duckdb").stat().st_mode & 0o077 == 0


def test_a_time_window_keeps_only_cases_that_started_in_it(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    store.append("p", "r1", batch(3), {"s": 0})  # every case: a on Jan 1, b on Jan 2
    late = map_rows(pd.DataFrame({"case": ["late"], "act": ["a"], "at": ["2024-01-20 10:00:00"],
                                  "who": ["u"], "plant": ["P9"]}), MAPPING, "p")
    store.append("p", "r2", late, {"s": 0})
    assert set(store.read_log("p", window_days=5).events["case_id"]) == {"late"}
    assert store.read_log("p", window_days=5).case_attributes.index.tolist() == ["late"]
    assert store.read_log("p").case_count == 4


def test_the_source_time_zone_is_kept_beside_the_utc_time(tmp_path: Path) -> None:
    import duckdb

    store = EventStore(tmp_path / "events.duckdb")
    store.append("p", "r1", batch(1), {"s": 0}, source_timezones={"s": "Europe/Rome"})
    with duckdb.connect(str(tmp_path / "events.duckdb"), read_only=True) as connection:
        zones = connection.execute("SELECT DISTINCT source_timezone FROM events").fetchall()
    assert zones == [("Europe/Rome",)]


def test_quarantined_rows_are_recorded_with_the_batch(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    rejects = pd.DataFrame({"source": ["s"], "row": [7], "field": ["at"], "reason": ["bad time"]})
    result = store.append("p", "r1", batch(1), {"s": 0}, rejects=rejects)
    assert result.quarantined == 1
    assert store.quarantined("p")[["source", "row", "reason"]].values.tolist() == [["s", 7, "bad time"]]


def test_a_log_without_timestamps_keeps_the_order_of_its_source(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    frame = batch(1).iloc[[1, 0]].reset_index(drop=True)  # b before a, as the source had it
    frame["timestamp"] = pd.NaT
    frame["event_id"] = ["z-first", "a-second"]  # ids that would sort the other way
    store.append("p", "r1", frame, {"s": 0})
    log = store.read_log("p")
    assert log.events["activity"].tolist() == ["b", "a"]
    assert not log.has_timestamps


def test_attribute_keys_with_dots_and_colons_are_read_back(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    frame = batch(1)
    frame["attributes"] = '{"case:plant.code": "P-7"}'
    store.append("p", "r1", frame, {"s": 0})
    assert store.read_log("p").case_attributes["case:plant.code"].tolist() == ["P-7"]


def test_a_time_box_that_runs_out_during_a_query_is_reported_as_a_timeout(tmp_path: Path) -> None:
    """DuckDB drops the TimeoutError of Prefect's alarm and says "Query interrupted" instead."""
    import signal

    def time_box(*_: object) -> None:
        raise TimeoutError("time box")

    previous = signal.signal(signal.SIGALRM, time_box)
    signal.setitimer(signal.ITIMER_REAL, 0.3)
    try:
        with pytest.raises(TimeoutError, match="time box ran out"):
            with EventStore(tmp_path / "events.duckdb")._connect() as connection:
                connection.sql("SELECT count(*) FROM range(100000000000) AS a").fetchall()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
