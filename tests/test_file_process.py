"""Processes whose events come from exported files rather than a database."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import ConfigError, load_config
from kaizenflow.pipeline.resources import Resources


def configure(tmp_path: Path, sources: list[dict[str, object]], model: Path) -> Path:
    data = {
        "connections": {},
        "storage": {"directory": str(tmp_path / "state")},
        "processes": [{
            "name": "from-files", "model": str(model), "sources": sources,
            "tasks": {"owners": {"default": "owner@example.com"}},
        }],
    }
    path = tmp_path / "kaizen.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def ingest(path: Path) -> tuple[int, int]:
    config = load_config(path)
    process = config.processes[0]
    extracted = [stages.extract(Resources(config), process, source) for source in process.sources]
    added = stages.load(Resources(config), process, "r1", extracted).added
    log = stages.read_log(Resources(config), process)
    result = stages.check(process, log, stages.designed_model(Resources(config), process))
    return added, result.cases


def test_an_xes_export_is_a_source_and_rereading_it_adds_nothing(shared_data: Path, tmp_path: Path) -> None:
    path = configure(tmp_path, [{"name": "receipt", "file": str(shared_data / "logs" / "receipt.xes.gz")}],
                     shared_data / "models" / "receipt.bpmn")
    added, cases = ingest(path)
    assert cases == 1434 and added > 8000
    assert ingest(path)[0] == 0


def test_a_csv_export_with_a_column_mapping_is_a_source(shared_data: Path, tmp_path: Path) -> None:
    source: dict[str, object] = {"name": "running", "file": str(shared_data / "logs" / "running-example.csv"),
              "case_id": "case:concept:name", "activity_column": "concept:name",
              "timestamp": "time:timestamp", "resource": "org:resource"}
    path = configure(tmp_path, [source], shared_data / "models" / "running-example.pnml")
    added, cases = ingest(path)
    assert (added, cases) == (42, 6)


def test_a_file_source_cannot_also_have_a_query(tmp_path: Path) -> None:
    path = configure(tmp_path, [{"name": "x", "file": "log.csv", "query": "SELECT 1"}], tmp_path / "m.bpmn")
    with pytest.raises(ConfigError, match=r"processes\.0\.sources\.0\.query: unknown key"):
        load_config(path)
