"""A week whose process differs from the weeks before is flagged, with evidence, in the report."""

from __future__ import annotations

from datetime import datetime, timedelta

from eventlogs import log_from_rows

from kaizenflow.pipeline.stages import drift

Row = tuple[str, str, str, str]


def cases(start: datetime, days: int, per_day: int, activities: str, prefix: str) -> list[Row]:
    rows = []
    for day in range(days):
        for n in range(per_day):
            moment = start + timedelta(days=day, hours=n)
            for i, activity in enumerate(activities.split()):
                rows.append((f"{prefix}{day:02d}-{n}", activity,
                             (moment + timedelta(minutes=10 * i)).strftime("%Y-%m-%dT%H:%M:%SZ"), "u"))
    return rows


def test_a_new_step_in_the_newest_week_is_flagged() -> None:
    start = datetime(2024, 1, 1, 8)
    rows = cases(start, 28, 3, "a b c", "old") + cases(start + timedelta(days=28), 7, 6, "a x b c", "new")
    evidence = drift(log_from_rows(rows))
    assert evidence and any("x" in line for line in evidence)


def test_the_same_process_every_week_is_not_flagged() -> None:
    rows = cases(datetime(2024, 1, 1, 8), 35, 3, "a b c", "c")
    assert drift(log_from_rows(rows)) == []


def test_cases_still_running_in_the_newest_week_are_not_drift() -> None:
    # the same three steps a week apart, every day for five weeks: the newest week's cases are
    # all still running, and earlier weeks were just as unfinished at that age
    start = datetime(2024, 1, 1, 8)
    rows = []
    for day in range(35):
        for n in range(6):
            first = start + timedelta(days=day, hours=n)
            steps = [(activity, first + timedelta(days=7 * i)) for i, activity in enumerate("a b c".split())]
            rows += [(f"c{day:02d}-{n}", activity, moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "u")
                     for activity, moment in steps if moment <= start + timedelta(days=35)]
    assert drift(log_from_rows(rows)) == []
