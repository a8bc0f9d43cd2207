"""What process owners do to tasks from the command line: show, move, assign, comment, accept, revoke."""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from kaizenflow.cli.output import to_plain
from kaizenflow.improvement.lifecycle import ACTIVE, TransitionError
from kaizenflow.improvement.types import ACKNOWLEDGED, CLOSED, DISMISSED, DONE, IN_PROGRESS, OPEN

if TYPE_CHECKING:  # the state store imports SQLAlchemy: every `kaizen` command paid for it at start
    from kaizenflow.storage.state import StateStore

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="pipeline configuration (YAML)")]
TaskId = Annotated[int, typer.Argument(help="task number, as `kaizen tasks list` shows it")]
ActorOption = Annotated[str, typer.Option("--by", help="who does it (default: the login name)")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def _actor(value: str) -> str:
    return value or getpass.getuser()


@contextmanager
def _store(config_path: Path) -> Iterator[tuple[Any, StateStore]]:
    from kaizenflow.pipeline.config import load_config

    config = load_config(config_path)
    store = open_state(config)
    try:
        yield config, store
    finally:
        store.dispose()


def open_state(config: Any) -> StateStore:
    """The state store of a configuration, without the night's stages (and their imports): a task
    command must answer at once."""
    from kaizenflow.storage.state import StateStore

    config.state_directory.mkdir(parents=True, exist_ok=True)
    return StateStore(config.state_url)


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
    scope = f" --object {task.business_object}" if task.business_object else ""
    where = f" in {task.business_object}" if task.business_object else ""
    lines = [f"#{task.task_id} {task.title}", f"  status {task.status}, owner {task.owner}",
             f"  pattern {task.pattern_key}{where}",
             f"  accept it with: kaizen tasks accept --pattern '{task.pattern_key}'{scope} --reason ...",
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
                     + (f", {extra:+.1f} h median throughput against conforming cases"
                        + (" (the whole pattern's)" if task.business_object else "") if extra is not None
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
        from kaizenflow.pipeline.resources import Resources

        with _store(config) as (loaded, store):
            moving = store.task(task_id)
            changed_at = None
            if status == DONE:  # effects are counted from the process's own clock
                changed_at = stages.process_time(Resources.open(loaded), loaded.process(moving.process))
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
            text: Annotated[str, typer.Option("--text", help="the comment")], by: ActorOption = "",
            as_json: JsonOption = False) -> None:
    """Add a comment to a task's history."""
    with _store(config) as (_, store):
        store.comment(task_id, text, _actor(by))
        task = store.task(task_id)
    if as_json:
        typer.echo(json.dumps({"task_id": task_id, "comment": text, "by": _actor(by),
                               "status": task.status}, indent=2))
        return
    typer.echo(f"comment added to #{task_id}")


def accept(
    config: ConfigOption,
    pattern: Annotated[str, typer.Option("--pattern", help="kind:activity, as in the report and "
                                                          "`kaizen deviations`")],
    reason: Annotated[str, typer.Option("--reason", help="why this deviation is acceptable")],
    days: Annotated[int, typer.Option("--days", min=1, help="how long the acceptance holds")] = 90,
    business_object: Annotated[str | None, typer.Option("--object", help="only for attribute=value")] = None,
    process: Annotated[str | None, typer.Option(help="process (default: the first)")] = None,
    by: ActorOption = "",
    as_json: JsonOption = False,
) -> None:
    """Accept a deviation pattern the latest run saw: until it expires it neither counts nor raises tasks."""
    from kaizenflow.improvement.acceptance import check_known_pattern, check_pattern_format

    check_pattern_format(pattern, business_object)
    if not reason.strip():
        raise TransitionError("accepting a pattern needs a reason")
    with _store(config) as (loaded, store):
        name = process or loaded.processes[0].name
        loaded.process(name)
        known = store.known_pattern_keys(name)
        if known is None:
            raise TransitionError(f"process {name} has not run yet, so no pattern can be accepted: "
                                  f"run `kaizen run --config {config}` first")
        check_known_pattern(pattern, known, name)
        expires = datetime.now(UTC) + timedelta(days=days)
        acceptance_id = store.accept_pattern(name, pattern, business_object, reason, _actor(by), expires)
        standing = [t for t in store.list_tasks(process=name) if t.status in ACTIVE
                    and t.pattern_key == pattern and business_object in (None, t.business_object)]
    if as_json:
        typer.echo(json.dumps({
            "acceptance_id": acceptance_id, "process": name, "pattern": pattern,
            "business_object": business_object, "reason": reason, "accepted_by": _actor(by),
            "expires_at": expires.isoformat(), "tasks_kept": [t.task_id for t in standing],
        }, indent=2))
        return
    scope = f" for {business_object}" if business_object else ""
    typer.echo(f"acceptance #{acceptance_id}: {pattern}{scope} accepted in {name} until {expires:%Y-%m-%d} "
               f"(`kaizen tasks revoke {acceptance_id}` ends it)")
    if standing:
        numbers = ", ".join(f"#{t.task_id}" for t in standing)
        typer.echo(f"its tasks stay as they are ({numbers}) and their KPIs still count its cases: "
                   "dismiss them if the acceptance settles them")


def acceptances(
    config: ConfigOption,
    process: Annotated[str | None, typer.Option(help="only this process")] = None,
    every: Annotated[bool, typer.Option("--all", help="expired and revoked ones too")] = False,
    as_json: JsonOption = False,
) -> None:
    """Accepted patterns: who accepted what, why and until when (--all: ended ones too)."""
    with _store(config) as (loaded, store):
        if process is not None:
            loaded.process(process)
        found = [a for a in store.acceptances(process) if every or a["state"] == "in force"]
    if as_json:
        typer.echo(json.dumps(to_plain(found), indent=2))
        return
    if not found:
        typer.echo("no acceptances" if every else "no acceptance in force (--all shows ended ones)")
        return
    typer.echo(f"{'id':>4}  {'until':<10}  {'by':<12}  pattern and why")
    for row in found:
        until = row["expires_at"] if row["state"] == "in force" else row["state"]
        until_text = f"{until:%Y-%m-%d}" if isinstance(until, datetime) else str(until)
        scope = f" for {row['business_object']}" if row["business_object"] else ""
        typer.echo(fit(f"{row['id']:>4}  {until_text:<10}  {fit(str(row['accepted_by']), 12):<12}  "
                       f"{row['pattern_key']}{scope}"))
        typer.echo(fit(f"{'':>4}  {'':<10}  {'':<12}  why: {row['reason']}"))


def revoke(
    config: ConfigOption,
    acceptance_id: Annotated[int, typer.Argument(help="acceptance number, as `kaizen tasks acceptances` "
                                                      "shows it")],
    reason: Annotated[str, typer.Option("--reason", help="why")] = "",
    by: ActorOption = "",
    as_json: JsonOption = False,
) -> None:
    """End an acceptance now: from the next run its pattern counts and raises tasks again."""
    with _store(config) as (_, store):
        revoked = store.revoke_acceptance(acceptance_id, _actor(by), reason)
    if as_json:
        typer.echo(json.dumps(to_plain(revoked), indent=2))
        return
    scope = f" for {revoked['business_object']}" if revoked["business_object"] else ""
    typer.echo(f"acceptance #{acceptance_id} of {revoked['pattern_key']}{scope} revoked: it counts again "
               "from the next run")


#: Status words short enough for the task table (the stored values stay as they are).
_SHORT_STATUS = {"verified_effective": "verified", "not_effective": "not effective",
                 "in_progress": "in progress"}


def task_table(found: list[Any], width: int = 80) -> list[str]:
    """``tasks list`` as text: a header, then one line of at most ``width`` characters a task (owner
    and title cut with an ellipsis; `tasks show` and --json have them in full)."""
    lines = [f"{'#':>4} {'status':<13} {'KPI':>6}  {'owner':<18} title"]
    for task in found:
        status = _SHORT_STATUS.get(task.status, task.status)
        lines.append(fit(f"{task.task_id:>4} {status:<13} {task.current_value:>6.1%}  "
                         f"{fit(task.owner, 18):<18} {task.title}", width))
    return lines


def fit(text: str, width: int = 80) -> str:
    """One line of at most ``width`` characters, cut with an ellipsis."""
    return text if len(text) <= width else text[:width - 1] + "…"


NoPollOption = Annotated[bool, typer.Option(
    "--no-poll", help="do not ask GitHub/Jira about the tasks' tickets afterwards")]


def deliver(config: ConfigOption, as_json: JsonOption = False, no_poll: NoPollOption = False) -> None:
    """Send pending task events to the configured sinks (run it every few minutes for retries),
    then poll the GitHub/Jira tickets whose webhooks do not reach the web app: a ticket closed as
    done marks its task done, comments come back to the task."""
    from dataclasses import asdict

    from kaizenflow.pipeline import remote, stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    with Resources.open(load_config(config)) as resources:
        report = stages.deliver_task_events(resources)
        polling = not no_poll and remote.polled_sinks(resources.config)
        polled = remote.poll_tickets(resources) if polling else None
    if as_json:
        document: dict[str, Any] = {"summary": report.summary(), "ok": report.ok, **asdict(report)}
        if polled is not None:
            document["poll"] = {"summary": polled.summary(), "ok": polled.ok, **asdict(polled)}
        typer.echo(json.dumps(document, indent=2, default=str))
        return
    typer.echo(report.summary())
    if polled is not None:
        typer.echo(polled.summary())


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
    tasks_app.command("acceptances")(reported(acceptances))
    tasks_app.command("revoke")(reported(revoke))
    tasks_app.command("deliver")(reported(deliver))
