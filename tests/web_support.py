"""The web app's test bed: a demo night with a hostile activity name, its accounts, a served app."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import yaml

if TYPE_CHECKING:
    from kaizenflow.pipeline.config import KaizenConfig

#: What a source system could call an activity; the app must show it as text, never run it.
HOSTILE = "<script>window.pwned=1;alert('pwned')</script> Change Purchase Order"
PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class WebNight:
    """A configuration after one real night, with one account per role."""

    config_path: Path
    process: str
    owner_a: str  # owns at least two tasks
    owner_b: str  # owns at least one other task
    analyst: str = "analyst@example.com"
    viewer: str = "viewer@example.com"
    admin: str = "admin@example.com"


def prepare_web_night(directory: Path) -> WebNight:
    """The demo purchase-to-pay night (Prefect flow, reports, exports, alignment cache) with the
    order-change activity renamed to HOSTILE, and accounts for two owners, an analyst, a viewer
    and an admin."""
    from kaizenflow.cli.demo import prepare_demo
    from kaizenflow.flows.nightly import run_nightly
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.storage.accounts import ADMIN, ANALYST, OWNER, VIEWER, AccountStore
    from kaizenflow.storage.state import StateStore

    config_path, _ = prepare_demo(directory, cases=600, seed=7)
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for source in data["processes"][0]["sources"]:
        if source["name"] == "po_changes":
            source["activity"] = HOSTILE
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    run_nightly(str(config_path))
    config = load_config(config_path)
    store = StateStore(config.state_url)
    try:
        tasks = store.list_tasks()
        by_owner: dict[str, int] = {}
        for task in tasks:
            by_owner[task.owner] = by_owner.get(task.owner, 0) + 1
        owners = sorted(by_owner, key=lambda name: (-by_owner[name], name))
        assert len(owners) >= 2 and by_owner[owners[0]] >= 2, f"too few tasks for the tests: {by_owner}"
        night = WebNight(config_path=config_path, process=config.processes[0].name,
                         owner_a=owners[0], owner_b=owners[1])
        accounts = AccountStore(store.engine)
        for name, role in ((night.owner_a, OWNER), (night.owner_b, OWNER), (night.analyst, ANALYST),
                           (night.viewer, VIEWER), (night.admin, ADMIN)):
            accounts.add_user(name, role, PASSWORD)
    finally:
        store.dispose()
    return night


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serving(
    command: list[str], port: int, log: Path, env: Mapping[str, str],
    ready: Callable[[subprocess.Popen[bytes]], bool] = lambda process: True, timeout_seconds: float = 60,
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A web server ``command`` in a child process (its own session) answering on ``port`` of
    127.0.0.1: its URL once ``/healthz`` answers and ``ready`` holds, and the process."""
    from kaizenflow.cli.serve import log_tail, stop_process_group

    with log.open("ab") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, env=dict(env), start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200 and ready(process):
                    break
            except (httpx.HTTPError, OSError):
                pass
            if process.poll() is not None or time.monotonic() - started > timeout_seconds:
                raise RuntimeError(f"the web app did not start:\n{log_tail(log)}")
            time.sleep(0.2)
        yield url, process
    finally:
        stop_process_group(process, grace_seconds=10)


@contextmanager
def served(config_path: Path, timeout_seconds: float = 60) -> Iterator[str]:
    """The web app served by uvicorn in a child process on a free port of 127.0.0.1; yields its URL.

    A process of its own, as in production: the event store's file lock is per process, and the
    tests that hold it must hold it against the app.
    """
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "kaizenflow.web.serve:application", "--factory",
               "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    with serving(command, port, config_path.parent / f"web-{port}.log",
                 {**os.environ, "KAIZEN_WEB_CONFIG": str(config_path)},
                 timeout_seconds=timeout_seconds) as (url, _):
        yield url


@contextmanager
def served_in_thread(config: KaizenConfig) -> Iterator[str]:
    """The app on uvicorn in a thread of this process: these tests hold no event store lock."""
    import threading

    import uvicorn

    from kaizenflow.web.app import create_app

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(config), host="127.0.0.1", port=port,
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = time.monotonic()
    while not server.started:
        assert thread.is_alive() and time.monotonic() - started < 30, "the web app did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


@contextmanager
def signed_in(url: str, username: str, password: str = PASSWORD) -> Iterator[httpx.Client]:
    """An HTTP client with a session of ``username`` (signed in through the form, as a browser)."""
    with httpx.Client(base_url=url, timeout=30) as client:
        form = client.get("/login")
        answer = client.post("/login", data={"csrf_token": csrf_of(form.text), "username": username,
                                             "password": password, "next": "/"})
        assert answer.status_code == 303, answer.text
        yield client
