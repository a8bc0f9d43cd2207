"""The `kaizen` command: demo, run, tasks, deviations and report, each listing with --json."""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from kaizenflow.cli import doctor as cli_doctor
from kaizenflow.cli import files as cli_files
from kaizenflow.cli import serve as cli_serve
from kaizenflow.cli import tasks as cli_tasks
from kaizenflow.cli import web as cli_web
from kaizenflow.cli.output import to_plain

app = typer.Typer(
    help="kaizenflow: nightly process mining that turns deviations into improvement tasks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
tasks_app = typer.Typer(help="Improvement tasks.", no_args_is_help=True)
app.add_typer(tasks_app, name="tasks")

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="pipeline configuration (YAML)")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]
F = TypeVar("F", bound=Callable[..., Any])


def _fail(message: str) -> None:
    typer.echo(f"kaizen: error: {message}", err=True)
    raise typer.Exit(code=1)


def _usage(message: str) -> None:
    """A usage error (a value no option takes): one line, exit code 2 as click's own."""
    typer.echo(f"kaizen: error: {message}", err=True)
    raise typer.Exit(code=2)


def _reported(command: F) -> F:
    """Expected failures end with a one-line reason and exit code 1, never a traceback."""

    @wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except _expected_errors() as error:
            _fail(str(error))

    return wrapper  # type: ignore[return-value]


def _expected_errors() -> tuple[type[Exception], ...]:
    """Failures of input or state that a one-line reason explains; anything else is a bug."""
    from kaizenflow.conformance.models import ModelError
    from kaizenflow.core.events import UnknownAttributeError
    from kaizenflow.improvement.lifecycle import TransitionError
    from kaizenflow.pipeline.config import ConfigError
    from kaizenflow.pipeline.locking import RunLockedError
    from kaizenflow.sources.mapping import SourceError
    from kaizenflow.storage import EventStoreError
    from kaizenflow.storage.accounts import AccountError
    from kaizenflow.storage.state import StateStoreError

    return (ConfigError, ModelError, SourceError, EventStoreError, FileExistsError, RunLockedError,
            TransitionError, UnknownAttributeError, AccountError, StateStoreError)


class _FailuresToldOnce(logging.Filter):
    """Without --verbose, a failed task or flow is told once, by the command: Prefect's ERROR
    lines (and their tracebacks) repeated the reason above it. The failure still reaches the
    command as its exception, which prints the one-line reason (an unexpected one: its
    traceback), so nothing is lost; --verbose keeps Prefect's lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno < logging.ERROR


def _prepare_prefect(state_directory: Path, verbose: bool) -> None:
    """Keep Prefect's embedded state beside ours unless the user points at a Prefect server."""
    if "PREFECT_API_URL" not in os.environ and "PREFECT_HOME" not in os.environ:
        home = state_directory / "prefect"
        home.mkdir(parents=True, exist_ok=True, mode=0o700)  # Prefect creates only the last level
        os.environ["PREFECT_HOME"] = str(home)
    # A new embedded database is migrated on first start: on 2 cores that exceeds the default 20 s.
    os.environ.setdefault("PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS", "180")
    # The embedded server's telemetry writes race its own start-up on SQLite ("database is
    # locked"); an embedded nightly job has nobody to report usage to anyway.
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"


def _quiet_prefect(verbose: bool) -> None:
    """Before anything imports Prefect (validating a schedule does): it sets up logging once."""
    if not verbose:
        os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")
        for name in ("prefect.flow_runs", "prefect.task_runs"):  # the run loggers, set up later
            logger = logging.getLogger(name)
            if not any(isinstance(f, _FailuresToldOnce) for f in logger.filters):
                logger.addFilter(_FailuresToldOnce())




def _run(config_path: Path, process: str | None, verbose: bool, as_json: bool, prefect: bool = False) -> None:
    """The night in this process, or as the Prefect flow when a Prefect server is configured
    (``PREFECT_API_URL``), the alignments go to Dask, or ``prefect`` asks for it: starting
    Prefect's temporary server costs a manual run far more than an unchanged night does."""
    _quiet_prefect(verbose)
    from kaizenflow.pipeline.config import load_config

    config = load_config(config_path)
    if prefect or "PREFECT_API_URL" in os.environ or config.execution.task_runner == "dask":
        _prepare_prefect(config.state_directory, verbose)
        from kaizenflow.flows.nightly import run_nightly

        summaries = run_nightly(str(config_path), process)
    else:
        from kaizenflow.api import run_night
        from kaizenflow.cli.progress import StageProgress

        # a line per stage at a terminal (or with -v); a scheduled job's log stays as it was
        progress = StageProgress() if verbose or sys.stderr.isatty() else None
        summaries = run_night(config, process, progress=progress)
    if as_json:
        typer.echo(json.dumps([_headline(s) for s in summaries], indent=2))
        return
    for summary in summaries:
        typer.echo(_describe(summary))


