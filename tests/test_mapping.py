"""Mapping source rows to canonical events: UTC times, deterministic ids, errors that name the row."""

import hashlib

import numpy as np
import pandas as pd
import pytest

from kaizenflow.sources.mapping import (
    EventMapping,
    SeenIds,
    SourceError,
    _digests,
    _key_times,
    map_rows,
    to_utc,
)

MAPPING = EventMapping(source="orders", case_id="order", timestamp="at", activity="Place order",
                       resource="user", event_id="id", attributes=("plant",), timezone="Europe/Berlin")


def rows(**overrides: list[object]) -> pd.DataFrame:
    data: dict[str, list[object]] = {"id": [1, 2], "order": ["o1", "o2"],
                                     "at": ["2024-03-01 09:00:00", "2024-07-01 09:00:00"],
                                     "user": ["ann", "bob"], "plant": ["P1", None]}
    data.update(overrides)
    return pd.DataFrame(data)


def test_naive_times_are_read_in_the_source_zone_and_stored_in_utc() -> None:
    events = map_rows(rows(), MAPPING, "p2p")
    assert [t.isoformat() for t in events["timestamp"]] == [
        "2024-03-01T08:00:00+00:00",  # CET, UTC+1
        "2024-07-01T07:00:00+00:00",  # CEST, UTC+2
    ]


def test_event_ids_are_deterministic_and_depend_on_the_process() -> None:
    first = map_rows(rows(), MAPPING, "p2p")["event_id"].tolist()
    again = map_rows(rows(), MAPPING, "p2p")["event_id"].tolist()
    other = map_rows(rows(), MAPPING, "o2c")["event_id"].tolist()
    assert first == again
    assert set(first).isdisjoint(other)


def test_event_ids_are_the_sha256_of_their_key_as_stored_events_have_always_been() -> None:
    """Ids already stored must come out again, or tonight's copy of an event would not be known."""
    mapping = EventMapping(source="erp", case_id="case", timestamp="at", activity_column="act",
                           resource="who")
    source_rows = pd.DataFrame({
        "case": ["PR-1", "ünï日本", "a\x00b", "PR-2"], "act": ["Create", "Approve", "Pay", "Pay"],
        "at": ["2024-02-29 10:00:00.123456", "0999-12-31 23:59:59.5", "9999-12-31 23:59:59.999999",
               "1970-01-01 00:00:00"],
        "who": ["ann", None, "bob", ""],
    })
    events = map_rows(source_rows, mapping, "p2p")
    # the formula of every release so far: pandas' strftime over the column, then hashlib
    times = pd.to_datetime(source_rows["at"], format="ISO8601", utc=True).dt.strftime("%Y-%m-%dT%H:%M:%S.%f")
    keys = ["p2p\x1ferp\x1f" + "\x1f".join([case, act, at, who if isinstance(who, str) else ""])
            for case, act, at, who in zip(source_rows["case"], source_rows["act"], times, source_rows["who"],
                                          strict=True)]
    assert events["event_id"].tolist() == [hashlib.sha256(k.encode("utf-8")).hexdigest()[:32] for k in keys]


def test_event_ids_given_by_the_source_are_the_sha256_of_process_source_and_id() -> None:
    events = map_rows(rows(), MAPPING, "p2p")
    assert events["event_id"].tolist() == [hashlib.sha256(f"p2p\x1forders\x1f{i}".encode()).hexdigest()[:32]
                                           for i in (1, 2)]


def test_times_in_event_keys_read_as_strftime_writes_them_in_every_year() -> None:
    times = pd.Series(pd.to_datetime(
        ["0001-01-01 00:00:00", "0999-12-31 23:59:59.5", "1000-01-01", "1969-12-31 23:59:59.999999",
         "1900-03-01 00:00:00.000001", "2262-04-12", "9999-12-31 23:59:59.999999"],
        format="ISO8601", utc=True,
    )).astype("datetime64[us, UTC]")
    expected = times.dt.strftime("%Y-%m-%dT%H:%M:%S.%f").tolist()
    assert _key_times(times).to_pylist() == expected


