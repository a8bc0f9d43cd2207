"""The web app with its state on PostgreSQL: several processes serve one installation at once.

A night's state (runs, tasks, accounts, sessions, the audit log) lives in the PostgreSQL server,
so a session signed in through one worker process is valid in the others, and changes made
through different processes at the same moment are all kept.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
import yaml
from web_support import PASSWORD, csrf_of, free_port, serving, signed_in

from kaizenflow.improvement.types import ACKNOWLEDGED, OPEN, Task
from kaizenflow.pipeline.config import KaizenConfig, load_config

pytestmark = pytest.mark.slow

WORKERS = 2


@pytest.fixture
def night_on_postgresql(tmp_path: Path, postgres_url: str) -> KaizenConfig:
    """The demo's night with its state database on PostgreSQL, and two owners' accounts."""
    from kaizenflow.cli.demo import prepare_demo
    from kaizenflow.pipeline.night import run_night
    from kaizenflow.pipeline.resources import Resources
    from kaizenflow.reports.night import write_night_report

    config_path, _ = prepare_demo(tmp_path / "demo", cases=400, seed=7)
    data = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    data.setdefault("storage", {})["state_url"] = postgres_url
    config_path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    config = load_config(config_path)
    with Resources.open(config) as resources:
        run_night(resources, config.processes[0], report=write_night_report)
    return config


def _owners_with_open_tasks(config: KaizenConfig) -> dict[str, Task]:
    from kaizenflow.storage.state import StateStore

    store = StateStore(config.state_url)
    try:
        first: dict[str, Task] = {}
        for task in store.list_tasks(status=OPEN):
            first.setdefault(task.owner, task)
        return first
    finally:
        store.dispose()


def _add_owners(config: KaizenConfig, owners: list[str]) -> None:
    from kaizenflow.storage.accounts import OWNER, AccountStore
    from kaizenflow.storage.state import StateStore

    store = StateStore(config.state_url)
    try:
        for owner in owners:
            AccountStore(store.engine).add_user(owner, OWNER, PASSWORD)
    finally:
        store.dispose()


def _worker_pids(pid: int) -> list[int]:
    """The uvicorn worker processes of the supervisor ``pid`` (Linux /proc): its spawned children,
    not multiprocessing's resource tracker."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text(encoding="utf-8").split()
    return [int(child) for child in children
            if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes()]


@pytest.fixture
def served_by_workers(night_on_postgresql: KaizenConfig) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`kaizen web --workers 2`, once both workers run."""
    port = free_port()
    config = night_on_postgresql
    kaizen = Path(sys.executable).with_name("kaizen")
    command = [str(kaizen), "web", "--config", str(config.base_dir / "kaizen.yaml"), "--port", str(port),
               "--workers", str(WORKERS)]
    with serving(command, port, config.base_dir / "web.log", os.environ,
                 ready=lambda process: len(_worker_pids(process.pid)) == WORKERS,
                 timeout_seconds=90) as served:
        yield served


def test_two_worker_processes_serve_sessions_and_keep_every_change_on_postgresql(
    night_on_postgresql: KaizenConfig, served_by_workers: tuple[str, subprocess.Popen[bytes]]
) -> None:
    url, process = served_by_workers
    assert len(_worker_pids(process.pid)) == WORKERS
    tasks = _owners_with_open_tasks(night_on_postgresql)
    owners = sorted(tasks)[:2]
    assert len(owners) == 2, f"the demo night raised too few owners' tasks: {sorted(tasks)}"
    _add_owners(night_on_postgresql, owners)

    def work(owner: str) -> list[int]:
        """Sign in, read the board many times (the requests spread over the workers), act once."""
        task = tasks[owner]
        with signed_in(url, owner) as client:
            cookies = dict(client.cookies)

        def ask(path: str) -> httpx.Response:  # a new connection each: any worker may accept it
            return httpx.get(f"{url}{path}", cookies=cookies, headers={"Connection": "close"})

        codes = [ask("/tasks").status_code for _ in range(20)]
        token = csrf_of(ask(f"/tasks/{task.task_id}").text)
        codes.append(httpx.post(f"{url}/tasks/{task.task_id}/status", cookies=cookies,
                                data={"status": ACKNOWLEDGED, "csrf_token": token}).status_code)
        codes += [ask(f"/tasks/{task.task_id}").status_code for _ in range(10)]
        return codes

    with ThreadPoolExecutor(max_workers=len(owners)) as pool:
        answers = dict(zip(owners, pool.map(work, owners), strict=True))

    for owner, codes in answers.items():
        assert codes[:20] == [200] * 20 and codes[20] == 303 and codes[21:] == [200] * 10, owner
    from kaizenflow.storage.accounts import AccountStore
    from kaizenflow.storage.state import StateStore

    store = StateStore(night_on_postgresql.state_url)
    try:
        statuses = {owner: store.task(tasks[owner].task_id).status for owner in owners}
        audited = {owner: [e for e in AccountStore(store.engine).audit_entries(username=owner)
                           if e.action == "task_status"] for owner in owners}
    finally:
        store.dispose()
    assert statuses == {owner: ACKNOWLEDGED for owner in owners}
    assert all(len(entries) == 1 for entries in audited.values()), audited