def _headline(summary: Any) -> dict[str, Any]:
    """The run's ``summary.json`` record, plus what a person at the terminal wants in full."""
    from kaizenflow.reports.exports import summary_record

    changes = [c.change for c in summary.task_changes]
    headline: dict[str, Any] = to_plain({
        **summary_record(summary),
        "quarantined_rows": summary.quarantined_rows,
        "patterns": summary.patterns,
        "tasks_created": changes.count("created"),
        "tasks_updated": changes.count("updated"),
        "tasks_unchanged": changes.count("unchanged"),
        "report": summary.report_path,
        "repeated": summary.repeated,
    })
    return headline


def _describe(summary: Any) -> str:
    head = _headline(summary)
    fitness = "n/a" if summary.fitness is None else f"{summary.fitness:.3f}"
    lines = [
        f"{summary.process} — nothing new since run {summary.run_id}: its findings stand, "
        "no run recorded" if summary.repeated else f"{summary.process} — run {summary.run_id}",
        f"  events ingested:   {summary.new_events:,} new, {summary.events:,} stored "
        f"({summary.cases:,} cases)"
        + (f"; {summary.quarantined_rows:,} bad rows quarantined" if summary.quarantined_rows else ""),
        f"  fitness:           {fitness}",
        f"  conforming cases:  {summary.conforming_cases:,} of {summary.cases:,} "
        f"({summary.conforming_share:.1%}); {summary.incomplete_cases:,} still running",
        *([_accepted_line(summary)] if summary.acceptance_effect is not None else []),
        "  top deviation patterns:",
    ]
    if not summary.patterns:
        lines.append("    none")
    for pattern in summary.patterns[:5]:
        cause = pattern.root_causes[0] if pattern.root_causes else None
        why = f"  [{cause.support:.0%} {cause.attribute}={cause.value}]" if cause else ""
        lines.append(
            f"    {pattern.kind:<22} {pattern.activity:<40} {pattern.cases:>6,} cases "
            f"({pattern.share:.1%}){why}"
        )
    lines += [
        "  tasks:             as they were (no run recorded)" if summary.repeated else
        f"  tasks:             {head['tasks_created']} created, {head['tasks_updated']} updated, "
        f"{head['tasks_unchanged']} unchanged",
        f"  report:            {summary.report_path}",
    ]
    return "\n".join(lines)


def _accepted_line(summary: Any) -> str:
    """How far acceptances moved the conforming cases above, so the jump is never a mystery."""
    effect = summary.acceptance_effect
    without = effect.conforming_without_acceptances / effect.cases if effect.cases else 0.0
    return (f"  accepted:          {effect.gained:,} of them conform only by {len(summary.acceptances)} "
            f"acceptance(s): {without:.1%} without, {effect.share_points:+.1f} points")


@app.command()
@_reported
def demo(
    workdir: Annotated[Path, typer.Option(help="folder for the sample database, config and state")]
    = Path("kaizen-demo"),
    cases: Annotated[int, typer.Option(min=500, max=1_000_000, help="cases to simulate")] = 2000,
    seed: Annotated[int, typer.Option(help="simulation seed")] = 7,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    as_json: JsonOption = False,
) -> None:
    """Create the sample purchase-to-pay database (if absent) and run one night on it."""
    from kaizenflow.cli.demo import prepare_demo

    config_path, created = prepare_demo(workdir, cases=cases, seed=seed)
    if not as_json:
        state = "created" if created else "reused"
        typer.echo(f"sample purchase-to-pay database {state} in {workdir.resolve()}")
    _run(config_path, None, verbose, as_json)


