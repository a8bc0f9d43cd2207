"""Runs recorded but not yet reported: the record a killed night leaves for its rerun to complete.

A night records its run (figures, deviations, tasks, KPIs) in one transaction and writes its
report after it. Killed in between, the run is stored but unreported; the scheduler's rerun then
finds nothing new to load, and recording again would store the same night twice (one more run,
one more KPI value per task). Instead the record's transaction also writes what the report needs
of it (the task changes and the load's figures) here, the rerun completes that run, and writing
the report removes the row.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from kaizenflow.improvement.types import TaskChange
from kaizenflow.storage.outbox import aware
from kaizenflow.storage.schema import runs, unreported_runs


@dataclass(frozen=True)
class UnreportedRun:
    """The newest run of a process, recorded by a night that did not write its report."""

    run_id: str
    started_at: datetime
    changes: list[tuple[int, str]]  # (task id, what the run did to it), in record order
    loaded: dict[str, int | str]  # the night's load: batch_id, offered, added, quarantined


def hold(
    connection: sa.Connection, run_id: str, process: str, changes: Sequence[TaskChange],
    loaded: Mapping[str, int | str],
) -> None:
    """In the record's transaction: this run awaits its report (an older unreported run of the
    process never will: a night recorded after it)."""
    connection.execute(unreported_runs.delete().where(unreported_runs.c.process == process))
    connection.execute(unreported_runs.insert().values(
        run_id=run_id, process=process,
        changes_json=json.dumps([[change.task.task_id, change.change] for change in changes]),
        loaded_json=json.dumps(dict(loaded), sort_keys=True),
    ))


def newest_unreported(engine: sa.Engine, process: str) -> UnreportedRun | None:
    """The process's newest run when it still awaits its report; None otherwise."""
    with engine.connect() as connection:
        newest = connection.execute(
            sa.select(runs.c.run_id, runs.c.started_at).where(runs.c.process == process)
            .order_by(runs.c.finished_at.desc()).limit(1)
        ).first()
        if newest is None:
            return None
        row = connection.execute(
            sa.select(unreported_runs.c.changes_json, unreported_runs.c.loaded_json)
            .where(unreported_runs.c.run_id == newest.run_id)
        ).first()
    if row is None:
        return None
    changes = [(int(task_id), str(change)) for task_id, change in json.loads(row.changes_json)]
    return UnreportedRun(run_id=str(newest.run_id), started_at=aware(newest.started_at), changes=changes,
                         loaded=dict(json.loads(row.loaded_json)))


def reported(connection: sa.Connection, run_id: str) -> None:
    """The run's report is written: nothing is left for a rerun to complete."""
    connection.execute(unreported_runs.delete().where(unreported_runs.c.run_id == run_id))
