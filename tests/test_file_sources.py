"""Event files of the reference data read into canonical batches, counted against pm4py's own readers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pm4py
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import r4pm.df

from kaizenflow.core.events import BATCH_COLUMNS, LOG_COLUMNS
from kaizenflow.sources.files import events_to_log, read_events_file, read_parquet_events
from kaizenflow.sources.mapping import EventMapping, SourceError


def counts(frame: pd.DataFrame, case: str, activity: str) -> tuple[int, int, int]:
    """(cases, events, activities) of a frame."""
    return int(frame[case].nunique()), len(frame), int(frame[activity].nunique())


def batch_counts(batch: pd.DataFrame) -> tuple[int, int, int]:
    return counts(batch, "case_id", "activity")


def pm4py_csv(path: Path, sep: str) -> pd.DataFrame:
    """pm4py's reading of a CSV: pandas, then format_dataframe (on a frame nobody else holds)."""
    raw = pd.read_csv(path, sep=sep)
    formatted: pd.DataFrame = pm4py.format_dataframe(
        raw.copy(), case_id="case:concept:name", activity_key="concept:name", timestamp_key="time:timestamp")
    return formatted


@pytest.mark.parametrize("name", ["running-example.xes", "receipt.xes.gz", "roadtraffic100traces.xes"])
def test_xes_counts_match_pm4py_iterparse(shared_data: Path, name: str) -> None:
    path = shared_data / "logs" / name
    reference = pm4py.read_xes(str(path), variant="iterparse", show_progress_bar=False)
    batch = read_events_file(path)
    assert batch_counts(batch) == counts(reference, "case:concept:name", "concept:name")


def test_helpdesk_counts_match_pm4py(shared_data: Path) -> None:
    path = shared_data / "logs" / "helpdesk.xes.gz"
    reference = pm4py.read_xes(str(path))
    assert batch_counts(read_events_file(path)) == counts(reference, "case:concept:name", "concept:name")


def test_a_batch_has_the_canonical_columns_and_utc_times(shared_data: Path) -> None:
    batch = read_events_file(shared_data / "logs" / "receipt.xes.gz")
    assert list(batch.columns) == BATCH_COLUMNS
    assert str(batch["timestamp"].dtype) == "datetime64[us, UTC]"


def test_the_same_file_gives_the_same_unique_ids(shared_data: Path) -> None:
    path = shared_data / "logs" / "running-example.xes"
    first, again = read_events_file(path), read_events_file(path)
    assert first["event_id"].tolist() == again["event_id"].tolist()
    assert first["event_id"].is_unique


def test_reviewing_pairs_every_start_with_its_complete(shared_data: Path) -> None:
    path = shared_data / "logs" / "reviewing.xes"
    reference = pm4py.read_xes(str(path), variant="iterparse", show_progress_bar=False)
    transitions = reference["lifecycle:transition"].value_counts()
    batch = read_events_file(path)
    starts = batch["attributes"].map(lambda text: json.loads(text).get("start_timestamp"))
    assert len(batch) == transitions["complete"]
    assert int(starts.notna().sum()) == transitions["start"]
    assert batch_counts(batch)[0::2] == (reference["case:concept:name"].nunique(),
                                         reference["concept:name"].nunique())


def test_paired_starts_never_come_after_their_complete(shared_data: Path) -> None:
    batch = read_events_file(shared_data / "logs" / "reviewing.xes")
    starts = pd.to_datetime(batch["attributes"].map(lambda t: json.loads(t).get("start_timestamp")), utc=True)
    paired = starts.notna()
    assert bool((starts[paired] <= batch["timestamp"][paired]).all())


def test_the_lifecycle_classifier_keeps_starts_and_completes_apart(shared_data: Path) -> None:
    batch = read_events_file(shared_data / "logs" / "reviewing.xes", classifier="MXML Legacy Classifier")
    assert len(batch) == 3730
    assert "invite reviewers+start" in set(batch["activity"])


def test_a_log_without_times_keeps_the_file_order(shared_data: Path) -> None:
    path = shared_data / "logs" / "a22f0n00.xes.gz"
    reference = pm4py.read_xes(str(path), variant="iterparse", show_progress_bar=False)
    log = events_to_log(read_events_file(path))
    assert not log.has_timestamps
    assert bool(log.events["timestamp"].isna().all())
    first_case = reference["case:concept:name"].iloc[0]
    expected = reference.loc[reference["case:concept:name"] == first_case, "concept:name"].tolist()
    assert log.events.loc[log.events["case_id"] == first_case, "activity"].tolist() == expected
    assert (log.case_count, log.event_count) == counts(reference, "case:concept:name", "concept:name")[:2]


