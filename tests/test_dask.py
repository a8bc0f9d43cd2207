"""Alignments spread over a local Dask cluster must give the deviations of a run on threads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from kaizenflow.cli.demo import prepare_demo
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.storage.state import StateStore

pytestmark = pytest.mark.slow


def _variant(config_path: Path, name: str, execution: dict[str, Any]) -> Path:
    """The demo configuration with its own execution, state and reports: both runs start empty."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["execution"] = execution
    data["storage"] = {"directory": f"state-{name}"}
    data["reports_directory"] = f"reports-{name}"
    variant = config_path.with_name(f"{name}.yaml")
    variant.write_text(yaml.safe_dump(data), encoding="utf-8")
    return variant


def _alignment_tasks(run_id: str) -> int:
    """How many alignment tasks the flow run that produced ``run_id`` submitted."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterId,
        TaskRunFilter,
        TaskRunFilterName,
    )

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(
            artifact_filter=ArtifactFilter(key=ArtifactFilterKey(any_=["purchase-to-pay-summary"]))
        )
        [flow_run_id] = {a.flow_run_id for a in artifacts if run_id in (a.description or "")}
        assert flow_run_id is not None
        tasks = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run_id])),
            task_run_filter=TaskRunFilter(name=TaskRunFilterName(like_="align-")),
        )
    return len(tasks)


def test_alignments_on_a_dask_cluster_equal_those_on_threads(prefect_harness: None, tmp_path: Path) -> None:
    from kaizenflow.flows.nightly import run_nightly

    config_path, _ = prepare_demo(tmp_path, cases=600, seed=5)
    threads = _variant(config_path, "threads", {"task_runner": "thread", "workers": 2, "chunk_size": 10})
    dask = _variant(config_path, "dask", {"task_runner": "dask", "workers": 2, "chunk_size": 10})

    summaries: list[RunSummary] = run_nightly(str(threads)) + run_nightly(str(dask))
    one, many = summaries

    assert _alignment_tasks(many.run_id) >= 2, "the variants were not spread over the cluster"
    one_store = StateStore(load_config(threads).state_url)
    many_store = StateStore(load_config(dask).state_url)
    try:
        expected = one_store.run_deviations(one.run_id)
        assert len(expected) > 0
        assert many_store.run_deviations(many.run_id) == expected
    finally:
        one_store.dispose()
        many_store.dispose()
    assert many.fitness == one.fitness
    assert (many.cases, many.conforming_cases) == (one.cases, one.conforming_cases)
