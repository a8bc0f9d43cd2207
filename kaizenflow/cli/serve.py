"""Every night without cron: `kaizen serve` on one machine, `kaizen deploy` to a team's work pool."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="pipeline configuration (YAML)")]
NoScheduleOption = Annotated[
    bool, typer.Option("--no-schedule", help="register without schedules: runs start only on demand")
]
SERVER_START_TIMEOUT_SECONDS = 180.0  # a new database is migrated first: ~20 s on 2 cores, more on slow disks


class ServeError(RuntimeError):
    """The Prefect server cannot be started or reached; the message says what to do."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"kaizen: error: {message}", err=True)
    raise typer.Exit(code=1)


def healthy(api_url: str, timeout: float = 5.0) -> bool:
    """Whether a Prefect API answers at ``api_url`` (``http://host:port/api``)."""
    import httpx

    try:
        return httpx.get(f"{api_url.rstrip('/')}/health", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def port_taken(host: str, port: int) -> bool:
    """Whether something accepts connections there: a second server would fail to bind."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(1.0)
        return probe.connect_ex((host, port)) == 0


def log_tail(log: Path, lines: int = 15) -> str:
    """The end of a child's log, for an error message that says why it died."""
    try:
        return "\n".join(log.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def stop_process_group(process: subprocess.Popen[bytes], grace_seconds: float = 20.0) -> None:
    """SIGTERM to the child's own process group, SIGKILL if it outlives the grace period.

    The group, not the process: a server or worker may have started children of its own.
    """
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=grace_seconds)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=grace_seconds)
    except ProcessLookupError:
        process.wait(timeout=grace_seconds)


@contextmanager
def prefect_server(
    home: Path,
    host: str = "127.0.0.1",
    port: int = 4200,
    env: Mapping[str, str] | None = None,
    timeout_seconds: float = SERVER_START_TIMEOUT_SECONDS,
) -> Iterator[str]:
    """A ``prefect server start`` child process with its state in ``home``; yields its API URL.

    The server runs the scheduler, which the embedded API of ``kaizen run`` does not: without
    it no scheduled night would ever start. It is stopped when the block ends, however it ends.
    Its output goes to ``home/server.log``.
    """
    if port_taken(host, port):
        raise ServeError(
            f"something already listens on {host}:{port}: if it is a Prefect server, set "
            f"PREFECT_API_URL=http://{host}:{port}/api to use it, else choose another --port"
        )
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    api_url = f"http://{host}:{port}/api"
    child_env = {**os.environ, "PREFECT_HOME": str(home), "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
                 **(env or {})}
    child_env.pop("PREFECT_API_URL", None)  # the server is the API; it must not look for another
    log = home / "server.log"
    started = time.monotonic()
    with log.open("ab") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "prefect", "server", "start", "--host", host, "--port", str(port)],
            stdout=output, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=child_env,
            start_new_session=True,
        )
    try:
        while not healthy(api_url, timeout=2.0):
            if process.poll() is not None:
                raise ServeError(f"the Prefect server exited with code {process.returncode}:\n"
                                 f"{log_tail(log)}")
            if time.monotonic() - started > timeout_seconds:
                raise ServeError(f"the Prefect server did not answer within {timeout_seconds:.0f} s "
                                 f"(its log: {log})")
            time.sleep(0.5)
        typer.echo(f"Prefect server ready at {api_url} after {time.monotonic() - started:.1f} s "
                   f"(dashboard http://{host}:{port}, log {log})", err=True)
        yield api_url
    finally:
        stop_process_group(process)


WEB_START_TIMEOUT_SECONDS = 60.0


@contextmanager
def web_app(config_path: Path, log: Path, host: str = "127.0.0.1", port: int = 8080,
            proxies: Sequence[str] = ("127.0.0.1", "::1"),
            timeout_seconds: float = WEB_START_TIMEOUT_SECONDS) -> Iterator[str]:
    """The web app (what `kaizen web` serves: uvicorn, the configuration's app) as a child process
    on ``host:port``; yields its URL once it answers and stops it when the block ends. Started
    through the lifeline launcher, it also ends when this process is killed. Its output goes to
    ``log``."""
    from kaizenflow.flows.lifeline import bound_command

    if port_taken(host, port):
        raise ServeError(f"something already listens on {host}:{port}: choose another --web-port, "
                         "or leave the web app out with --no-web")
    log.parent.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    env = {**os.environ, "KAIZEN_WEB_CONFIG": str(config_path.resolve())}
    command = [sys.executable, "-m", "uvicorn", "kaizenflow.web.serve:application", "--factory",
               "--host", host, "--port", str(port), "--proxy-headers",
               "--forwarded-allow-ips", ",".join(proxies), "--log-level", "warning"]
    started = time.monotonic()
    with log.open("ab") as output:
        process = subprocess.Popen(bound_command(command), stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=env, start_new_session=True)
    try:
        while not _answers(f"{url}/healthz"):
            if process.poll() is not None:
                raise ServeError(f"the web app exited with code {process.returncode}:\n{log_tail(log)}")
            if time.monotonic() - started > timeout_seconds:
                raise ServeError(f"the web app did not answer within {timeout_seconds:.0f} s "
                                 f"(its log: {log})")
            time.sleep(0.2)
        yield url
    finally:
        stop_process_group(process)


