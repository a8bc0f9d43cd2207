"""What process owners do to tasks from the command line: show, move, assign, comment, accept."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from kaizenflow.cli.output import to_plain
from kaizenflow.improvement.lifecycle import ACTIVE
from kaizenflow.improvement.types import ACKNOWLEDGED, CLOSED, DISMISSED, DONE, IN_PROGRESS, OPEN
from kaizenflow.storage.state import StateStore

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="pipeline configuration (YAML)")]
TaskId = Annotated[int, typer.Argument(help="task number, as `kaizen tasks list` shows it")]
ActorOption = Annotated[str, typer.Option("--by", help="who does it (default: the login name)")]


def _actor(value: str) -> str:
    return value or getpass.getuser()


@contextmanager
def _store(config_path: Path) -> Iterator[tuple[Any, StateStore]]:
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    config = load_config(config_path)
    store = Resources.open(config).state
    try:
        yield config, store
    finally:
        store.dispose()


def _echo_task(task: Any, as_json: bool) -> None:

    if as_json:
        typer.echo(json.dumps(to_plain(task), indent=2))
    else:
        typer.echo(f"#{task.task_id} {task.status}: {task.title} (owner {task.owner})")


def show(config: ConfigOption, task_id: TaskId,
         as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """A task with its evidence, KPI history and status history."""

    with _store(config) as (_, store):
        task = store.task(task_id)
        history = store.history(task_id)
    if as_json:
        typer.echo(json.dumps({"task": to_plain(task), "history": to_plain(history)}, indent=2))
        return
    typer.echo("\n".join(task_lines(task, history)))


def task_lines(task: Any, history: list[dict[str, Any]], kpi_runs: int = 5) -> list[str]:
    """What an improvement lead reads about one task: KPI, evidence, the last runs, what happened."""
    lines = [f"#{task.task_id} {task.title}", f"  status {task.status}, owner {task.owner}",
             f"  KPI {task.kpi_name}: {task.current_value:.1%} "
             f"(baseline {task.baseline_value:.1%}, target {task.target_value:.1%})"]
    if task.effect:
        lines.append(f"  effect: {task.effect.get('verdict')}")
    evidence = task.evidence or {}
    if evidence:
        extra = evidence.get("extra_throughput_median_hours")
        causes = ", ".join(f"{c['attribute']}={c['value']} ({c['cases']} cases, lift {c['lift']:.1f})"
                           for c in evidence.get("root_causes", [])[:3])
        cost = evidence.get("extra_cost_median")
        lines.append(f"  evidence when raised: {evidence.get('cases')} cases"
                     + (f", {extra:+.1f} h median throughput against conforming cases" if extra is not None
                        else "")
                     + (f", {cost:+,.2f} median cost" if cost is not None else "")
                     + (f"; root causes {causes}" if causes else ""))
        if evidence.get("example_case_ids"):
            lines.append(f"  example cases: {', '.join(evidence['example_case_ids'])}")
    kpis = [entry for entry in history if entry["type"] == "kpi"][-kpi_runs:]
    if kpis:
        lines.append("  KPI by run: " + ", ".join(
            f"{k['run_id']} {k['value']:.1%} ({k['cases']} of {k['cases_in_scope']})" for k in kpis))
    lines += [f"  {_utc(entry['at'])} {entry['status']}: {entry['note']}"
              for entry in history if entry["type"] == "status"]
    return lines


def _utc(moment: datetime) -> str:
    """Stored in UTC; SQLite gives it back without a zone, PostgreSQL with one."""
    aware = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware:%Y-%m-%d %H:%M} UTC"


def _move(status: str, needs_reason: bool = False) -> Callable[..., None]:
    def command(
        config: ConfigOption, task_id: TaskId,
        reason: Annotated[str, typer.Option("--reason", help="why")] = "",
        by: ActorOption = "",
        as_json: Annotated[bool, typer.Option("--json")] = False,
    ) -> None:
        from kaizenflow.pipeline import stages

        with _store(config) as (loaded, store):
            moving = store.task(task_id)
            changed_at = None
            if status == DONE:  # effects are counted from the process's own clock
                changed_at = stages.process_time(loaded, loaded.process(moving.process))
            sinks = stages.sink_names(loaded, moving.process)
            task = store.transition(task_id, status, _actor(by), reason or None, changed_at, sinks=sinks)
        _echo_task(task, as_json)

    needs = " (needs --reason)." if needs_reason else "."
    command.__doc__ = f"Mark a task {status.replace('_', ' ')}{needs}"
    return command


def assign(config: ConfigOption, task_id: TaskId,
           owner: Annotated[str, typer.Option("--owner", help="new owner")],
           by: ActorOption = "", as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Give a task to another owner."""
    with _store(config) as (_, store):
        task = store.assign(task_id, owner, _actor(by))
    _echo_task(task, as_json)


def comment(config: ConfigOption, task_id: TaskId,
            text: Annotated[str, typer.Option("--text", help="the comment")], by: ActorOption = "") -> None:
    """Add a comment to a task's history."""
    with _store(config) as (_, store):
        store.comment(task_id, text, _actor(by))
    typer.echo(f"comment added to #{task_id}")


def accept(
    config: ConfigOption,
    pattern: Annotated[str, typer.Option("--pattern", help="kind:activity, as in the report")],
    reason: Annotated[str, typer.Option("--reason", help="why this deviation is acceptable")],
    days: Annotated[int, typer.Option("--days", min=1, help="how long the acceptance holds")] = 90,
    business_object: Annotated[str | None, typer.Option("--object", help="only for attribute=value")] = None,
    process: Annotated[str | None, typer.Option(help="process (default: the first)")] = None,
    by: ActorOption = "",
) -> None:
    """Accept a deviation pattern: until it expires it neither counts nor raises tasks."""
    with _store(config) as (loaded, store):
        name = process or loaded.processes[0].name
        loaded.process(name)
        expires = datetime.now(UTC) + timedelta(days=days)
        store.accept_pattern(name, pattern, business_object, reason, _actor(by), expires)
        standing = [t for t in store.list_tasks(process=name) if t.status in ACTIVE
                    and t.pattern_key == pattern and business_object in (None, t.business_object)]
    scope = f" for {business_object}" if business_object else ""
    typer.echo(f"{pattern}{scope} accepted in {name} until {expires:%Y-%m-%d}")
    if standing:
        numbers = ", ".join(f"#{t.task_id}" for t in standing)
        typer.echo(f"its tasks stay as they are ({numbers}) and their KPIs still count its cases: "
                   "dismiss them if the acceptance settles them")


def deliver(config: ConfigOption) -> None:
    """Send pending task events to the configured sinks (run it every few minutes for retries)."""
    from kaizenflow.pipeline import stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    with Resources.open(load_config(config)) as resources:
        report = stages.deliver_task_events(resources)
    typer.echo(report.summary())


def register(tasks_app: typer.Typer, reported: Any) -> None:
    tasks_app.command("show")(reported(show))
    for name, status, needs_reason in (
        ("ack", ACKNOWLEDGED, False), ("start", IN_PROGRESS, False), ("done", DONE, False),
        ("dismiss", DISMISSED, True), ("close", CLOSED, False), ("reopen", OPEN, False),
    ):
        tasks_app.command(name)(reported(_move(status, needs_reason)))
    tasks_app.command("assign")(reported(assign))
    tasks_app.command("comment")(reported(comment))
    tasks_app.command("accept")(reported(accept))
    tasks_app.command("deliver")(reported(deliver))
