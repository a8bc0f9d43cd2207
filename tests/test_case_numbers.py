"""Numbering the cases of a log and their first and last times: the same as pandas' group-by on the
case text, whether events come in case order (as the event store gives them) or not."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from kaizenflow.core.events import case_codes, case_event_counts, case_times


def _events(ordered: bool | str) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    cases = np.repeat([f"C-{i:03d}" for i in range(300)], rng.integers(1, 6, size=300))
    seconds = pd.to_timedelta(rng.integers(0, 10**6, len(cases)), "s")
    events = pd.DataFrame({"case_id": pd.array(cases, dtype="string"),
                           "timestamp": pd.Timestamp("2026-01-01", tz="UTC") + seconds})
    if ordered == "in time":  # as the event store gives them
        return events.sort_values(["case_id", "timestamp"], ignore_index=True)
    return events if ordered else events.sample(frac=1, random_state=2).reset_index(drop=True)


@pytest.mark.parametrize("ordered", [True, False], ids=["in case order", "shuffled"])
def test_cases_are_numbered_as_pandas_factorizes_them(ordered: bool) -> None:
    events = _events(ordered)
    codes, ids = case_codes(events)
    expected_codes, expected_ids = pd.factorize(events["case_id"])
    assert codes.tolist() == expected_codes.tolist()
    assert ids.tolist() == expected_ids.tolist() and ids.name == "case_id"


@pytest.mark.parametrize("ordered", ["in time", True, False],
                         ids=["in case and time order", "in case order", "shuffled"])
def test_first_and_last_times_are_those_of_a_group_by_on_the_case(ordered: bool | str) -> None:
    events = _events(ordered)
    expected = events.groupby("case_id", sort=True)["timestamp"].agg(["min", "max"])
    found = case_times(events)
    assert found.index.tolist() == expected.index.tolist()
    assert found["first"].tolist() == expected["min"].tolist()
    assert found["last"].tolist() == expected["max"].tolist()
    assert found["first"].dtype == expected["min"].dtype and found.index.name == "case_id"


def test_an_empty_log_has_no_case_numbers_and_no_times() -> None:
    events = _events(True).iloc[:0]
    codes, ids = case_codes(events)
    assert len(codes) == 0 and len(ids) == 0
    assert case_times(events).empty


@pytest.mark.parametrize("ordered", [True, False], ids=["in case order", "shuffled"])
def test_event_counts_are_those_of_a_group_by_on_the_case_in_the_order_of_case_times(ordered: bool) -> None:
    events = _events(ordered)
    counts = case_event_counts(events)
    expected = events.groupby("case_id", sort=True).size()
    assert counts.index.tolist() == expected.index.tolist() == case_times(events).index.tolist()
    assert counts.tolist() == expected.tolist()