def test_running_example_csv_matches_pm4py(shared_data: Path) -> None:
    path = shared_data / "logs" / "running-example.csv"
    reference = pm4py_csv(path, ",")
    assert batch_counts(read_events_file(path)) == counts(reference, "case:concept:name", "concept:name")


def test_csv_and_xes_of_the_running_example_agree_on_times(shared_data: Path) -> None:
    from_csv = read_events_file(shared_data / "logs" / "running-example.csv")
    from_xes = read_events_file(shared_data / "logs" / "running-example.xes")
    assert sorted(from_csv["timestamp"]) == sorted(from_xes["timestamp"])


def test_interval_csv_carries_start_times(shared_data: Path) -> None:
    path = shared_data / "logs" / "interval_event_log.csv"
    reference = pm4py_csv(path, ",")
    batch = read_events_file(path)
    starts = batch["attributes"].map(lambda text: json.loads(text).get("start_timestamp"))
    assert batch_counts(batch) == counts(reference, "case:concept:name", "concept:name")
    assert int(starts.notna().sum()) == int(reference["start_timestamp"].notna().sum())


def test_running_example_broken_loads_as_the_semicolon_file_it_is(shared_data: Path) -> None:
    # "Broken" is its behaviour (deviations for conformance), not its format.
    path = shared_data / "logs" / "running_example_broken.csv"
    reference = pm4py_csv(path, ";")
    assert batch_counts(read_events_file(path)) == counts(reference, "case:concept:name", "concept:name")


def test_running_example_broken_read_as_comma_separated_fails_clearly(shared_data: Path) -> None:
    path = shared_data / "logs" / "running_example_broken.csv"
    with pytest.raises(SourceError, match=r"running_example_broken\.csv: line 1 \(header\).*single column"):
        read_events_file(path, delimiter=",")


@pytest.mark.parametrize("name", ["ocel20_example.jsonocel", "ocel20_example.xmlocel",
                                  "ocel20_example.sqlite"])
def test_ocel_flattening_matches_pm4py(shared_data: Path, name: str) -> None:
    path = shared_data / "logs" / name
    reader = {".jsonocel": pm4py.read_ocel2_json, ".xmlocel": pm4py.read_ocel2_xml,
              ".sqlite": pm4py.read_ocel2_sqlite}[path.suffix]
    reference = pm4py.ocel_flattening(reader(str(path)), "Invoice")
    batch = read_events_file(path, object_type="Invoice")
    assert batch_counts(batch) == counts(reference, "case:concept:name", "concept:name")


def test_an_unknown_object_type_lists_the_known_ones(shared_data: Path) -> None:
    with pytest.raises(SourceError, match=r"no object type 'Order'; the log has 'Invoice', 'Payment', "
                                          r"'Purchase Order', 'Purchase Requisition'"):
        read_events_file(shared_data / "logs" / "ocel20_example.jsonocel", object_type="Order")


def test_a_mapping_is_refused_for_xes(shared_data: Path) -> None:
    mapping = EventMapping(source="s", case_id="case", timestamp="time", activity_column="activity")
    with pytest.raises(SourceError, match="a column mapping applies to CSV and Parquet"):
        read_events_file(shared_data / "logs" / "running-example.xes", mapping)


def test_events_to_log_orders_by_case_and_time_with_first_case_attributes(shared_data: Path) -> None:
    log = events_to_log(read_events_file(shared_data / "logs" / "running-example.csv"))
    assert list(log.events.columns) == LOG_COLUMNS
    ordered = log.events.sort_values(["case_id", "timestamp"], kind="stable").reset_index(drop=True)
    assert log.events.equals(ordered)
    assert log.case_attributes.loc["1", "Activity"] == "register request"


def parquet_rows() -> pd.DataFrame:
    return pd.DataFrame({
        "order": ["o1", "o1", "o2"],
        "step": ["create", "approve", "create"],
        "at": pd.to_datetime(["2024-03-01 09:00", "2024-03-01 10:00", "2024-07-01 09:00"]),
        "plant": ["P1", None, "P2"],
        "unused": [1, 2, 3],
    })


