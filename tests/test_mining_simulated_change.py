"""Comparing groups of cases on the simulator: a change injected on one plant is found, noise is not."""

from __future__ import annotations

import numpy as np
import pytest

from kaizenflow.cli.demo import prepare_demo
from kaizenflow.conformance.check import check_log
from kaizenflow.conformance.models import load_model
from kaizenflow.core.events import EventLog
from kaizenflow.mining.comparison import compare_groups
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.resources import Resources

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> tuple[EventLog, dict[str, bool]]:
    workdir = tmp_path_factory.mktemp("p2p")
    config_path, _ = prepare_demo(workdir, cases=3000, seed=3)
    config = load_config(config_path)
    process = config.processes[0]
    stages.ingest(Resources(config), process, "r")
    log = stages.read_log(Resources(config), process)
    result = check_log(log, load_model(config.path(process.model)), open_case_horizon_days=90)
    skipped = {d.case_id for d in result.deviations if d.kind == "skipped"}
    return log, {str(case): str(case) in skipped for case in log.case_attributes.index}


def plant(log: EventLog, code: str) -> list[str]:
    attributes = log.case_attributes
    return [str(c) for c in attributes.index[(attributes["plant"] == code).to_numpy()]]


def test_the_plant_where_approvals_are_skipped_stands_out(checked) -> None:  # type: ignore[no-untyped-def]
    log, skipped_approval = checked
    comparison = compare_groups(log, plant(log, "P-04"), plant(log, "P-03"), deviating=skipped_approval)
    assert comparison.deviation is not None and comparison.deviation.test.significant
    assert comparison.deviation.test.effect_size is not None
    assert comparison.deviation.test.effect_size > 0.3  # Cohen's h: a large difference


def test_random_halves_of_one_plant_differ_no_more_often_than_alpha_allows(checked) -> None:  # type: ignore[no-untyped-def]
    log, skipped_approval = checked
    cases = np.array(plant(log, "P-04") + plant(log, "P-05"))
    rng = np.random.default_rng(11)
    trials, alpha, flagged = 100, 0.05, 0
    for _ in range(trials):
        order = rng.permutation(len(cases))
        half = len(cases) // 2
        result = compare_groups(log, cases[order[:half]].tolist(), cases[order[half:]].tolist(),
                                deviating=skipped_approval, alpha=alpha)
        assert result.deviation is not None
        flagged += bool(result.deviation.test.significant)
    allowed = alpha + 3 * (alpha * (1 - alpha) / trials) ** 0.5
    assert flagged / trials <= allowed
