"""Property tests: random logs never crash the check, deviations agree with alignment costs,
random CSV input is either read or refused with a SourceError, never anything else."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tempfile import TemporaryDirectory

from eventlogs import Row, log_from_rows, sequential_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaizenflow.conformance.check import check_log
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import INSERTED, REPEATED, SKIPPED, WRONG_ORDER
from kaizenflow.sources.delimited import read_csv_events
from kaizenflow.sources.mapping import SourceError

ACTIVITIES = ("a", "b", "c", "d")
MODEL: DesignedModel = sequential_model(*ACTIVITIES)
START = datetime(2024, 1, 1, tzinfo=UTC)
MOVE_COST = 10_000  # pm4py's standard cost of one log or model move; synchronous moves are free

PROPERTY = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# a case is a short sequence over the model's activities and one the model does not know
traces = st.lists(st.sampled_from((*ACTIVITIES, "x")), min_size=1, max_size=7)
logs = st.lists(traces, min_size=1, max_size=6)


def rows_of(cases: list[list[str]]) -> list[Row]:
    rows: list[Row] = []
    for number, trace in enumerate(cases):
        for step, activity in enumerate(trace):
            moment = START + timedelta(days=number, hours=step)
            rows.append((f"c{number}", activity, moment.isoformat(), f"r{step % 2}"))
    return rows


@PROPERTY
@given(logs)
def test_a_random_log_is_checked_without_crashing_and_every_case_is_counted(cases: list[list[str]]) -> None:
    result = check_log(log_from_rows(rows_of(cases)), MODEL, open_case_horizon_days=0)
    assert result.cases == len(cases)
    assert 0 <= result.conforming_cases <= result.cases
    assert result.unchecked_cases == 0
    assert result.fitness is not None and 0.0 <= result.fitness <= 1.0
    conforming = {f"c{n}" for n, trace in enumerate(cases) if tuple(trace) == ACTIVITIES}
    deviating = {d.case_id for d in result.deviations}
    assert conforming.isdisjoint(deviating)
    assert deviating | conforming == {f"c{n}" for n in range(len(cases))}


@PROPERTY
@given(logs)
def test_deviation_moves_of_a_finished_case_equal_its_alignment_cost(cases: list[list[str]]) -> None:
    """skipped + inserted + repeated + 2 x wrong_order = deviating moves = cost // 10000."""
    result = check_log(log_from_rows(rows_of(cases)), MODEL, open_case_horizon_days=0)
    assert result.incomplete_case_ids == frozenset()
    cost_of = {alignment.activities: alignment.cost for alignment in result.alignments}
    weights = {SKIPPED: 1, INSERTED: 1, REPEATED: 1, WRONG_ORDER: 2}
    for number, trace in enumerate(cases):
        case_id = f"c{number}"
        implied = sum(weights[d.kind] for d in result.deviations if d.case_id == case_id)
        cost = cost_of[tuple(trace)]
        assert cost is not None
        assert implied == int(cost) // MOVE_COST, (trace, result.deviations)


def read(data: bytes) -> int:
    with TemporaryDirectory() as directory:
        path = Path(directory) / "events.csv"
        path.write_bytes(data)
        try:
            return len(read_csv_events(path, process="p"))
        except SourceError as error:
            assert str(path) in str(error)  # a refusal names the file
            return -1


@PROPERTY
@given(st.binary(max_size=400))
def test_random_bytes_are_read_or_refused_with_a_source_error(data: bytes) -> None:
    assert read(data) >= -1


cells = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["2024-01-02 10:00:00", "2024-13-40", "", "NaN", "1e400", "0", "'\"",
                     "2024-01-02T10:00Z"]),
)


@PROPERTY
@given(
    st.lists(st.sampled_from(["case_id", "activity", "timestamp", "resource", "case_id", "x", ""]),
             min_size=1, max_size=5),
    st.lists(st.lists(cells, min_size=0, max_size=6), max_size=6),
    st.sampled_from([",", ";", "\t", "|"]),
)
def test_random_rows_are_read_or_refused_with_a_source_error(
    header: list[str], rows: list[list[str]], delimiter: str
) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(header)
    writer.writerows(rows)
    outcome = read(buffer.getvalue().encode("utf-8", errors="surrogatepass"))
    assert outcome == -1 or outcome <= len(rows)


@PROPERTY
@given(st.lists(st.tuples(st.sampled_from(["c1", "c2", "c 3"]), st.sampled_from(ACTIVITIES),
                          st.integers(min_value=0, max_value=10_000)), min_size=1, max_size=8))
def test_well_formed_random_rows_are_all_read(records: list[tuple[str, str, int]]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["case_id", "activity", "timestamp"])
    for case, activity, minutes in records:
        writer.writerow([case, activity, (START + timedelta(minutes=minutes)).strftime("%Y-%m-%d %H:%M:%S")])
    assert read(buffer.getvalue().encode()) == len(records)