def test_parquet_round_trip_keeps_events_and_reads_times_in_the_source_zone(tmp_path: Path) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pandas(parquet_rows(), preserve_index=False), path)
    mapping = EventMapping(source="orders", case_id="order", timestamp="at", activity_column="step",
                           attributes=("plant",), timezone="Europe/Berlin")
    batch = read_parquet_events(path, mapping)
    assert batch["activity"].tolist() == ["create", "approve", "create"]
    assert [t.isoformat() for t in batch["timestamp"]] == [
        "2024-03-01T08:00:00+00:00", "2024-03-01T09:00:00+00:00", "2024-07-01T07:00:00+00:00"]
    assert batch["attributes"].tolist() == ['{"plant": "P1"}', "{}", '{"plant": "P2"}']


def test_parquet_reads_only_the_mapped_columns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "orders.parquet"
    pq.write_table(pa.Table.from_pandas(parquet_rows(), preserve_index=False), path)
    asked: list[list[str]] = []
    real = pq.read_table

    def spy(source: object, columns: list[str], **kwargs: object) -> pa.Table:
        asked.append(columns)
        return real(source, columns=columns, **kwargs)

    monkeypatch.setattr(pq, "read_table", spy)
    read_parquet_events(path, EventMapping(source="o", case_id="order", timestamp="at", activity="Order"))
    assert asked == [["order", "at"]]


# Small synthetic files: format detection, ids, lifecycle pairing, reader fallback.


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def times_of(tmp_path: Path, *values: str, **options: Any) -> list[str]:
    text = "case,activity,time\n" + "".join(f"c1,a{i},{v}\n" for i, v in enumerate(values))
    batch = read_events_file(write(tmp_path, "t.csv", text), **options)
    return [t.isoformat() for t in batch["timestamp"]]


def test_day_first_dates_are_recognised_by_a_day_above_12(tmp_path: Path) -> None:
    assert times_of(tmp_path, "05/01/2024 09:00", "13/01/2024 09:00:30") == [
        "2024-01-05T09:00:00+00:00", "2024-01-13T09:00:30+00:00"]


def test_month_first_dates_are_recognised_by_a_day_above_12(tmp_path: Path) -> None:
    assert times_of(tmp_path, "01/05/2024", "01/13/2024") == [
        "2024-01-05T00:00:00+00:00", "2024-01-13T00:00:00+00:00"]


def test_slashed_dates_that_could_be_either_order_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"field time: .*could be dd/mm or mm/dd.*timestamp_format"):
        times_of(tmp_path, "05/01/2024 09:00", "06/01/2024 09:00")


def test_an_explicit_timestamp_format_settles_the_order(tmp_path: Path) -> None:
    assert times_of(tmp_path, "05/01/2024 09:00", timestamp_format="%m/%d/%Y %H:%M") == [
        "2024-05-01T09:00:00+00:00"]


def test_epoch_seconds_are_read_as_utc(tmp_path: Path) -> None:
    assert times_of(tmp_path, "1704445200", "1704448800.5") == [
        "2024-01-05T09:00:00+00:00", "2024-01-05T10:00:00.500000+00:00"]


def test_iso_offsets_across_a_daylight_saving_change_are_one_format(tmp_path: Path) -> None:
    assert times_of(tmp_path, "2024-03-30T09:00:00+01:00", "2024-04-02T09:00:00+02:00") == [
        "2024-03-30T08:00:00+00:00", "2024-04-02T07:00:00+00:00"]


def test_naive_and_offset_times_mixed_are_refused(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"line 3, field time: '2024-01-05 10:00:00'"):
        times_of(tmp_path, "2024-01-05T09:00:00Z", "2024-01-05 10:00:00")


@pytest.mark.parametrize("delimiter", ["\t", "|", ";"])
def test_the_delimiter_is_detected(tmp_path: Path, delimiter: str) -> None:
    text = "\n".join(delimiter.join(row) for row in [
        ("case", "activity", "time", "note"), ("c1", "a", "2024-01-05 09:00", "x, y"),
        ("c1", "b", "2024-01-05 10:00", "z")]) + "\n"
    assert read_events_file(write(tmp_path, "d.csv", text))["activity"].tolist() == ["a", "b"]


def test_identical_events_of_a_file_keep_distinct_ids(tmp_path: Path) -> None:
    text = "case,activity,time\nc1,a,2024-01-05 09:00\nc1,a,2024-01-05 09:00\n"
    assert read_events_file(write(tmp_path, "same.csv", text))["event_id"].nunique() == 2


