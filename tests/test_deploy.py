"""Nightly deployments: their shape, and nights run through real Prefect servers, served and pooled."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import typer
import yaml
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, FlowRun, StateType
from prefect.states import Failed
from typer.testing import CliRunner

from kaizenflow.cli import serve as cli_serve
from kaizenflow.cli.demo import prepare_demo
from kaizenflow.flows.deploy import deployments_for, read_schedules, scheduled_nightly
from kaizenflow.flows.nightly import nightly, worth_retrying
from kaizenflow.pipeline.config import ConfigError, Process, Schedule
from kaizenflow.sources.mapping import SourceError

REPOSITORY = Path(__file__).resolve().parent.parent
DEPLOYMENT = "kaizen-scheduled/nightly-purchase-to-pay"
POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
WAIT_SECONDS = 150  # every wait is bounded: a hung server fails the test instead of the CI run
# A stand-alone `kaizen` with only the commands under test, so these tests need no cli.py wiring.
POOL = "kaizen"
CLI = ("import typer; from kaizenflow.cli import serve as cli_serve; app = typer.Typer(); "
       "cli_serve.register(app, lambda f: f); app()")


# --- the shape of the deployments ----------------------------------------------------------------


@pytest.fixture(scope="module")
def demo_config(tmp_path_factory: pytest.TempPathFactory) -> Path:
    config_path, _ = prepare_demo(tmp_path_factory.mktemp("demo"), cases=600, seed=3)
    return config_path


def _with_schedule(config_path: Path, target: Path, schedule: dict[str, Any]) -> Path:
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["processes"][0]["schedule"] = schedule
    target.write_text(yaml.safe_dump(data), encoding="utf-8")
    return target


def test_each_process_gets_a_nightly_deployment_with_its_own_parameters(demo_config: Path) -> None:
    [deployment] = deployments_for(demo_config)
    assert (deployment.flow_name, deployment.name) == ("kaizen-scheduled", "nightly-purchase-to-pay")
    assert deployment.parameters == {
        "config_path": str(demo_config.resolve()), "process_name": "purchase-to-pay",
        "timeout_seconds": 6 * 3600.0,
    }
    # importable wherever kaizenflow is installed, not a path relative to one machine's folder
    assert deployment.entrypoint == "kaizenflow.flows.deploy.scheduled_nightly"


def test_a_deployment_runs_one_night_at_a_time_and_cancels_the_newcomer(demo_config: Path) -> None:
    [deployment] = deployments_for(demo_config)
    assert deployment.concurrency_limit == 1
    assert deployment.concurrency_options is not None
    assert deployment.concurrency_options.collision_strategy == ConcurrencyLimitStrategy.CANCEL_NEW


def test_a_process_without_a_schedule_runs_at_two_in_the_morning_utc(demo_config: Path) -> None:
    [deployment] = deployments_for(demo_config)
    [schedule] = deployment.schedules or []
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "UTC")  # type: ignore[union-attr]


def test_no_schedule_gives_deployments_that_run_only_on_demand(demo_config: Path) -> None:
    [deployment] = deployments_for(demo_config, scheduled=False)
    assert not deployment.schedules


def test_the_schedule_key_of_a_process_is_read_with_its_time_zone(demo_config: Path, tmp_path: Path) -> None:
    config = _with_schedule(demo_config, tmp_path / "k.yaml",
                            {"cron": "30 1 * * 1-5", "timezone": "Europe/Berlin", "timeout_hours": 3})
    assert read_schedules(config) == {
        "purchase-to-pay": Schedule(cron="30 1 * * 1-5", timezone="Europe/Berlin", timeout_hours=3)
    }


def test_an_invalid_schedule_is_refused_naming_the_key(demo_config: Path, tmp_path: Path) -> None:
    config = _with_schedule(demo_config, tmp_path / "k.yaml", {"cron": "0 25 * * *"})
    with pytest.raises(ConfigError, match=r"processes\.0\.schedule"):
        read_schedules(config)


@pytest.mark.skipif("schedule" not in Process.model_fields,
                    reason="kaizenflow/config.py does not accept processes[].schedule yet")
def test_deployments_follow_the_schedule_of_the_configuration(demo_config: Path) -> None:
    config = _with_schedule(demo_config, demo_config.with_name("scheduled.yaml"),
                            {"cron": "15 3 * * *", "timezone": "Europe/Berlin", "timeout_hours": 2})
    [deployment] = deployments_for(config)
    [schedule] = deployment.schedules or []
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("15 3 * * *", "Europe/Berlin")  # type: ignore[union-attr]
    assert deployment.parameters["timeout_seconds"] == 2 * 3600.0


@pytest.mark.slow
def test_a_night_that_overruns_its_time_box_ends_timed_out(
    prefect_harness: None, demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Otherwise a hung night would hold the deployment's only slot and cancel every later one.

    A stage hangs: the demo night itself now takes about as long as the shortest box (1 s), so
    it finished first on a fast machine, and the alarm went off later in another test.
    """
    from kaizenflow.pipeline import night

    def hung(*arguments: object) -> None:
        time.sleep(30)

    monkeypatch.setattr(night, "read_window", hung)  # the read stage
    state = scheduled_nightly(str(demo_config), "purchase-to-pay", timeout_seconds=5, return_state=True)
    assert state.is_failed() and state.name == "TimedOut"