def _answers(url: str) -> bool:
    import httpx

    try:
        return httpx.get(url, timeout=2.0).status_code == 200
    except httpx.HTTPError:
        return False


def _configured_api_url() -> str | None:
    """PREFECT_API_URL from the environment or the active Prefect profile."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value() or None


def serve(
    config: ConfigOption,
    no_schedule: NoScheduleOption = False,
    host: Annotated[str, typer.Option(help="address of the Prefect server started when none is set")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(help="port of the Prefect server started when none is set")] = 4200,
    web_host: Annotated[str, typer.Option(help="address the web app listens on (as `kaizen web --host`)")]
    = "127.0.0.1",
    web_port: Annotated[int, typer.Option(help="port of the web app (as `kaizen web --port`)")] = 8080,
    no_web: Annotated[bool, typer.Option("--no-web", help="do not start the web app")] = False,
) -> None:
    """Run every process's night on its schedule from this machine, until stopped.

    Uses the Prefect server of PREFECT_API_URL; without one, starts a local server whose state
    is kept beside kaizenflow's (its dashboard shows every night). With a `web:` section in the
    configuration it also serves the web app (as `kaizen web` would), stopped with the rest.
    """
    from prefect import serve as prefect_serve
    from prefect.settings import PREFECT_API_URL, temporary_settings

    from kaizenflow.flows.deploy import deployments_for
    from kaizenflow.pipeline.config import load_config

    loaded = load_config(config)
    deployments = deployments_for(config, scheduled=not no_schedule)
    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"  # the runs are child processes: they inherit it
    api_url = _configured_api_url()
    try:
        with ExitStack() as children:
            if api_url and not healthy(api_url):
                _fail(f"no Prefect server answers at PREFECT_API_URL={api_url}")
            if "web" in loaded.model_fields_set and not no_web:
                url = children.enter_context(web_app(config, loaded.state_directory / "web.log", web_host,
                                                     web_port, loaded.web.proxy_addresses))
                public = f" (people reach it at {loaded.web.base_url})" if loaded.web.base_url else ""
                typer.echo(f"web app ready at {url}{public}, log {loaded.state_directory / 'web.log'}",
                           err=True)
            if api_url:
                prefect_serve(*deployments)
                return
            started_url = children.enter_context(
                prefect_server(loaded.state_directory / "prefect-server", host, port))
            with temporary_settings(updates={PREFECT_API_URL: started_url}):
                prefect_serve(*deployments)
    except ServeError as error:
        _fail(str(error))


def deploy(
    config: ConfigOption,
    pool: Annotated[str, typer.Option("--pool", "-p", help="work pool whose workers run the nights")],
    no_schedule: NoScheduleOption = False,
    as_json: Annotated[bool, typer.Option("--json", help="machine-readable output")] = False,
) -> None:
    """Register every process's nightly deployment on the Prefect server, for a work pool's workers.

    The pool is created as a process pool if it does not exist. Workers need kaizenflow installed
    and the configuration (and what it names) at the same path.
    """
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate
    from prefect.exceptions import ObjectNotFound
    from prefect.workers.process import ProcessWorker

    from kaizenflow.flows.deploy import deployments_for

    api_url = _configured_api_url()
    if not api_url:
        _fail("set PREFECT_API_URL to the team's Prefect server (e.g. http://prefect.example:4200/api)")
    if not healthy(api_url):
        _fail(f"no Prefect server answers at PREFECT_API_URL={api_url}")
    deployments = deployments_for(config, scheduled=not no_schedule)
    created = False
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(pool)
        except ObjectNotFound:
            client.create_work_pool(WorkPoolCreate(
                name=pool, type="process",
                base_job_template=ProcessWorker.get_default_base_job_template(),
            ))
            created = True
    applied = []
    for deployment in deployments:
        deployment.apply(work_pool_name=pool)
        applied.append(f"{deployment.flow_name}/{deployment.name}")
    if as_json:
        typer.echo(json.dumps({"work_pool": pool, "work_pool_created": created, "deployments": applied,
                               "worker_command": f"prefect worker start --pool {pool}"}, indent=2))
        return
    if created:
        typer.echo(f"created process work pool {pool}")
    for name in applied:
        typer.echo(f"deployed {name} to work pool {pool}")
    typer.echo(f"start a worker on each machine that may run them: prefect worker start --pool {pool}")


def register(app: typer.Typer, reported: Any) -> None:
    app.command("serve")(reported(serve))
    app.command("deploy")(reported(deploy))
