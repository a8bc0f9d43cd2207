"""Drift of the newest period: new activities and edges with their cases, and shifts of the variant mix."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest
from eventlogs import log_from_rows

from kaizenflow.core.events import EventLog
from kaizenflow.mining.drift import case_periods, detect_drift


def log_of(traces: dict[str, str], start: str = "2024-01-01") -> EventLog:
    rows = []
    for number, (case, trace) in enumerate(traces.items()):
        first = pd.Timestamp(start, tz="UTC") + pd.Timedelta(minutes=number)
        for i, activity in enumerate(trace.split()):
            rows.append((case, activity, (first + pd.Timedelta(hours=i)).isoformat(), "u"))
    return log_from_rows(rows)


def mix(prefix: str, counts: dict[str, int]) -> dict[str, str]:
    traces: dict[str, str] = {}
    for trace, count in counts.items():
        traces.update({f"{prefix}{len(traces) + i:05d}": trace for i in range(count)})
    return traces


def test_new_activities_and_edges_are_flagged_with_the_cases_showing_them() -> None:
    previous = mix("p", {"a b c": 50})
    newest = mix("n", {"a b c": 45, "a b x c": 5})
    found = detect_drift(log_of(previous | newest), list(newest), list(previous))
    assert [(b.activities, b.cases) for b in found.new_activities] == [(("x",), 5)]
    assert [b.activities for b in found.new_edges] == [("b", "x"), ("x", "c")]
    assert found.new_activities[0].example_cases == ("n00045", "n00046", "n00047")
    assert found.drifted and any("new activity 'x'" in line for line in found.evidence)


def test_a_large_shift_of_the_variant_mix_is_drift() -> None:
    previous = mix("p", {"a b c": 80, "a c b": 20})
    newest = mix("n", {"a b c": 30, "a c b": 70})
    found = detect_drift(log_of(previous | newest), list(newest), list(previous))
    assert found.new_activities == () and found.new_edges == ()
    assert found.variant_mix_drifted and found.drifted
    assert found.variant_shift.test.effect_size is not None and found.variant_shift.test.effect_size > 0.4
    assert any("largest change: 'a b c' 80% -> 30%" in line for line in found.evidence)


def test_the_same_mix_in_both_periods_is_no_drift() -> None:
    previous = mix("p", {"a b c": 80, "a c b": 20})
    newest = mix("n", {"a b c": 40, "a c b": 10})
    found = detect_drift(log_of(previous | newest), list(newest), list(previous))
    assert not found.drifted and found.evidence == ()
    assert found.variant_shift.test.p_value is not None and found.variant_shift.test.p_value > 0.99


def test_a_significant_but_tiny_shift_is_not_drift() -> None:
    previous = mix("p", {"a b c": 2000, "a c b": 2000})
    newest = mix("n", {"a b c": 2240, "a c b": 1760})  # 50 % -> 56 %: p < 1e-7, Cramér's V = 0.06
    found = detect_drift(log_of(previous | newest), list(newest), list(previous))
    assert found.variant_shift.test.significant
    assert not found.variant_mix_drifted and not found.drifted


def test_periods_must_be_disjoint_cases_of_the_log() -> None:
    log = log_of({"c1": "a b", "c2": "a b"})
    with pytest.raises(ValueError, match="both in the newest and in the previous"):
        detect_drift(log, ["c1", "c2"], ["c2"])
    with pytest.raises(ValueError, match="not in the log"):
        detect_drift(log, ["c1"], ["c9"])


def test_cases_fall_into_the_week_they_started_in() -> None:
    log = log_of({"c1": "a b", "c2": "a b"}, start="2024-01-07T23:58:00")  # a Sunday, two minutes to Monday
    assert case_periods(log, "week").to_dict() == {"c1": date(2024, 1, 1), "c2": date(2024, 1, 1)}
    assert case_periods(log, "week", timezone="Europe/Berlin").to_dict() == {
        "c1": date(2024, 1, 8), "c2": date(2024, 1, 8)
    }
