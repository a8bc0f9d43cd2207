"""One night as the flow runs it (``run_night``), without Prefect: for tests that play many nights,
with the demo configuration they start from and the late events they add."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import yaml

from kaizenflow.cli.demo import prepare_demo
from kaizenflow.conformance.types import ConformanceResult, Deviation
from kaizenflow.core.events import CASE_ID, TIMESTAMP, case_times
from kaizenflow.improvement.types import TaskChange
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.night import run_night
from kaizenflow.pipeline.resources import Resources


def stage_night(
    config: KaizenConfig, run_id: str
) -> tuple[ConformanceResult, list[Deviation], list[TaskChange]]:
    """What counts tonight, what an acceptance set aside, and what happened to each task."""
    with Resources.open(config) as resources:
        night = run_night(resources, config.processes[0], run_id=run_id)
    return night.result, night.analysed.accepted, night.changes


def demo_config(workdir: Path, **process_settings: object) -> KaizenConfig:
    """The 1,000-case demo in ``workdir`` (made once), with these process settings."""
    path = workdir / "kaizen.yaml"
    if not path.exists():
        prepare_demo(workdir, cases=1000, seed=11, days=120)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    data["processes"][0].update(process_settings)
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def late_event(config: KaizenConfig, run_id: str, inside: bool = True, attributes: str = "{}") -> str:
    """An event arriving late, between the first two events of a case that started inside the
    window, or of one that started before it; returns the case."""
    process = config.processes[0]
    with Resources.open(config) as resources:
        events = resources.events.stored_events(process.name)
        starts = case_times(events)["first"]
        cutoff = events[TIMESTAMP].max() - pd.Timedelta(days=process.window_days or 0)
        candidates = starts.index[(starts >= cutoff) if inside else (starts < cutoff)]
        case = str(candidates[len(candidates) // 2])
        times = events.loc[events[CASE_ID] == case, TIMESTAMP].sort_values()
        late = pd.DataFrame({
            "event_id": [f"late-{run_id}"], CASE_ID: [case], "activity": ["Check Invoice Again"],
            TIMESTAMP: [times.iloc[0] + (times.iloc[1] - times.iloc[0]) / 2], "resource": ["clerk"],
            "source": ["manual"], "attributes": [attributes],
        })
        resources.events.append(process.name, run_id, late, {"manual": 0})
    return case
