"""The state database (SQLAlchemy): runs, per-case deviations, tasks and their KPI history."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from conformance.types import Deviation
from improvement.types import CREATED, OPEN, UNCHANGED, UPDATED, Task, TaskChange, TaskProposal

metadata = sa.MetaData()

runs = sa.Table(
    "runs", metadata,
    sa.Column("run_id", sa.String(64), primary_key=True),
    sa.Column("process", sa.String(128), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("events", sa.Integer, nullable=False),
    sa.Column("fitness", sa.Float),
    sa.Column("conforming_cases", sa.Integer, nullable=False),
    sa.Column("summary_json", sa.Text, nullable=False),
)

deviations = sa.Table(
    "deviations", metadata,
    sa.Column("run_id", sa.String(64), sa.ForeignKey("runs.run_id"), nullable=False, index=True),
    sa.Column("process", sa.String(128), nullable=False),
    sa.Column("case_id", sa.String(255), nullable=False),
    sa.Column("kind", sa.String(64), nullable=False),
    sa.Column("activity", sa.String(512), nullable=False),
    sa.Column("detail", sa.Text, nullable=False),
)

tasks = sa.Table(
    "tasks", metadata,
    sa.Column("task_id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("fingerprint", sa.String(64), nullable=False, unique=True),
    sa.Column("process", sa.String(128), nullable=False, index=True),
    sa.Column("pattern_key", sa.String(600), nullable=False),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("business_object", sa.String(512)),
    sa.Column("owner", sa.String(255), nullable=False),
    sa.Column("kpi_name", sa.Text, nullable=False),
    sa.Column("baseline_value", sa.Float, nullable=False),
    sa.Column("current_value", sa.Float, nullable=False),
    sa.Column("target_value", sa.Float, nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("evidence_json", sa.Text, nullable=False),
    sa.Column("created_run", sa.String(64), nullable=False),
    sa.Column("last_seen_run", sa.String(64), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
)

task_history = sa.Table(
    "task_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.task_id"), nullable=False, index=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("note", sa.Text, nullable=False),
    sa.Column("run_id", sa.String(64)),
)

kpi_history = sa.Table(
    "kpi_history", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.Integer, sa.ForeignKey("tasks.task_id"), nullable=False, index=True),
    sa.Column("run_id", sa.String(64), nullable=False),
    sa.Column("measured_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("value", sa.Float, nullable=False),
    sa.Column("cases", sa.Integer, nullable=False),
    sa.Column("cases_in_scope", sa.Integer, nullable=False),
)


class StateStore:
    """Runs, deviations and tasks. Each run's writes happen in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        _prepare_sqlite_file(url)
        self.engine = sa.create_engine(url)
        metadata.create_all(self.engine)

    def dispose(self) -> None:
        self.engine.dispose()

    def record_run(
        self,
        run_id: str,
        process: str,
        started_at: datetime,
        finished_at: datetime,
        figures: dict[str, object],
        case_deviations: Sequence[Deviation],
        proposals: Sequence[TaskProposal],
    ) -> list[TaskChange]:
        """Store the run, its deviations and the tasks it raises or updates, all or nothing."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            connection.execute(
                runs.insert().values(
                    run_id=run_id, process=process, started_at=started_at,
                    finished_at=finished_at, cases=int(figures["cases"]),  # type: ignore[call-overload]
                    events=int(figures["events"]),  # type: ignore[call-overload]
                    fitness=figures.get("fitness"),
                    conforming_cases=int(figures["conforming_cases"]),  # type: ignore[call-overload]
                    summary_json=json.dumps(figures, sort_keys=True, default=str),
                )
            )
            if case_deviations:
                connection.execute(
                    deviations.insert(),
                    [
                        {"run_id": run_id, "process": process, "case_id": d.case_id,
                         "kind": d.kind, "activity": d.activity, "detail": d.detail}
                        for d in case_deviations
                    ],
                )
            return [self._upsert(connection, proposal, run_id, now) for proposal in proposals]

    def _upsert(
        self, connection: sa.Connection, proposal: TaskProposal, run_id: str, now: datetime
    ) -> TaskChange:
        existing = connection.execute(
            sa.select(tasks).where(tasks.c.fingerprint == proposal.fingerprint)
        ).mappings().first()
        evidence = json.dumps(proposal.evidence, sort_keys=True)
        if existing is None:
            task_id = connection.execute(
                tasks.insert().values(
                    fingerprint=proposal.fingerprint, process=proposal.process,
                    pattern_key=proposal.pattern_key, title=proposal.title,
                    business_object=proposal.business_object, owner=proposal.owner,
                    kpi_name=proposal.kpi_name, baseline_value=proposal.kpi_value,
                    current_value=proposal.kpi_value, target_value=proposal.target_value,
                    status=OPEN, cases=proposal.cases, evidence_json=evidence,
                    created_run=run_id, last_seen_run=run_id, updated_at=now,
                )
            ).inserted_primary_key[0]  # type: ignore[index]
            connection.execute(
                task_history.insert().values(
                    task_id=task_id, at=now, status=OPEN, run_id=run_id,
                    note=f"raised: {proposal.cases} of {proposal.cases_in_scope} cases",
                )
            )
            change = CREATED
        else:
            task_id = existing["task_id"]
            changed = (
                abs(existing["current_value"] - proposal.kpi_value) > 1e-12
                or existing["cases"] != proposal.cases
                or existing["evidence_json"] != evidence
            )
            connection.execute(
                tasks.update().where(tasks.c.task_id == task_id).values(
                    current_value=proposal.kpi_value, cases=proposal.cases,
                    evidence_json=evidence, last_seen_run=run_id,
                    updated_at=now if changed else existing["updated_at"],
                )
            )
            change = UPDATED if changed else UNCHANGED
        connection.execute(
            kpi_history.insert().values(
                task_id=task_id, run_id=run_id, measured_at=now, value=proposal.kpi_value,
                cases=proposal.cases, cases_in_scope=proposal.cases_in_scope,
            )
        )
        task = self._task(connection, int(task_id))
        return TaskChange(change=change, task=task)

    def _task(self, connection: sa.Connection, task_id: int) -> Task:
        row = connection.execute(sa.select(tasks).where(tasks.c.task_id == task_id)).mappings().one()
        return _task_from_row(row)

    def list_tasks(self, process: str | None = None, status: str | None = None) -> list[Task]:
        query = sa.select(tasks).order_by(tasks.c.task_id)
        if process:
            query = query.where(tasks.c.process == process)
        if status:
            query = query.where(tasks.c.status == status)
        with self.engine.connect() as connection:
            return [_task_from_row(row) for row in connection.execute(query).mappings()]

    def latest_run_id(self, process: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(runs.c.run_id).where(runs.c.process == process)
                .order_by(runs.c.finished_at.desc()).limit(1)
            ).scalar()

    def run_deviations(self, run_id: str) -> list[Deviation]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(deviations.c.case_id, deviations.c.kind, deviations.c.activity,
                          deviations.c.detail)
                .where(deviations.c.run_id == run_id)
                .order_by(deviations.c.case_id, deviations.c.kind, deviations.c.activity)
            ).all()
        return [Deviation(case_id=r[0], kind=r[1], activity=r[2], detail=r[3]) for r in rows]

    def run_summaries(self, process: str) -> list[dict[str, object]]:
        """Headline figures of earlier runs, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(runs.c.summary_json).where(runs.c.process == process)
                .order_by(runs.c.finished_at)
            ).scalars().all()
        return [json.loads(row) for row in rows]


def _task_from_row(row: sa.RowMapping) -> Task:
    return Task(
        task_id=row["task_id"], fingerprint=row["fingerprint"], process=row["process"],
        pattern_key=row["pattern_key"], title=row["title"],
        business_object=row["business_object"], owner=row["owner"], kpi_name=row["kpi_name"],
        baseline_value=row["baseline_value"], current_value=row["current_value"],
        target_value=row["target_value"], status=row["status"], cases=row["cases"],
        evidence=json.loads(row["evidence_json"]), created_run=row["created_run"],
        last_seen_run=row["last_seen_run"],
    )


def _prepare_sqlite_file(url: str) -> None:
    """A SQLite state file is created owner-only: it holds the organisation's findings."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database or parsed.database == ":memory:":
        return
    path = Path(parsed.database)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.touch(mode=0o600)
    os.chmod(path, 0o600)
