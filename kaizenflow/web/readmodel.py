"""What the web app's pages show, read from the state database in short read transactions.

Everything here reads only what a night has committed (its run, deviations and tasks are one
transaction), so a page shows the last published run while the next night writes.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from kaizenflow.improvement.lifecycle import ACTIVE
from kaizenflow.improvement.types import TASK_STATUSES
from kaizenflow.storage.schema import deviations, runs, tasks

#: Runs a trend line covers: the per-case deviations of older runs are not kept anyway.
TREND_RUNS = 14


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class RunFigures:
    run_id: str
    finished_at: datetime
    cases: int
    events: int
    fitness: float | None
    conforming_cases: int
    figures: dict[str, object]

    @property
    def conforming_share(self) -> float:
        return self.conforming_cases / self.cases if self.cases else 0.0


@dataclass(frozen=True)
class Tile:
    """One process on the start page."""

    process: str
    latest: RunFigures | None
    shares: tuple[float, ...]  # conforming share of the last runs, oldest first
    open_tasks: int
    my_open_tasks: int

    @property
    def trend(self) -> float | None:
        """Change of the conforming share since the run before the latest, in points."""
        return self.shares[-1] - self.shares[-2] if len(self.shares) >= 2 else None


@dataclass(frozen=True)
class PatternTrend:
    key: str
    kind: str
    activity: str
    cases: int  # in the latest run
    share: float
    counts: tuple[int | None, ...]  # cases in each of the last runs, oldest first


@dataclass(frozen=True)
class ProcessView:
    process: str
    runs: tuple[RunFigures, ...]  # oldest first
    patterns: tuple[PatternTrend, ...]
    tasks_by_status: dict[str, int] = field(default_factory=dict)

    @property
    def latest(self) -> RunFigures | None:
        return self.runs[-1] if self.runs else None


def _figures(row: sa.RowMapping) -> RunFigures:
    return RunFigures(
        run_id=row["run_id"], finished_at=_aware(row["finished_at"]), cases=int(row["cases"]),
        events=int(row["events"]), fitness=row["fitness"], conforming_cases=int(row["conforming_cases"]),
        figures=json.loads(row["summary_json"]),
    )


# The queries every page view runs, built once with bound parameters: SQLAlchemy builds and keys
# a statement made anew on each call again, which costs more than SQLite's answer to it.
_RECENT_RUNS = (sa.select(runs).where(runs.c.process == sa.bindparam("process"))
                .order_by(runs.c.finished_at.desc(), runs.c.run_id.desc())
                .limit(sa.bindparam("count", type_=sa.Integer)))
_TASKS_BY_STATUS = (sa.select(tasks.c.status, sa.func.count())
                    .where(tasks.c.process == sa.bindparam("process"))
                    .group_by(tasks.c.status))
_TASK_CARDS = (sa.select(tasks.c.task_id, tasks.c.process, tasks.c.title, tasks.c.status, tasks.c.owner,
                         tasks.c.business_object, tasks.c.baseline_value, tasks.c.current_value,
                         tasks.c.target_value)
               .where(tasks.c.process.in_(sa.bindparam("processes", expanding=True)))
               .order_by(tasks.c.task_id))
_TASK_CARDS_IN = _TASK_CARDS.where(tasks.c.status.in_(sa.bindparam("statuses", expanding=True)))


def recent_runs(connection: sa.Connection, process: str, count: int = TREND_RUNS) -> list[RunFigures]:
    """The last ``count`` runs of a process, oldest first."""
    rows = connection.execute(_RECENT_RUNS, {"process": process, "count": count}).mappings().all()
    return [_figures(row) for row in reversed(rows)]


def tiles(engine: sa.Engine, processes: list[str], username: str) -> list[Tile]:
    found = []
    with engine.connect() as connection:
        counts = connection.execute(
            sa.select(tasks.c.process, tasks.c.owner, sa.func.count())
            .where(tasks.c.status.in_(sorted(ACTIVE)), tasks.c.process.in_(processes))
            .group_by(tasks.c.process, tasks.c.owner)
        ).all()
        for process in processes:
            history = recent_runs(connection, process)
            found.append(Tile(
                process=process, latest=history[-1] if history else None,
                shares=tuple(run.conforming_share for run in history),
                open_tasks=sum(int(n) for p, _, n in counts if p == process),
                my_open_tasks=sum(int(n) for p, o, n in counts if p == process and o == username),
            ))
    return found


def process_view(engine: sa.Engine, process: str, reports_directory: Path | None = None) -> ProcessView:
    """The latest runs and, for each pattern of the latest run, its cases in each of them: from
    each run's exported patterns file where the report wrote one, else counted in the database."""
    with engine.connect() as connection:
        history = recent_runs(connection, process)
        ids = [run.run_id for run in history]
        counts = _pattern_counts(connection, process, tuple(ids), reports_directory)
        statuses: dict[str, int] = {str(status): int(n) for status, n in connection.execute(
            _TASKS_BY_STATUS, {"process": process}).all()}
    by_pattern: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for run_id, kind, activity, cases in counts:
        by_pattern[(kind, activity)][run_id] = int(cases)
    latest = history[-1] if history else None
    patterns = []
    for (kind, activity), per_run in by_pattern.items():
        if latest is None or latest.run_id not in per_run:
            continue  # gone by the latest run: its task page tells that story
        cases = per_run[latest.run_id]
        patterns.append(PatternTrend(
            key=f"{kind}:{activity}", kind=kind, activity=activity, cases=cases,
            share=cases / latest.cases if latest.cases else 0.0,
            counts=tuple(per_run.get(run_id) for run_id in ids),
        ))
    patterns.sort(key=lambda p: (-p.cases, p.kind, p.activity))
    return ProcessView(process=process, runs=tuple(history), patterns=tuple(patterns),
                       tasks_by_status={s: int(statuses.get(s, 0)) for s in TASK_STATUSES})


