"""Nothing a night starts outlives it: SIGKILL `kaizen run` and no process it started survives;
staged folders of killed nights are removed by the next night."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.locking import run_lock
from kaizenflow.pipeline.preflight import preflight
from kaizenflow.sample_logs import BPMN_PATH, SimulationConfig, generate
from kaizenflow.storage.staging import stage

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(),
                                reason="reads processes from /proc (Linux)")
SAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
KAIZEN = Path(sys.executable).with_name("kaizen")


def sample(directory: Path, cases: int = 300) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    generate(f"sqlite:///{directory / 'p2p.db'}", SimulationConfig(cases=cases, days=60))
    shutil.copy(BPMN_PATH, directory / "purchase_to_pay.bpmn")
    path = directory / "kaizen.yaml"
    path.write_text(SAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _stat(pid: int) -> tuple[int, int, str] | None:
    """A process's parent id, start time (clock ticks since boot) and state, from /proc."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[1]), int(fields[19]), fields[0]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:160]
    except OSError:
        return ""


def descendants(root: int) -> dict[int, tuple[int, str]]:
    """Every live descendant of ``root``: its start time and command line."""
    parents: dict[int, int] = {}
    starts: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                parents[int(entry.name)], starts[int(entry.name)] = found[0], found[1]
    tree: dict[int, tuple[int, str]] = {}
    frontier = [root]
    while frontier:
        parent = frontier.pop()
        for pid, ppid in parents.items():
            if ppid == parent and pid not in tree:
                tree[pid] = (starts[pid], _cmdline(pid))
                frontier.append(pid)
    return tree


def alive(pid: int, started: int) -> bool:
    found = _stat(pid)
    return found is not None and found[1] == started and found[2] != "Z"


@pytest.mark.slow
def test_a_killed_run_leaves_no_process_behind(tmp_path: Path) -> None:
    """Before: the embedded Prefect server (and the pool's workers) lived on with parent PID 1."""
    config = sample(tmp_path / "night")
    environment = {k: v for k, v in os.environ.items()
                   if not k.startswith("PREFECT_") and k != "PYTEST_CURRENT_TEST"}
    run = subprocess.Popen([str(KAIZEN), "run", "--prefect", "--config", str(config)], env=environment,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seen: dict[int, tuple[int, str]] = {}
    deadline = time.monotonic() + 300
    server_up = None
    try:
        # kill mid-night: a few seconds after the embedded server runs (the flow is under way)
        while time.monotonic() < deadline and run.poll() is None:
            seen.update(descendants(run.pid))
            if server_up is None and any("uvicorn" in line for _, line in seen.values()):
                server_up = time.monotonic()
            if server_up is not None and time.monotonic() > server_up + 3:
                break
            time.sleep(0.2)
        assert run.poll() is None, "the night ended before it could be killed"
        seen.update(descendants(run.pid))
        run.send_signal(signal.SIGKILL)
        run.wait()
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert any("uvicorn" in line for _, line in seen.values())
    survivors: list[str] = []
    until = time.monotonic() + 20
    while time.monotonic() < until:
        survivors = [line for pid, (created, line) in seen.items() if alive(pid, created)]
        if not survivors:
            break
        time.sleep(0.5)
    for pid, (created, _) in seen.items():  # do not leave them to the next test either
        if alive(pid, created):
            os.kill(pid, signal.SIGKILL)
    assert survivors == []


WORKER_PARENT = """
import sys, time
from concurrent.futures import ProcessPoolExecutor
import multiprocessing
from kaizenflow.flows.lifeline import end_with_parent
import os

if __name__ == "__main__":
    spawn = multiprocessing.get_context("spawn")
    pool = ProcessPoolExecutor(1, mp_context=spawn, initializer=end_with_parent)
    print(pool.submit(os.getpid).result(), flush=True)
    time.sleep(120)
"""


def test_a_pool_worker_ends_when_its_parent_is_killed(tmp_path: Path) -> None:
    """Before: a spawned worker waited for work forever once its parent was gone."""
    script = tmp_path / "parent.py"
    script.write_text(WORKER_PARENT, encoding="utf-8")
    with subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True) as parent:
        assert parent.stdout is not None
        worker = int(parent.stdout.readline())
        found = _stat(worker)
        assert found is not None
        parent.send_signal(signal.SIGKILL)
        parent.wait()
    until = time.monotonic() + 10
    while alive(worker, found[1]) and time.monotonic() < until:
        time.sleep(0.2)
    if alive(worker, found[1]):
        os.kill(worker, signal.SIGKILL)
        pytest.fail("the worker outlived its parent")


def test_staged_folders_of_killed_nights_are_removed_when_the_next_night_starts(tmp_path: Path) -> None:
    """Before: only folders older than a day went, so 20 killed nights left 20 folders."""
    config = load_config(sample(tmp_path / "night", cases=50))
    staging = config.staging_directory
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True,
                          text=True, check=True)
    killed = staging / f"{dead.stdout.strip()}.purchase-to-pay.invoices.x1y2z3"
    killed.mkdir(parents=True)
    (killed / "events-000000.parquet").write_bytes(b"half a file")
    legacy = staging / "purchase-to-pay.requisitions.abc123"  # named before folders carried a pid
    legacy.mkdir()
    with subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"]) as other:
        # a live process's folder (a tool staging without the run lock) is left to it
        live = staging / f"{other.pid}.purchase-to-pay.invoices.q9w8e7"
        live.mkdir()
        with run_lock(config.state_directory, config.state_url):
            preflight(config)
        other.kill()
    assert sorted(path.name for path in staging.iterdir()) == [live.name]


def test_a_staged_folder_names_the_process_that_made_it(tmp_path: Path) -> None:
    import pandas as pd

    directory, _, _ = stage(tmp_path, "p", "s", [(pd.DataFrame(), None)])
    assert directory.name.startswith(f"{os.getpid()}.p.s.")