def test_a_duplicate_mapped_event_id_names_both_lines(tmp_path: Path) -> None:
    text = "id,case,time\n1,c1,2024-01-05 09:00\n1,c2,2024-01-05 10:00\n"
    mapping = EventMapping(source="s", case_id="case", timestamp="time", activity="Step", event_id="id")
    with pytest.raises(SourceError, match=r"line 3, field id: event id '1' already used on line 2"):
        read_events_file(write(tmp_path, "ids.csv", text), mapping)


def test_an_unknown_file_kind_is_named(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match=r"unknown kind of event file"):
        read_events_file(write(tmp_path, "log.json5", "{}"))


def xes(events: str) -> str:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<log>\n'
            '  <extension name="Concept" prefix="concept" uri="http://www.xes-standard.org/concept.xesext"/>\n'
            '  <extension name="Time" prefix="time" uri="http://www.xes-standard.org/time.xesext"/>\n'
            '  <extension name="Lifecycle" prefix="lifecycle" '
            'uri="http://www.xes-standard.org/lifecycle.xesext"/>\n'
            f'  <trace>\n    <string key="concept:name" value="c1"/>\n{events}  </trace>\n</log>\n')


def event(activity: str, time: str, transition: str) -> str:
    return (f'    <event><string key="concept:name" value="{activity}"/>'
            f'<date key="time:timestamp" value="{time}"/>'
            f'<string key="lifecycle:transition" value="{transition}"/></event>\n')


def test_a_start_without_complete_is_kept_and_reported(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "open.xes", xes(event("a", "2024-01-05T09:00:00Z", "start")
                                           + event("a", "2024-01-05T09:30:00Z", "complete")
                                           + event("b", "2024-01-05T10:00:00Z", "start")))
    with caplog.at_level("WARNING", logger="kaizenflow.sources.xes"):
        batch = read_events_file(path)
    assert batch["activity"].tolist() == ["a", "b"]
    assert json.loads(batch["attributes"].iloc[1]) == {"lifecycle:transition": "start"}
    assert "1 start event(s) have no matching complete" in caplog.text


def test_starts_pair_first_in_first_out(tmp_path: Path) -> None:
    path = write(tmp_path, "fifo.xes", xes(event("a", "2024-01-05T09:00:00Z", "start")
                                           + event("a", "2024-01-05T09:10:00Z", "start")
                                           + event("a", "2024-01-05T09:20:00Z", "complete")
                                           + event("a", "2024-01-05T09:30:00Z", "complete")))
    starts = [json.loads(t)["start_timestamp"] for t in read_events_file(path)["attributes"]]
    assert starts == ["2024-01-05T09:00:00+00:00", "2024-01-05T09:10:00+00:00"]


class PanicException(BaseException):
    """What pyo3 raises when Rust code panics: a BaseException, which `except Exception` lets through."""


def test_a_panicking_rust_reader_falls_back_to_the_python_reader(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shared_data / "logs" / "running-example.xes"
    expected = read_events_file(path)

    def panics(*args: Any, **kwargs: Any) -> Any:
        raise PanicException("Empty event not handled?!")

    monkeypatch.setattr(r4pm.df, "import_xes", panics)
    assert read_events_file(path).equals(expected)


def test_a_rust_reader_that_loses_events_is_not_trusted(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = shared_data / "logs" / "running-example.xes"
    expected = read_events_file(path)
    real = r4pm.df.import_xes

    def lossy(file_path: str, *args: Any, **kwargs: Any) -> Any:
        frame, meta = real(file_path, *args, **kwargs)
        return frame.head(5), meta

    monkeypatch.setattr(r4pm.df, "import_xes", lossy)
    assert read_events_file(path).equals(expected)


def test_a_file_batch_stores_and_reads_back_as_events_to_log_builds_it(
    shared_data: Path, tmp_path: Path
) -> None:
    from kaizenflow.storage.event_store import EventStore

    batch = read_events_file(shared_data / "logs" / "reviewing.xes", process="review")
    store = EventStore(tmp_path / "events.duckdb")
    store.append("review", "run-1", batch, {"reviewing.xes": 0})
    stored, direct = store.read_log("review"), events_to_log(batch)
    assert (stored.case_count, stored.event_count) == (direct.case_count, direct.event_count)
    assert stored.case_attributes.fillna("").equals(direct.case_attributes.fillna(""))
