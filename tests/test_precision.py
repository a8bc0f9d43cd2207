"""Log precision: exactly pm4py's align-ETConformance, computed in a fraction of its time."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from eventlogs import log_from_rows, sequential_model

from kaizenflow.conformance.models import DesignedModel, load_model
from kaizenflow.conformance.precision import log_precision, variant_precision
from kaizenflow.core.events import LOG_COLUMNS, EventLog

MODELS = Path(__file__).parent / "models"


def xes(path: Path, cases: int | None = None) -> tuple[EventLog, pd.DataFrame]:
    """Our event log of an XES file and the pm4py frame it came from (timestamps added if absent)."""
    import pm4py

    frame = pm4py.read_xes(str(path))
    if cases is not None:
        frame = frame[frame["case:concept:name"].isin(frame["case:concept:name"].unique()[:cases])]
    if "time:timestamp" not in frame:  # pm4py insists on a date column; the order is the file's
        frame = frame.assign(**{"time:timestamp": pd.Timestamp("2024-01-01", tz="UTC")
                                + pd.to_timedelta(range(len(frame)), unit="s")})
    events = pd.DataFrame({
        "event_id": [f"e{i}" for i in range(len(frame))],
        "case_id": frame["case:concept:name"].astype("string").to_numpy(),
        "activity": frame["concept:name"].astype("string").to_numpy(),
        "timestamp": pd.to_datetime(frame["time:timestamp"], utc=True).to_numpy(),
        "resource": pd.array([None] * len(frame), dtype="string"),
    })[LOG_COLUMNS]
    cases_index = pd.Index(sorted(events["case_id"].unique()), name="case_id")
    return EventLog(events=events, case_attributes=pd.DataFrame(index=cases_index)), frame


def pm4py_precision(frame: pd.DataFrame, model: DesignedModel) -> float:
    import pm4py

    value: float = pm4py.precision_alignments(  # multiprocessing crashes on 2-core machines
        frame, *model.pm4py_net(), multi_processing=False
    )
    return value


def test_a_model_allowing_only_what_the_log_does_is_fully_precise() -> None:
    log = log_from_rows([("c", a, f"2024-01-01T0{i}:00:00Z", "u") for i, a in enumerate("abc")])
    result = log_precision(log, sequential_model("a", "b", "c"))
    assert (result.value, result.activated, result.escaping) == (1.0, 3, 0)


def test_a_choice_the_log_never_takes_is_an_escaping_edge() -> None:
    """Start: Check order is allowed and done. After it Reject and Ship are allowed, only Reject done."""
    model = load_model(MODELS / "pool_lanes.bpmn")
    result = variant_precision(model, {("Check order", "Reject order"): 2})
    assert (result.activated, result.escaping) == (2 * 1 + 2 * 2, 2 * 1)
    assert result.value == pytest.approx(2 / 3, abs=1e-12)


def test_prefixes_the_model_cannot_replay_are_left_out_and_counted() -> None:
    result = variant_precision(sequential_model("a", "b", "c"), {("a", "b", "c"): 1, ("x", "a", "b", "c"): 1})
    assert result.unfit_prefixes == 3  # x, x a, x a b
    assert result.value == 1.0


@pytest.mark.parametrize("model_file", ["running-example.pnml", "running-example.bpmn"])
def test_precision_equals_pm4py_on_the_running_example(shared_data: Path, model_file: str) -> None:
    model = load_model(shared_data / "models" / model_file)
    log, frame = xes(shared_data / "logs" / "running-example.xes")
    assert log_precision(log, model).value == pytest.approx(pm4py_precision(frame, model), abs=1e-9)


@pytest.mark.parametrize("model_file, log_file, cases", [
    ("a22.pnml", "a22f0n05.xes.gz", 60),  # pm4py: ~3 s
    ("receipt.bpmn", "receipt.xes.gz", 300),  # pm4py: ~1 s
])
def test_precision_equals_pm4py_on_the_first_cases_of_a_real_log(
    shared_data: Path, model_file: str, log_file: str, cases: int
) -> None:
    model = load_model(shared_data / "models" / model_file)
    log, frame = xes(shared_data / "logs" / log_file, cases)
    assert log_precision(log, model).value == pytest.approx(pm4py_precision(frame, model), abs=1e-9)


@pytest.mark.parametrize("model_file, log_file, pm4py_value", [
    # pm4py 2.7.23 precision_alignments(multi_processing=False) on the whole log: 65-107 s
    ("a22.pnml", "a22f0n05.xes.gz", 0.7315820612945214),
    # the same on receipt.bpmn as we convert it (pm4py's own conversion gives the same value): 14-40 s
    ("receipt.bpmn", "receipt.xes.gz", 0.1572879918261909),
])
def test_precision_equals_the_value_pm4py_computed_for_a_whole_log(
    shared_data: Path, model_file: str, log_file: str, pm4py_value: float
) -> None:
    model = load_model(shared_data / "models" / model_file)
    log, _ = xes(shared_data / "logs" / log_file)
    assert log_precision(log, model).value == pytest.approx(pm4py_value, abs=1e-9)