#: Cases per pattern of each run read so far, by (reports folder, process, run).
_COUNTS: OrderedDict[tuple[str, str, str], list[tuple[str, str, int]]] = OrderedDict()
_COUNTS_LOCK = threading.Lock()
_COUNTS_KEPT = 1024


def _pattern_counts(connection: sa.Connection, process: str, ids: tuple[str, ...],
                    reports_directory: Path | None) -> list[tuple[str, str, str, int]]:
    """Cases per run and pattern. A run's deviations never change once published, so each run's
    counts are kept once read (after a night, only its own run is read): from the run's exported
    patterns file, or, for a run without one, counted in the database (millions of rows on a
    long history)."""
    folder = str(reports_directory)
    found: dict[str, list[tuple[str, str, int]]] = {}
    with _COUNTS_LOCK:
        for run_id in ids:
            kept = _COUNTS.get((folder, process, run_id))
            if kept is not None:
                _COUNTS.move_to_end((folder, process, run_id))
                found[run_id] = kept
    missing = [run_id for run_id in ids if run_id not in found]
    if missing:
        read: dict[str, list[tuple[str, str, int]]] = {run_id: [] for run_id in missing}
        exported = exported_pattern_counts(reports_directory, process, missing) if reports_directory else []
        for run_id, kind, activity, cases in exported:
            read[run_id].append((kind, activity, cases))
        uncounted = sorted(set(missing) - {run_id for run_id, *_ in exported})
        if uncounted:
            rows = connection.execute(
                sa.select(deviations.c.run_id, deviations.c.kind, deviations.c.activity,
                          sa.func.count(sa.distinct(deviations.c.case_id)))
                .where(deviations.c.run_id.in_(uncounted))
                .group_by(deviations.c.run_id, deviations.c.kind, deviations.c.activity)
            ).all()
            for run_id, kind, activity, cases in rows:
                read[str(run_id)].append((str(kind), str(activity), int(cases)))
        with _COUNTS_LOCK:
            for run_id, counted in read.items():
                _COUNTS[(folder, process, run_id)] = counted
            while len(_COUNTS) > _COUNTS_KEPT:
                _COUNTS.popitem(last=False)
        found.update(read)
    return [(run_id, kind, activity, cases) for run_id in ids for kind, activity, cases in found[run_id]]


