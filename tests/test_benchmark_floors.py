"""The benchmark's floors do the work they stand for: the same variants as the check finds."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from benchmarks.floors import read_variants
from kaizenflow.core.events import case_variants


def test_the_parquet_floor_groups_the_same_variants_as_the_check(tmp_path: Path) -> None:
    traces = {"c2": "abdc", "c1": "abcd", "c3": "abcd", "c4": "a", "c5": "abcd", "c6": "ba", "c7": "ab"}
    rows = [(case, activity, pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=i))
            for case, trace in traces.items() for i, activity in enumerate(trace)]
    events = pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])
    shuffled = events.sample(frac=1, random_state=3)  # neither in case nor in time order
    shuffled.to_parquet(tmp_path / "events.parquet")

    found = read_variants(str(tmp_path / "events.parquet"))

    assert found == {"cases": 7, "variants": len(case_variants(events).sequences)}
    assert found["variants"] == 5