@pytest.mark.slow
def test_a_night_stopped_while_prefect_creates_a_task_run_still_ends_timed_out(
    prefect_harness: None, demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Prefect's alarm can go off inside its task engine, whose crash handling then raises
    'Task run is not set' instead of the time-out; the stage below fails the same way.

    It is the first stage after extraction and loading (stages with retries would sleep again),
    with a time box that the stages before it fit in even on a busy machine: the alarm must go
    off inside it (with a later stage and half a second, it did not always).
    """
    from kaizenflow.pipeline import night

    def stopped_by_the_alarm_then_crashed(*arguments: object) -> None:
        try:
            time.sleep(30)
        except BaseException as alarm:
            raise ValueError("Task run is not set") from alarm

    monkeypatch.setattr(night, "read_window", stopped_by_the_alarm_then_crashed)
    state = scheduled_nightly(str(demo_config), "purchase-to-pay", timeout_seconds=5, return_state=True)
    assert state.is_failed() and state.name == "TimedOut"
    assert "overran its time box" in str(state.message) + repr(state.data)


@pytest.mark.parametrize(("error", "retried"), [
    (SourceError("source s: row 7, field at: no timestamp"), False),
    (SourceError("source s: query failed: connection refused", transient=True), True),
    (OSError("disk full"), True),
])
def test_extraction_is_retried_only_when_reading_again_may_pass(error: Exception, retried: bool) -> None:
    assert worth_retrying(None, None, Failed(data=error)) is retried


@pytest.mark.slow
def test_a_source_with_a_bad_row_fails_the_night_without_reading_it_again(
    prefect_harness: None, demo_config: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from kaizenflow.pipeline import stages

    attempts: list[str] = []

    def bad_row(config: object, process: object, source: Any, watermarks: object = None) -> None:
        attempts.append(source.name)
        raise SourceError(f"source {source.name}: row 7, field created_at: not a timestamp")

    monkeypatch.setattr(stages, "extract", bad_row)
    state = nightly(str(demo_config), "purchase-to-pay", return_state=True)
    assert state.is_failed() and "row 7, field created_at" in str(state.message)
    assert attempts == ["requisitions"]


def test_a_database_that_cannot_be_reached_is_a_transient_source_error(tmp_path: Path) -> None:
    import kaizenflow.sources.sql
    from kaizenflow.sources.mapping import EventMapping

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    mapping = EventMapping(source="tickets", case_id="id", timestamp="at", activity="Open")
    with pytest.raises(SourceError) as raised:
        kaizenflow.sources.sql.extract_sql(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test", "SELECT 1",
                                mapping, "p", staging=tmp_path)
    assert raised.value.transient


@pytest.mark.slow
def test_a_night_waits_for_another_night_on_the_same_state(prefect_harness: None, demo_config: Path) -> None:
    """Processes sharing a state all start at two by default: the later ones wait, not fail."""
    from concurrent.futures import ThreadPoolExecutor

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterParentFlowRunId

    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.locking import run_lock

    config = load_config(demo_config)
    with ThreadPoolExecutor(max_workers=1) as pool:
        with run_lock(config.state_directory, config.state_url):
            night = pool.submit(scheduled_nightly, str(demo_config), "purchase-to-pay", 300.0,
                                return_state=True)
            time.sleep(3)
            released = datetime.now(ZoneInfo("UTC"))
        state = night.result(timeout=WAIT_SECONDS)
    assert state.is_completed(), state.message
    assert state.state_details.flow_run_id is not None
    with get_client(sync_client=True) as client:
        [subflow] = client.read_flow_runs(flow_run_filter=FlowRunFilter(
            parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[state.state_details.flow_run_id])
        ))
    assert subflow.start_time is not None and subflow.start_time >= released


# --- the commands, without a server ----------------------------------------------------------------


def _app() -> typer.Typer:
    app = typer.Typer()
    cli_serve.register(app, lambda command: command)
    return app


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_refuses_a_prefect_api_that_does_not_answer(demo_config: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    url = f"http://127.0.0.1:{_free_port()}/api"
    with temporary_settings(updates={PREFECT_API_URL: url}):
        result = CliRunner().invoke(_app(), ["serve", "--config", str(demo_config)])
    assert result.exit_code == 1
    assert f"no Prefect server answers at PREFECT_API_URL={url}" in result.output


def test_deploy_asks_for_the_team_server_when_none_is_set(demo_config: Path) -> None:
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(restore_defaults={PREFECT_API_URL}):
        result = CliRunner().invoke(_app(), ["deploy", "--config", str(demo_config), "--pool", "kaizen"])
    assert result.exit_code == 1
    assert "set PREFECT_API_URL" in result.output


# --- real servers ----------------------------------------------------------------------------------


@dataclass
class Server:
    api_url: str
    config_path: Path
    logs: list[Path]
    started_seconds: float
    web_url: str | None = None

    def tails(self) -> str:
        return "\n".join(f"--- {log}\n{cli_serve.log_tail(log, 40)}" for log in self.logs if log.exists())


def _child_env(home: Path, api_url: str | None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false",
               PM4PY_SHOW_PROGRESS_BAR="false", **extra)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    return env


def _start(command: list[str], env: dict[str, str], log: Path, cwd: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as output:
        return subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                env=env, cwd=cwd, start_new_session=True)


def _wait_for(what: str, ready: Any, server: Server, *children: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not ready():
        for child in children:
            if child.poll() is not None:
                pytest.fail(f"{what}: {child.args!r} exited with {child.returncode}\n{server.tails()}")
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {WAIT_SECONDS} s\n{server.tails()}")
        time.sleep(0.5)


def _deployment_exists() -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    with get_client(sync_client=True) as client:
        try:
            client.read_deployment_by_name(DEPLOYMENT)
        except ObjectNotFound:
            return False
    return True


@contextmanager
def _using(api_url: str) -> Iterator[None]:
    """This process's client on ``api_url``, whatever Prefect API the session's harness set."""
    from prefect.settings import PREFECT_API_URL, temporary_settings

    with temporary_settings(updates={PREFECT_API_URL: api_url}):
        yield


def _port_closes(port: int, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while cli_serve.port_taken("127.0.0.1", port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.5)
    return True


def _ask_for_night(timeout: float) -> FlowRun:
    """A run of the deployment, after it ended or after ``timeout`` seconds (0: at once)."""
    from prefect.deployments import run_deployment

    run = run_deployment(DEPLOYMENT, timeout=timeout, poll_interval=1)
    assert isinstance(run, FlowRun)  # called outside an event loop: no coroutine
    return run


def _run_night(server: Server) -> FlowRun:
    run = _ask_for_night(WAIT_SECONDS)
    assert run.state_type == StateType.COMPLETED, (
        f"{run.state!r}: {run.state and run.state.message}\n{server.tails()}"
    )
    return run


def _artifact_of(run: FlowRun, key: str) -> str:
    """An artifact the night published: the night runs as a subflow of the deployment's run."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        ArtifactFilter,
        ArtifactFilterFlowRunId,
        ArtifactFilterKey,
        FlowRunFilter,
        FlowRunFilterParentFlowRunId,
    )

    with get_client(sync_client=True) as client:
        [night] = client.read_flow_runs(
            flow_run_filter=FlowRunFilter(parent_flow_run_id=FlowRunFilterParentFlowRunId(any_=[run.id]))
        )
        [artifact] = client.read_artifacts(artifact_filter=ArtifactFilter(
            key=ArtifactFilterKey(any_=[key]), flow_run_id=ArtifactFilterFlowRunId(any_=[night.id])
        ))
    return str(artifact.data)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`kaizen serve` with no Prefect server set: it starts its own, on SQLite, beside the state;
    the configuration has a `web:` section, so it serves the web app too."""
    workdir = tmp_path_factory.mktemp("served")
    config_path, _ = prepare_demo(workdir, cases=600, seed=3)
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["web"] = {"base_url": "https://kaizen.example.com"}
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    port, web_port = _free_port(), _free_port()
    api_url = f"http://127.0.0.1:{port}/api"
    log = workdir / "serve.log"
    server = Server(api_url, config_path, [log, workdir / "state" / "prefect-server" / "server.log",
                                           workdir / "state" / "web.log"], 0.0,
                    web_url=f"http://127.0.0.1:{web_port}")
    started = time.monotonic()
    serve = _start(
        [sys.executable, "-c", CLI, "serve", "--config", str(config_path), "--no-schedule",
         "--port", str(port), "--web-port", str(web_port)],
        _child_env(workdir / "prefect-client", None, PREFECT_RUNNER_POLL_FREQUENCY="2"), log, workdir,
    )
    try:
        _wait_for("the Prefect server of kaizen serve", lambda: cli_serve.healthy(api_url), server, serve)
        server.started_seconds = time.monotonic() - started
        with _using(api_url):
            _wait_for("the served deployment", _deployment_exists, server, serve)
            yield server
    finally:
        cli_serve.stop_process_group(serve)
    assert _port_closes(port), f"kaizen serve left its Prefect server running\n{server.tails()}"
    assert _port_closes(web_port), f"kaizen serve left its web app running\n{server.tails()}"


@pytest.mark.slow
def test_kaizen_serve_runs_a_night_on_demand_and_publishes_its_summary(served: Server) -> None:
    with _using(served.api_url):
        run = _run_night(served)
        summary = _artifact_of(run, "purchase-to-pay-summary")
    assert "| cases | 600 |" in summary and "fitness" in summary


@pytest.mark.slow
def test_kaizen_serve_also_serves_the_web_app_of_a_configuration_with_a_web_section(served: Server) -> None:
    import httpx

    assert served.web_url is not None
    assert httpx.get(f"{served.web_url}/healthz", timeout=10).text == "ok"
    assert httpx.get(f"{served.web_url}/login", timeout=10).status_code == 200
    [log] = [path for path in served.logs if path.name == "serve.log"]
    assert f"web app ready at {served.web_url} (people reach it at https://kaizen.example.com)" in (
        log.read_text(encoding="utf-8"))


@pytest.mark.slow
def test_a_second_night_asked_for_while_one_runs_is_cancelled(served: Server) -> None:
    from prefect.client.orchestration import get_client

    with _using(served.api_url):
        asked = [_ask_for_night(0) for _ in range(2)]
        deadline = time.monotonic() + WAIT_SECONDS
        with get_client(sync_client=True) as client:
            while True:
                runs = [client.read_flow_run(run.id) for run in asked]
                if all(run.state and run.state.is_final() for run in runs) or time.monotonic() > deadline:
                    break
                time.sleep(1)
    outcomes = sorted((run.state_type, run.state.message if run.state else None) for run in runs)
    assert [kind for kind, _ in outcomes] == [StateType.CANCELLED, StateType.COMPLETED], served.tails()
    assert outcomes[0][1] == "Deployment concurrency limit reached."


# --- the team set-up: a Prefect server on PostgreSQL, a process work pool, a worker -----------------


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A database of its own on the local PostgreSQL, dropped afterwards."""
    pytest.importorskip("psycopg", reason="PostgreSQL driver psycopg is not installed")
    name = f"kaizen_prefect_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text(f"CREATE DATABASE {name}"))
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        engine.dispose()
        pytest.skip(f"PostgreSQL is not reachable at 127.0.0.1:5432 ({error.orig}): "
                    "the Prefect server on PostgreSQL is not tested")
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        with engine.connect() as connection:
            connection.execute(sa.text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        engine.dispose()


@pytest.fixture(scope="module")
def pooled(postgres_database: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    workdir = tmp_path_factory.mktemp("pooled")
    config_path, _ = prepare_demo(workdir, cases=600, seed=4)
    home = workdir / "prefect-server"
    server_env = {"PREFECT_API_DATABASE_CONNECTION_URL": postgres_database, "PREFECT_UI_ENABLED": "false",
                  "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "2"}
    started = time.monotonic()
    with cli_serve.prefect_server(home, port=_free_port(), env=server_env) as api_url:
        log = workdir / "worker.log"
        server = Server(api_url, config_path, [home / "server.log", log], time.monotonic() - started)
        # KAIZEN_HOME is for the prefect.yaml's pull step: the worker's checkout of the repository
        worker = _start(
            [sys.executable, "-m", "prefect", "worker", "start", "--pool", POOL, "--type", "process"],
            _child_env(workdir / "prefect-worker", api_url, PREFECT_WORKER_QUERY_SECONDS="2",
                       KAIZEN_HOME=str(REPOSITORY)),
            log, workdir,
        )
        try:
            with _using(api_url):
                _wait_for("the worker (it creates the pool)", _worker_online, server, worker)
                yield server
        finally:
            cli_serve.stop_process_group(worker)


def _worker_online() -> bool:
    from prefect.client.orchestration import get_client
    from prefect.exceptions import PrefectHTTPStatusError

    with get_client(sync_client=True) as client:
        try:
            return bool(client.read_workers_for_work_pool(POOL))
        except PrefectHTTPStatusError as error:
            if error.response.status_code == 404:  # the worker has not created the pool yet
                return False
            raise


def _kaizen(server: Server, *arguments: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI, *arguments], capture_output=True, text=True, timeout=WAIT_SECONDS,
        env=_child_env(server.config_path.parent / "prefect-cli", server.api_url),
        cwd=server.config_path.parent,
    )


def _renamed(config_path: Path, process: str) -> Path:
    """The demo configuration with its process renamed: a deployment of its own."""
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data["processes"][0]["name"] = process
    target = config_path.with_name(f"{process}.yaml")
    target.write_text(yaml.safe_dump(data), encoding="utf-8")
    return target


@pytest.mark.slow
def test_kaizen_deploy_puts_the_nights_on_a_pool_whose_worker_runs_them(pooled: Server) -> None:
    result = _kaizen(pooled, "deploy", "--config", str(pooled.config_path), "--pool", POOL)
    assert result.returncode == 0, result.stderr
    assert f"deployed {DEPLOYMENT} to work pool {POOL}" in result.stdout
    run = _run_night(pooled)
    assert "Approve Purchase Order" in _artifact_of(run, "purchase-to-pay-deviation-patterns")


@pytest.mark.slow
def test_kaizen_deploy_creates_a_missing_pool_as_a_process_pool(pooled: Server) -> None:
    from prefect.client.orchestration import get_client

    config = _renamed(pooled.config_path, "pool-check")
    result = _kaizen(pooled, "deploy", "--config", str(config), "--pool", "kaizen-new", "--no-schedule")
    assert result.returncode == 0, result.stderr
    assert "created process work pool kaizen-new" in result.stdout
    with get_client(sync_client=True) as client:
        assert client.read_work_pool("kaizen-new").type == "process"


@pytest.mark.slow
def test_the_prefect_yaml_deploys_a_night_that_the_worker_runs(pooled: Server) -> None:
    from prefect.client.orchestration import get_client

    # KAIZEN_HOME is not set here: the pull step reads it on the worker, at run time
    env = _child_env(pooled.config_path.parent / "prefect-cli", pooled.api_url,
                     KAIZEN_CONFIG=str(pooled.config_path))
    result = subprocess.run([sys.executable, "-m", "prefect", "deploy", "--no-prompt", "--all"],
                            capture_output=True, text=True, timeout=WAIT_SECONDS, env=env, cwd=REPOSITORY)
    assert result.returncode == 0, result.stdout + result.stderr
    with get_client(sync_client=True) as client:
        deployment = client.read_deployment_by_name(DEPLOYMENT)
    assert deployment.entrypoint == "kaizenflow/flows/deploy.py:scheduled_nightly"
    assert deployment.parameters["config_path"] == str(pooled.config_path)
    [schedule] = deployment.schedules
    assert (schedule.schedule.cron, schedule.schedule.timezone) == ("0 2 * * *", "Europe/Berlin")  # type: ignore[union-attr]
    assert deployment.work_pool_name == POOL
    _run_night(pooled)


@pytest.mark.slow
def test_the_server_schedules_the_coming_nights(pooled: Server) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterName

    [deployment] = deployments_for(_renamed(pooled.config_path, "scheduled-check"))
    deployment.apply(work_pool_name=POOL)
    deadline = time.monotonic() + 15  # the server's scheduler looks every 2 s here
    with get_client(sync_client=True) as client:
        while True:
            runs = client.read_flow_runs(deployment_filter=DeploymentFilter(
                name=DeploymentFilterName(any_=["nightly-scheduled-check"])))
            if runs or time.monotonic() > deadline:
                break
            time.sleep(1)
    starts = [run.expected_start_time for run in runs if run.state_type == StateType.SCHEDULED]
    assert starts, "the server created no scheduled run"
    utc = ZoneInfo("UTC")
    assert all(start is not None and (start.astimezone(utc).hour, start.minute) == (2, 0) for start in starts)
    assert all(start is not None and start > datetime.now(utc) for start in starts)