@app.command()
@_reported
def run(
    config: ConfigOption,
    process: Annotated[str | None, typer.Option(help="run only this process")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
    as_json: JsonOption = False,
    prefect: Annotated[bool, typer.Option(
        "--prefect", help="run it as the Prefect flow, on Prefect's temporary server when none is configured"
    )] = False,
) -> None:
    """Run one night for the configured processes (as the Prefect flow when a server is configured)."""
    _run(config, process, verbose, as_json, prefect)


@tasks_app.command("list")
@_reported
def tasks_list(
    config: ConfigOption,
    status: Annotated[str | None, typer.Option(help="only tasks in this status")] = None,
    owner: Annotated[str | None, typer.Option(help="only tasks of this owner")] = None,
    process: Annotated[str | None, typer.Option(help="only tasks of this process")] = None,
    as_json: JsonOption = False,
) -> None:
    """List improvement tasks, optionally filtered."""
    from kaizenflow.improvement.types import TASK_STATUSES
    from kaizenflow.pipeline.config import load_config

    if status is not None and status not in TASK_STATUSES:
        _usage(f"unknown status {status!r} (statuses: {', '.join(TASK_STATUSES)})")
    store = cli_tasks.open_state(load_config(config))  # not Resources: it imports the event store
    try:
        found = [t for t in store.list_tasks(process=process, status=status)
                 if owner is None or t.owner == owner]
    finally:
        store.dispose()
    if as_json:
        typer.echo(json.dumps(to_plain(found), indent=2))
        return
    if not found:
        typer.echo("no tasks")
        return
    for line in cli_tasks.task_table(found):
        typer.echo(line)


@app.command()
@_reported
def deviations(
    config: ConfigOption,
    process: Annotated[str | None, typer.Option(help="process (default: the first)")] = None,
    pattern: Annotated[str | None, typer.Option(help="only this pattern (kind:activity)")] = None,
    task: Annotated[int | None, typer.Option(help="only the cases a task is about: its pattern "
                                                  "and business object")] = None,
    as_json: JsonOption = False,
) -> None:
    """Deviations of the latest run: one row per case, kind and activity (and what a rule found)."""
    from kaizenflow.improvement.measurement import in_scope
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    loaded = load_config(config)
    resources = Resources.open(loaded)
    store = resources.state
    try:
        about = store.task(task) if task is not None else None
        configured = loaded.process(about.process if about else process or loaded.processes[0].name)
        name = configured.name
        run_id = store.latest_run_id(name)
        found = store.run_deviations(run_id) if run_id else []
    finally:
        store.dispose()
    if run_id is None:
        _fail(f"process {name} has not run yet: run `kaizen run --config {config}` first")
    wanted = about.pattern_key if about else pattern
    if wanted is not None:
        found = [d for d in found if f"{d.kind}:{d.activity}" == wanted]
    if about is not None and about.business_object is not None:
        attributes = resources.events.case_attributes(name, configured.window_days)
        cases = set(in_scope(attributes, about.business_object).astype(str))
        found = [d for d in found if d.case_id in cases]
    if as_json:
        typer.echo(json.dumps({"process": name, "run_id": run_id,
                               "deviations": to_plain(found)}, indent=2))
        return
    typer.echo(f"{'case':<16} pattern (kind:activity, as `kaizen tasks accept --pattern` takes it)")
    for deviation in found:
        detail = f"  ({deviation.detail})" if deviation.detail else ""
        typer.echo(f"{deviation.case_id:<16} {deviation.kind}:{deviation.activity}{detail}")


@app.command()
@_reported
def report(
    config: ConfigOption,
    as_json: JsonOption = False,
) -> None:
    """Where the latest report of each process is (the index page lists every run)."""
    from kaizenflow.pipeline.config import load_config

    loaded = load_config(config)
    directory = loaded.path(loaded.reports_directory)
    index = directory / "index.html"
    if not index.exists():
        _fail(f"no report yet in {directory}: run `kaizen run --config {config}` first")
    latest = {}
    for process in loaded.processes:
        runs = sorted((directory / process.name).glob("*.html"))
        latest[process.name] = str(runs[-1]) if runs else None
    if as_json:
        typer.echo(json.dumps({"index": str(index), "latest": latest}, indent=2))
        return
    typer.echo(f"index: {index}")
    for name, path in latest.items():
        typer.echo(f"{name}: {path or 'no run yet'}")


cli_files.register(app, _reported)
cli_tasks.register(tasks_app, _reported)
cli_serve.register(app, _reported)
cli_web.register(app, _reported)
cli_doctor.register(app, _reported)


def main() -> None:  # pragma: no cover - console entry point
    sys.exit(app())
