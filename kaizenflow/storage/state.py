"""The state database (SQLAlchemy): runs, per-case deviations, tasks and their KPI history."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kaizenflow.conformance.types import DEVIATION_COLUMNS, Deviation, deviation_table
from kaizenflow.improvement.acceptance import check_pattern_format
from kaizenflow.improvement.lifecycle import (
    ACTIVE,
    REOPENABLE,
    TransitionError,
    check_transition,
    effect_of_change,
    recurrence,
)
from kaizenflow.improvement.measurement import Measurement
from kaizenflow.improvement.types import (
    CLOSED,
    CREATED,
    DONE,
    NOT_EFFECTIVE,
    OPEN,
    REOPENED,
    UNCHANGED,
    UPDATED,
    VERIFIED_EFFECTIVE,
    Task,
    TaskChange,
    TaskProposal,
)

# the web app's account tables are part of the schema: made with the rest, whichever command made the
# database, since the health check expects every table
from kaizenflow.storage import accounts as _accounts  # noqa: F401
from kaizenflow.storage import findings, unreported
from kaizenflow.storage.findings import KeptFindings
from kaizenflow.storage.findings import keep as keep_findings
from kaizenflow.storage.schema import (
    acceptance_revocations,
    accepted_patterns,
    deviations,
    kpi_history,
    meta,
    metadata,
    runs,
    task_history,
    tasks,
)

if TYPE_CHECKING:  # imported where a run's deviations are written: listing tasks needs none
    import pandas as pd

#: The marker row kaizenflow writes into a state database it creates.
CREATED_BY = ("created_by", "kaizenflow")


class StateStoreError(RuntimeError):
    """The state database cannot be reached or is not in a state to use; one line says which and why."""


def safe_url(url: str) -> str:
    """The URL to show in a message: never its password."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:  # noqa: BLE001 - an unreadable URL is not repeated at all
        return "(the configured state database URL)"


def unreachable(url: str, error: BaseException) -> StateStoreError:
    """One line for a database that cannot be connected to (the driver's first line, no password)."""
    original = getattr(error, "orig", None) or error
    reason = (str(original).strip().splitlines() or [type(original).__name__])[0]
    return StateStoreError(f"state database {safe_url(url)}: cannot connect ({reason}); "
                           "is the database server running and reachable?")