def exported_pattern_counts(reports_directory: Path, process: str,
                            run_ids: list[str]) -> list[tuple[str, str, str, int]]:
    """Cases per pattern of each run that has a ``patterns.parquet`` beside its report."""
    import pyarrow.parquet as pq

    from kaizenflow.reports.exports import export_folder

    counted = []
    names = ["kind", "activity", "cases"]
    for run_id in run_ids:
        path = export_folder(reports_directory, process, run_id) / "patterns.parquet"
        try:
            # one file, read directly: pq.read_table goes through pyarrow.dataset, whose first
            # use in a process costs more than all fourteen files of a trend
            with pq.ParquetFile(path) as exported:
                table = exported.read(columns=names)
            columns = [table.column(name).to_pylist() for name in names]
        except (OSError, ValueError, KeyError):
            continue
        counted += [(run_id, str(k), str(a), int(n)) for k, a, n in zip(*columns, strict=True)]
    return counted


def latest_run(engine: sa.Engine, process: str) -> RunFigures | None:
    with engine.connect() as connection:
        history = recent_runs(connection, process, 1)
    return history[-1] if history else None


def pattern_case_ids(engine: sa.Engine, run_id: str, pattern_key: str) -> dict[str, str]:
    """The cases of a run showing the pattern, with what the check said (detail), by case id."""
    kind, _, activity = pattern_key.partition(":")
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(deviations.c.case_id, deviations.c.detail)
            .where(deviations.c.run_id == run_id, deviations.c.kind == kind,
                   deviations.c.activity == activity)
            .order_by(deviations.c.case_id)
        ).all()
    found: dict[str, str] = {}
    for case_id, detail in rows:
        found.setdefault(str(case_id), detail or "")
    return found


def case_deviations(engine: sa.Engine, run_id: str, case_id: str) -> list[tuple[str, str, str]]:
    """(kind, activity, detail) of one case in a run."""
    with engine.connect() as connection:
        rows = connection.execute(
            sa.select(deviations.c.kind, deviations.c.activity, deviations.c.detail)
            .where(deviations.c.run_id == run_id, deviations.c.case_id == case_id)
            .order_by(deviations.c.kind, deviations.c.activity)
        ).all()
    return [(str(k), str(a), str(d or "")) for k, a, d in rows]


@dataclass(frozen=True)
class TaskCard:
    """What the board and the process page show of a task (no evidence, no history)."""

    task_id: int
    process: str
    title: str
    status: str
    owner: str
    business_object: str | None
    baseline_value: float
    current_value: float
    target_value: float


def task_cards(engine: sa.Engine, processes: list[str], statuses: frozenset[str] | None = None,
               ) -> list[TaskCard]:
    """The tasks of the processes (in some statuses), in task order, read in one narrow query."""
    if statuses is None:
        query, values = _TASK_CARDS, {"processes": processes}
    else:
        query, values = _TASK_CARDS_IN, {"processes": processes, "statuses": sorted(statuses)}
    with engine.connect() as connection:
        return [TaskCard(*row) for row in connection.execute(query, values).all()]


def board(cards: list[TaskCard]) -> dict[str, list[TaskCard]]:
    """Tasks by status, in the lifecycle's order; the active columns first."""
    columns: dict[str, list[TaskCard]] = {status: [] for status in TASK_STATUSES}
    for card in cards:
        columns.setdefault(card.status, []).append(card)
    return columns