def test_attributes_keep_only_present_values() -> None:
    events = map_rows(rows(), MAPPING, "p2p")
    assert events["attributes"].tolist() == ['{"plant": "P1"}', "{}"]


def test_a_missing_mapped_column_is_named() -> None:
    with pytest.raises(SourceError, match=r"source orders: mapped column\(s\) user not in the result"):
        map_rows(rows().drop(columns=["user"]), MAPPING, "p2p")


def test_an_unparseable_timestamp_names_its_row_and_field() -> None:
    with pytest.raises(SourceError, match=r"source orders: row 2, field at: .*'yesterday'"):
        map_rows(rows(at=["2024-03-01 09:00:00", "yesterday"]), MAPPING, "p2p")


def test_an_empty_case_id_names_its_row() -> None:
    with pytest.raises(SourceError, match=r"row 2, field order \(case_id\) is empty"):
        map_rows(rows(order=["o1", None]), MAPPING, "p2p")


def test_duplicate_source_ids_are_refused() -> None:
    with pytest.raises(SourceError, match=r"row 2, field id: duplicate event id '1'"):
        map_rows(rows(id=[1, 1]), MAPPING, "p2p")


def test_quarantine_sets_bad_rows_aside_and_keeps_the_good_ones() -> None:
    from kaizenflow.sources.mapping import map_rows_quarantining

    bad = rows(id=[1, 2, 2, 4], order=["o1", None, "o3", "o4"],
               at=["2024-03-01 09:00:00", "2024-03-01 10:00:00", "2024-03-01 11:00:00", "soon"],
               user=["a", "b", "c", "d"], plant=["P1", "P1", "P1", "P1"])
    events, rejects = map_rows_quarantining(bad, MAPPING, "p2p")
    assert events["case_id"].tolist() == ["o1"]
    assert rejects.values.tolist() == [
        ["orders", 2, "order", "case_id is empty"],
        ["orders", 3, "id", "duplicate event id"],
        ["orders", 4, "at", "missing or unparseable timestamp"],
    ]


def test_ids_seen_in_earlier_chunks_are_recognised_by_their_digits() -> None:
    ids = map_rows(pd.DataFrame({"case": [f"c{i}" for i in range(50)], "at": ["2024-01-01T10:00:00"] * 50,
                                 "id": range(50)}),
                   EventMapping(source="s", case_id="case", timestamp="at", activity="A", event_id="id"),
                   "p")["event_id"]
    seen = SeenIds()
    seen.add(ids.iloc[:20])
    assert seen.contains(ids).tolist() == [True] * 20 + [False] * 30
    assert (_digests(ids) == np.array([bytes.fromhex(i) for i in ids], dtype="S16")).all()


@pytest.mark.parametrize("text", [
    "2024-03-01 09:00:00", "2024-03-01T09:00:00", "2024-03-01 09:00", "2024-03-01", "2024-03-01 09:00:00.5",
    "2024-03-01 09:00:00.123456", "2024-03-01 09:00:00Z", "2024-03-01 09:00:00+02:00",
    "2024-03-01 09:00:00.1234567", "2024-3-1 09:00:00", "20240301 09:00:00", "0001-01-01 00:00:00",
])
def test_times_given_as_text_are_read_as_pandas_reads_iso_8601(text: str) -> None:
    expected = pd.to_datetime(pd.Series([text] * 3), format="ISO8601")
    if expected.dt.tz is None:
        expected = expected.dt.tz_localize("Europe/Berlin")
    got = to_utc(pd.Series([text] * 3, index=[4, 7, 9]), "Europe/Berlin", "s", "at")  # rows kept of more
    assert got.index.tolist() == [4, 7, 9]
    assert got.tolist() == expected.dt.tz_convert("UTC").astype("datetime64[us, UTC]").tolist()
