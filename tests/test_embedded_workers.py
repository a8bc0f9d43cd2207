"""Embedded mode with worker processes: the workers report to the flow's one Prefect server."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kaizenflow.cli.demo import prepare_demo

pytestmark = pytest.mark.slow


def test_process_pool_workers_report_to_the_flows_embedded_server(tmp_path: Path) -> None:
    """Without it every worker starts a server of its own on the same database (and may time out)."""
    config_path, _ = prepare_demo(tmp_path / "demo", cases=300, seed=3)
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["execution"] = {"task_runner": "process", "workers": 2, "chunk_size": 4}
    config_path.write_text(yaml.safe_dump(data), encoding="utf-8")
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    environment["PREFECT_LOGGING_LEVEL"] = "INFO"  # each server start is logged at INFO
    kaizen = Path(sys.executable).with_name("kaizen")
    night = subprocess.run([str(kaizen), "run", "--prefect", "--config", str(config_path), "--json"],
                           env=environment, capture_output=True, text=True, timeout=600, check=False)
    output = night.stdout + night.stderr
    assert night.returncode == 0, output[-3000:]
    assert output.count("Starting temporary server") == 1, output[-3000:]
    assert "align-4-variants" in output, "the variants were not sent to the workers"
