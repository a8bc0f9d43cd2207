"""The package's verbs, as a notebook user calls them: the same figures as the CLI and the night."""

from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pytest

import kaizenflow as kf
from kaizenflow.cli.demo import prepare_demo


def test_importing_the_package_loads_neither_pm4py_nor_prefect() -> None:
    code = "import sys, kaizenflow; print('pm4py' in sys.modules or 'prefect' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "False"


def test_every_public_verb_is_there() -> None:
    for name in kf.__all__:
        assert getattr(kf, name) is not None, name
    with pytest.raises(AttributeError, match="no attribute 'discover_everything'"):
        kf.discover_everything  # noqa: B018


def test_reading_checking_and_grouping_a_log_gives_the_cli_check_figures(shared_data: Path) -> None:
    import json

    from typer.testing import CliRunner

    from kaizenflow.cli.main import app

    log_path, model_path = shared_data / "logs" / "receipt.xes.gz", shared_data / "models" / "receipt.bpmn"
    log = kf.read_log(log_path)
    result = kf.check(log, kf.load_model(model_path))
    found = kf.patterns(log, result)
    cli = json.loads(CliRunner().invoke(app, ["check", "--log", str(log_path), "--model", str(model_path),
                                              "--json"]).output)
    assert (result.cases, result.conforming_cases, result.fitness) == (
        cli["cases"], cli["conforming_cases"], cli["fitness"])
    assert [(p.kind, p.activity, p.cases) for p in found] == [
        (p["kind"], p["activity"], p["cases"]) for p in cli["patterns"]]


@pytest.mark.slow
def test_run_night_runs_the_configured_night_without_prefect(tmp_path: Path) -> None:
    from rich.console import Console

    from kaizenflow.cli.progress import StageProgress

    config_path, _ = prepare_demo(tmp_path, cases=500, seed=3, days=30)
    shown = io.StringIO()
    [summary] = kf.run_night(config_path, progress=StageProgress(Console(file=shown, width=80)))
    lines = shown.getvalue().splitlines()
    assert [line.split()[1] for line in lines] == [
        "watermarks", *["extract"] * 7, "load", "read", "discover", "check", "patterns", "drift", "record",
        "report"]
    assert all(line.endswith(" s") for line in lines)
    assert summary.cases == 500 and summary.new_events > 0 and summary.patterns
    assert summary.report_path is not None and Path(summary.report_path).is_file()
    [again] = kf.run_night(config_path, "purchase-to-pay", report=False)
    assert again.new_events == 0 and again.report_path is None
    assert again.conforming_cases == summary.conforming_cases
