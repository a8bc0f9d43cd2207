"""Conformance on logs played out of a designed net with known noise: the ground truth of checking."""

from __future__ import annotations

from pathlib import Path

import pytest

from kaizenflow.conformance.check import check_log
from kaizenflow.conformance.models import load_model
from kaizenflow.conformance.types import ConformanceResult
from kaizenflow.sources.files import events_to_log, read_events_file

NOISE = ["00", "05", "10", "20", "50"]


@pytest.fixture(scope="module")
def results(shared_data: Path) -> dict[str, ConformanceResult]:
    model = load_model(shared_data / "models" / "a22.pnml")
    return {
        noise: check_log(
            events_to_log(read_events_file(shared_data / "logs" / f"a22f0n{noise}.xes.gz")),
            model, open_case_horizon_days=1e-9,
        )
        for noise in NOISE
    }


def test_every_case_of_the_noise_free_log_conforms(results: dict[str, ConformanceResult]) -> None:
    assert results["00"].conforming_cases == results["00"].cases == 1000
    assert results["00"].deviations == [] and results["00"].average_trace_fitness == 1.0


def test_the_share_of_conforming_cases_falls_as_noise_grows(results: dict[str, ConformanceResult]) -> None:
    shares = [results[noise].conforming_share for noise in NOISE]
    assert all(earlier > later for earlier, later in zip(shares, shares[1:], strict=False)), shares


def test_fitness_equals_pm4pys_to_1e9(shared_data: Path, results: dict[str, ConformanceResult]) -> None:
    import pm4py

    net, im, fm = pm4py.read_pnml(str(shared_data / "models" / "a22.pnml"))
    log = pm4py.read_xes(str(shared_data / "logs" / "a22f0n05.xes.gz"), return_legacy_log_object=True)
    reference = pm4py.fitness_alignments(log, net, im, fm, multi_processing=False)
    assert results["05"].fitness == pytest.approx(reference["log_fitness"], abs=1e-9)
    assert results["05"].average_trace_fitness == pytest.approx(reference["average_trace_fitness"], abs=1e-9)