class StateStore:
    """Runs, deviations and tasks. Each run's writes happen in one transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        _prepare_sqlite_file(url)
        self.engine = sa.create_engine(url)
        try:
            metadata.create_all(self.engine)
            with self.engine.begin() as connection:
                marked = sa.select(meta.c.value).where(meta.c.key == CREATED_BY[0])
                if connection.execute(marked).first() is None:
                    connection.execute(meta.insert().values(key=CREATED_BY[0], value=CREATED_BY[1]))
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            self.engine.dispose()
            if make_url(url).get_backend_name() == "sqlite":
                reason = str(getattr(error, "orig", error)).splitlines()[0]
                raise StateStoreError(f"state database {safe_url(url)}: cannot be used ({reason}); "
                                      "run `kaizen doctor` to see what is wrong") from None
            raise unreachable(url, error) from None
        except sa.exc.DatabaseError as error:
            self.engine.dispose()
            reason = str(getattr(error, "orig", error)).splitlines()[0]
            raise StateStoreError(f"state database {safe_url(url)}: damaged ({reason}); "
                                  "run `kaizen doctor` to see what to do") from None

    def dispose(self) -> None:
        self.engine.dispose()

    def record_run(
        self,
        run_id: str,
        process: str,
        started_at: datetime,
        finished_at: datetime,
        figures: dict[str, object],
        case_deviations: pd.DataFrame | Sequence[Deviation],
        proposals: Sequence[TaskProposal],
        measurements: Mapping[int, Measurement] | None = None,
        policy: LifecyclePolicy | None = None,
        sinks: Sequence[str] = (),
        deviation_runs_kept: int | None = None,
        awaiting_report: Mapping[str, int | str] | None = None,
        findings: KeptFindings | None = None,
    ) -> list[TaskChange]:
        """Store the run, its deviations and what it does to tasks, all or nothing.

        ``measurements`` are this run's KPI figures of the tasks that existed before it (by
        task id): every task's KPI history grows each run, raised again or not. With
        ``deviation_runs_kept``, the per-case deviations of older runs of the process are
        deleted (their summaries and the KPI history stay): on a large history every night
        stores hundreds of thousands of them. With ``awaiting_report`` (the night's load figures),
        the run is held as unreported until ``reported`` is called (``storage.unreported``).
        """
        policy = policy or LifecyclePolicy()
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
            _insert_deviations(connection, run_id, process, case_deviations)
            if deviation_runs_kept is not None:
                _forget_old_deviations(connection, process, deviation_runs_kept)
            changes: dict[int, str] = {}
            measured = set(measurements or {})
            for proposal in proposals:
                raised, task_id = self._raise(connection, proposal, run_id, now, measured)
                changes[task_id] = raised
            for task_id, measurement in (measurements or {}).items():
                followed = self._follow(connection, task_id, measurement, run_id, now, policy,
                                        raised=task_id in changes)
                if followed is not None or task_id not in changes:
                    changes[task_id] = followed or UNCHANGED
            recorded = [TaskChange(change=change, task=self._task(connection, task_id))
                        for task_id, change in changes.items()]
            if sinks:
                from kaizenflow.storage.outbox import enqueue, task_events

                enqueue(connection, task_events(run_id, recorded, sinks), now)
            if awaiting_report is not None:
                unreported.hold(connection, run_id, process, recorded, awaiting_report)
            if findings is not None:
                keep_findings(connection, process, findings)
            return recorded

    def newest_unreported(self, process: str) -> unreported.UnreportedRun | None:
        """The process's newest run if its night was killed before writing the report."""
        return unreported.newest_unreported(self.engine, process)

    def reported(self, run_id: str, findings: KeptFindings | None = None) -> None:
        """The run's report is written; ``findings`` (the night's, with the report) are kept in the
        same transaction."""
        with self.engine.begin() as connection:
            unreported.reported(connection, run_id)
            if findings is not None:
                process = connection.execute(
                    sa.select(runs.c.process).where(runs.c.run_id == run_id)).scalar_one()
                keep_findings(connection, process, findings)

    def kept_findings(self, process: str) -> KeptFindings | None:
        """The process's newest findings and the digest of their inputs (``storage.findings``)."""
        return findings.kept(self.engine, process)

    def forget_findings(self, process: str) -> None:
        findings.forget(self.engine, process)

    def changes_of(self, held: unreported.UnreportedRun) -> list[TaskChange]:
        """What an unreported run did to tasks, with the tasks as they are now."""
        with self.engine.connect() as connection:
            return [TaskChange(change=change, task=self._task(connection, task_id))
                    for task_id, change in held.changes]

    def _raise(
        self, connection: sa.Connection, proposal: TaskProposal, run_id: str, now: datetime,
        measured: set[int],
    ) -> tuple[str, int]:
        """Create the task of a proposal, or update it; a returning pattern reopens its task."""
        existing = connection.execute(
            sa.select(tasks).where(tasks.c.fingerprint == proposal.fingerprint)
        ).mappings().first()
        evidence = json.dumps(proposal.evidence, sort_keys=True)
        if existing is None:
            task_id = int(connection.execute(
                tasks.insert().values(
                    fingerprint=proposal.fingerprint, process=proposal.process,
                    pattern_key=proposal.pattern_key, title=proposal.title,
                    business_object=proposal.business_object, owner=proposal.owner,
                    kpi_name=proposal.kpi_name, baseline_value=proposal.kpi_value,
                    current_value=proposal.kpi_value, target_value=proposal.target_value,
                    status=OPEN, cases=proposal.cases, evidence_json=evidence,
                    created_run=run_id, last_seen_run=run_id, updated_at=now,
                    baseline_cases=proposal.cases, baseline_in_scope=proposal.cases_in_scope,
                    absent_runs=0,
                )
            ).inserted_primary_key[0])  # type: ignore[index]
            _note(connection, task_id, OPEN, run_id, now,
                  f"raised: {proposal.cases} of {proposal.cases_in_scope} cases")
            _kpi(connection, task_id, run_id, now, proposal.kpi_value, proposal.cases,
                 proposal.cases_in_scope)
            return CREATED, task_id
        task_id = int(existing["task_id"])
        values: dict[str, object] = {
            "evidence_json": evidence, "last_seen_run": run_id, "absent_runs": 0,
            "current_value": proposal.kpi_value, "cases": proposal.cases,
        }
        changed = (existing["evidence_json"] != evidence
                   or abs(existing["current_value"] - proposal.kpi_value) > 1e-12)
        change = UPDATED if changed else UNCHANGED
        if task_id not in measured:
            _kpi(connection, task_id, run_id, now, proposal.kpi_value, proposal.cases,
                 proposal.cases_in_scope)
        if existing["status"] in REOPENABLE and existing["changed_at"] is None:
            # closed while absent: raised again, its pattern is back (a changed task's return
            # is judged on the cases started since its change, in _follow)
            values.update(status=OPEN, changed_at=None, effect_json=None, updated_at=now)
            _note(connection, task_id, OPEN, run_id, now,
                  f"reopened: the pattern is back ({proposal.cases} of {proposal.cases_in_scope} cases)")
            change = REOPENED
        elif change == UPDATED:
            values["updated_at"] = now
        connection.execute(tasks.update().where(tasks.c.task_id == task_id).values(**values))
        return change, task_id

    def _follow(
        self, connection: sa.Connection, task_id: int, measurement: Measurement, run_id: str,
        now: datetime, policy: LifecyclePolicy, raised: bool,
    ) -> str | None:
        """Record the KPI; close a task whose pattern stays away; give a done task its verdict."""
        task = connection.execute(sa.select(tasks).where(tasks.c.task_id == task_id)).mappings().one()
        _kpi(connection, task_id, run_id, now, measurement.value, measurement.affected,
             measurement.in_scope)
        values: dict[str, object] = {"current_value": measurement.value, "cases": measurement.affected}
        change = None
        if abs(task["current_value"] - measurement.value) > 1e-12 and not raised:
            change = UPDATED
        absent = 0 if measurement.affected else int(task["absent_runs"]) + 1
        values["absent_runs"] = 0 if raised else absent
        status = task["status"]
        if not raised and status in ACTIVE and absent >= policy.close_after_absent_runs:
            values["status"] = CLOSED
            _note(connection, task_id, CLOSED, run_id, now,
                  f"closed: the pattern has not been seen for {absent} runs")
            change = CLOSED
        elif status in REOPENABLE and task["changed_at"] is not None:
            back = recurrence(
                task["baseline_cases"], task["baseline_in_scope"], measurement.after_affected,
                measurement.after_in_scope, task["target_value"], _aware(task["changed_at"]),
                min_cases=policy.effect_min_cases, alpha=policy.effect_alpha,
            )
            if back.back:
                values.update(status=OPEN, changed_at=None, effect_json=None)
                _note(connection, task_id, OPEN, run_id, now, f"reopened: {back.describe()}")
                change = REOPENED
        elif status == DONE and task["changed_at"] is not None:
            effect = effect_of_change(
                task["baseline_cases"], task["baseline_in_scope"], measurement.after_affected,
                measurement.after_in_scope, measurement.window_complete,
                min_cases=policy.effect_min_cases, alpha=policy.effect_alpha,
            )
            values["effect_json"] = json.dumps(asdict(effect), sort_keys=True)
            if effect.verdict in ("effective", "not_effective"):
                verdict = VERIFIED_EFFECTIVE if effect.verdict == "effective" else NOT_EFFECTIVE
                values["status"] = verdict
                _note(connection, task_id, verdict, run_id, now, effect.describe())
                change = verdict
        values["updated_at"] = now if change else task["updated_at"]
        connection.execute(tasks.update().where(tasks.c.task_id == task_id).values(**values))
        return change

    # --- what people do to tasks ------------------------------------------------------------

    def transition(
        self, task_id: int, status: str, actor: str, reason: str | None = None,
        changed_at: datetime | None = None, sinks: Sequence[str] = (),
    ) -> Task:
        """A person moves a task; ``changed_at`` (the process's current time) when it is done."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            task = self._row(connection, task_id)
            check_transition(task["status"], status, reason)
            values: dict[str, object] = {"status": status, "updated_at": now}
            if status == DONE:
                values.update(changed_at=changed_at or now, effect_json=None)
            if status == OPEN:
                values.update(absent_runs=0, changed_at=None, effect_json=None)
            connection.execute(tasks.update().where(tasks.c.task_id == task_id).values(**values))
            origin = _note(connection, task_id, status, None, now, f"{actor}: {reason or status}")
            moved = self._task(connection, task_id)
            if sinks:
                from kaizenflow.storage.outbox import enqueue, status_events

                enqueue(connection, status_events(moved, f"history-{origin}", sinks,
                                                  previous_status=task["status"]), now)
            return moved

    def assign(self, task_id: int, owner: str, actor: str) -> Task:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            task = self._row(connection, task_id)
            connection.execute(
                tasks.update().where(tasks.c.task_id == task_id).values(owner=owner, updated_at=now)
            )
            _note(connection, task_id, task["status"], None, now,
                  f"{actor}: assigned to {owner} (was {task['owner']})")
            return self._task(connection, task_id)

    def comment(self, task_id: int, text: str, actor: str) -> None:
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            task = self._row(connection, task_id)
            _note(connection, task_id, task["status"], None, now, f"{actor}: {text}")

    def history(self, task_id: int) -> list[dict[str, object]]:
        with self.engine.connect() as connection:
            self._row(connection, task_id)
            rows = connection.execute(
                sa.select(task_history.c.at, task_history.c.status, task_history.c.note,
                          task_history.c.run_id)
                .where(task_history.c.task_id == task_id).order_by(task_history.c.id)
            ).mappings().all()
            kpis = connection.execute(
                sa.select(kpi_history.c.run_id, kpi_history.c.value, kpi_history.c.cases,
                          kpi_history.c.cases_in_scope)
                .where(kpi_history.c.task_id == task_id).order_by(kpi_history.c.id)
            ).mappings().all()
        return [{"type": "status", **dict(r)} for r in rows] + [{"type": "kpi", **dict(k)} for k in kpis]

    def accept_pattern(
        self, process: str, pattern_key: str, business_object: str | None, reason: str, actor: str,
        expires_at: datetime,
    ) -> int:
        """A process owner accepts a pattern: until expiry it no longer counts or raises tasks.

        The key must name a deviation kind and an activity or rule, and an object must be
        attribute=value: a mistyped one would be stored and then match nothing, silently.
        """
        if not reason.strip():
            raise TransitionError("accepting a pattern needs a reason")
        check_pattern_format(pattern_key, business_object)
        with self.engine.begin() as connection:
            inserted = connection.execute(accepted_patterns.insert().values(
                process=process, pattern_key=pattern_key, business_object=business_object,
                reason=reason, accepted_by=actor, accepted_at=datetime.now(UTC), expires_at=expires_at,
            ))
            return int(inserted.inserted_primary_key[0])  # type: ignore[index]

    def acceptances(self, process: str | None = None, at: datetime | None = None) -> list[dict[str, object]]:
        """Every acceptance, oldest first, with its ``state`` at ``at`` (now): in force, expired or
        revoked (then with who revoked it, when and why)."""
        moment = at or datetime.now(UTC)
        revocations = acceptance_revocations.c
        query = (sa.select(accepted_patterns, revocations.revoked_by, revocations.revoked_at,
                           revocations.reason.label("revoke_reason"))
                 .select_from(accepted_patterns.outerjoin(
                     acceptance_revocations, revocations.acceptance_id == accepted_patterns.c.id))
                 .order_by(accepted_patterns.c.id))
        if process is not None:
            query = query.where(accepted_patterns.c.process == process)
        with self.engine.connect() as connection:
            rows = [dict(r) for r in connection.execute(query).mappings()]
        for row in rows:
            for column in ("accepted_at", "expires_at", "revoked_at"):
                if row[column] is not None:
                    row[column] = _aware(row[column])
            row["state"] = ("revoked" if row["revoked_by"] is not None
                            else "in force" if row["expires_at"] > moment else "expired")
        return rows

    def revoke_acceptance(self, acceptance_id: int, actor: str, reason: str = "") -> dict[str, object]:
        """End an acceptance now: from the next run its pattern counts and raises tasks again."""
        now = datetime.now(UTC)
        with self.engine.begin() as connection:
            row = connection.execute(
                sa.select(accepted_patterns).where(accepted_patterns.c.id == acceptance_id)
            ).mappings().first()
            if row is None:
                raise TransitionError(f"there is no acceptance #{acceptance_id} (`kaizen tasks acceptances` "
                                      "lists them)")
            revoked = connection.execute(sa.select(acceptance_revocations.c.revoked_by).where(
                acceptance_revocations.c.acceptance_id == acceptance_id)).first()
            if revoked is not None:
                raise TransitionError(f"acceptance #{acceptance_id} was revoked already by {revoked[0]}")
            expired = _aware(row["expires_at"])
            if expired <= now:
                raise TransitionError(f"acceptance #{acceptance_id} expired on {expired:%Y-%m-%d}")
            connection.execute(accepted_patterns.update().where(accepted_patterns.c.id == acceptance_id)
                               .values(expires_at=now))
            connection.execute(acceptance_revocations.insert().values(
                acceptance_id=acceptance_id, revoked_by=actor, revoked_at=now, reason=reason))
        [revoked_row] = [a for a in self.acceptances(str(row["process"])) if a["id"] == acceptance_id]
        return revoked_row

    def known_pattern_keys(self, process: str) -> set[str] | None:
        """Pattern keys the latest run of a process saw (those set aside by an acceptance included,
        and those of its tasks); None before its first run."""
        run_id = self.latest_run_id(process)
        if run_id is None:
            return None
        with self.engine.connect() as connection:
            seen = connection.execute(
                sa.select(deviations.c.kind, deviations.c.activity)
                .where(deviations.c.run_id == run_id).distinct()
            ).all()
            accepted = connection.execute(sa.select(accepted_patterns.c.pattern_key).where(
                accepted_patterns.c.process == process)).scalars().all()
            raised = connection.execute(sa.select(tasks.c.pattern_key).where(
                tasks.c.process == process)).scalars().all()
        return {f"{kind}:{activity}" for kind, activity in seen} | set(accepted) | set(raised)

    def accepted(self, process: str, at: datetime | None = None) -> list[dict[str, object]]:
        """Acceptances in force at ``at`` (now by default)."""
        moment = at or datetime.now(UTC)
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(accepted_patterns).where(accepted_patterns.c.process == process)
                .order_by(accepted_patterns.c.id)
            ).mappings().all()
        return [dict(r) for r in rows if _aware(r["expires_at"]) > moment]

    def _row(self, connection: sa.Connection, task_id: int) -> sa.RowMapping:
        row = connection.execute(sa.select(tasks).where(tasks.c.task_id == task_id)).mappings().first()
        if row is None:
            raise TransitionError(f"there is no task #{task_id}")
        return row

    def _task(self, connection: sa.Connection, task_id: int) -> Task:
        row = connection.execute(sa.select(tasks).where(tasks.c.task_id == task_id)).mappings().one()
        return _task_from_row(row)

    def task(self, task_id: int) -> Task:
        """One task; a TransitionError names an id no task has."""
        with self.engine.connect() as connection:
            return _task_from_row(self._row(connection, task_id))

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

    def run_ids(self, process: str) -> list[str]:
        """Run ids of a process, oldest first (the order of ``run_summaries``)."""
        with self.engine.connect() as connection:
            return list(connection.execute(
                sa.select(runs.c.run_id).where(runs.c.process == process).order_by(runs.c.finished_at)
            ).scalars())

    def run_summaries(self, process: str) -> list[dict[str, object]]:
        """Headline figures of earlier runs, oldest first."""
        with self.engine.connect() as connection:
            rows = connection.execute(
                sa.select(runs.c.summary_json).where(runs.c.process == process)
                .order_by(runs.c.finished_at)
            ).scalars().all()
        return [json.loads(row) for row in rows]


def _note(connection: sa.Connection, task_id: int, status: str, run_id: str | None, at: datetime,
          note: str) -> int:
    """Append to a task's history; returns the entry's id."""
    result = connection.execute(task_history.insert().values(
        task_id=task_id, at=at, status=status, note=note, run_id=run_id))
    return int(result.inserted_primary_key[0])  # type: ignore[index]


def _kpi(connection: sa.Connection, task_id: int, run_id: str, at: datetime, value: float, cases: int,
         cases_in_scope: int) -> None:
    """Append-only: past KPI values are never updated or deleted."""
    connection.execute(kpi_history.insert().values(
        task_id=task_id, run_id=run_id, measured_at=at, value=value, cases=cases,
        cases_in_scope=cases_in_scope))


def _aware(moment: datetime) -> datetime:
    """SQLite gives naive datetimes back; everything here is stored in UTC."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


@dataclass(frozen=True)
class LifecyclePolicy:
    close_after_absent_runs: int = 3
    effect_min_cases: int = 30
    effect_alpha: float = 0.05


def _task_from_row(row: sa.RowMapping) -> Task:
    return Task(
        task_id=row["task_id"], fingerprint=row["fingerprint"], process=row["process"],
        pattern_key=row["pattern_key"], title=row["title"],
        business_object=row["business_object"], owner=row["owner"], kpi_name=row["kpi_name"],
        baseline_value=row["baseline_value"], current_value=row["current_value"],
        target_value=row["target_value"], status=row["status"], cases=row["cases"],
        evidence=json.loads(row["evidence_json"]), created_run=row["created_run"],
        last_seen_run=row["last_seen_run"], baseline_cases=row["baseline_cases"],
        baseline_in_scope=row["baseline_in_scope"],
        changed_at=_aware(row["changed_at"]) if row["changed_at"] is not None else None,
        effect=json.loads(row["effect_json"]) if row["effect_json"] else None,
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


def _insert_deviations(
    connection: sa.Connection, run_id: str, process: str, found: pd.DataFrame | Sequence[Deviation]
) -> None:
    """A run's deviations (a deviation table or the objects), through the driver's executemany.

    SQLAlchemy's per-row parameter handling doubles the time (benchmarks/micro.py, docs/benchmarks.md).
    A slice of rows at a time: as Python tuples, a million-event night's 52,000 rows were the
    night's peak memory.
    """
    import pandas as pd

    table = found if isinstance(found, pd.DataFrame) else deviation_table(found)
    marker = {"qmark": "?", "format": "%s", "pyformat": "%s"}.get(connection.dialect.paramstyle)
    names = ["run_id", "process", *DEVIATION_COLUMNS]
    insert = f"INSERT INTO deviations ({', '.join(names)}) VALUES ({', '.join([marker or '?'] * len(names))})"
    for start in range(0, len(table), _DEVIATION_ROWS_AT_ONCE):
        part = table.iloc[start:start + _DEVIATION_ROWS_AT_ONCE]
        columns = [part[name].astype(object).tolist() for name in DEVIATION_COLUMNS]
        rows = [(run_id, process, *row) for row in zip(*columns, strict=True)]
        if marker is None:  # a driver with named parameters: SQLAlchemy's own way
            connection.execute(deviations.insert(), [dict(zip(names, row, strict=True)) for row in rows])
        else:
            connection.exec_driver_sql(insert, rows)


_DEVIATION_ROWS_AT_ONCE = 5_000


def _forget_old_deviations(connection: sa.Connection, process: str, runs_kept: int) -> None:
    """Per-case deviations of all but the newest ``runs_kept`` runs of a process."""
    kept = connection.execute(
        sa.select(runs.c.run_id).where(runs.c.process == process)
        .order_by(runs.c.finished_at.desc(), runs.c.run_id.desc()).limit(runs_kept)
    ).scalars().all()
    connection.execute(
        deviations.delete().where(deviations.c.process == process, deviations.c.run_id.not_in(kept))
    )
