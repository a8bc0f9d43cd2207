"""Two runs on the same state: the second waits a bounded time, then stops with a clear message."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from kaizenflow.pipeline.locking import RunLockedError, run_lock

HOLD = """
import sys, time
from pathlib import Path
from kaizenflow.pipeline.locking import run_lock
with run_lock(Path(sys.argv[1]), sys.argv[2]):
    print("held", flush=True)
    time.sleep(30)
"""


def hold(state: Path, url: str) -> subprocess.Popen[str]:
    process = subprocess.Popen([sys.executable, "-c", HOLD, str(state), url],
                               stdout=subprocess.PIPE, text=True)
    assert process.stdout is not None and process.stdout.readline().strip() == "held"
    return process


def stop(process: subprocess.Popen[str]) -> None:
    process.kill()
    process.wait()
    assert process.stdout is not None
    process.stdout.close()


def test_a_second_run_on_the_same_state_stops_with_a_clear_message(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kaizen.db'}"
    holder = hold(tmp_path, url)
    try:
        started = time.monotonic()
        with pytest.raises(RunLockedError, match="another kaizenflow run is using"), \
                run_lock(tmp_path, url, wait_seconds=1):
            pass
        assert time.monotonic() - started < 5
    finally:
        stop(holder)


def test_the_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'kaizen.db'}"
    stop(hold(tmp_path, url))
    with run_lock(tmp_path, url):
        pass


def test_runs_on_other_machines_are_kept_apart_by_the_postgresql_state(
    tmp_path: Path, postgres_url: str
) -> None:
    holder = hold(tmp_path / "machine-a", postgres_url)
    try:
        with pytest.raises(RunLockedError, match="holds the state database"), \
                run_lock(tmp_path / "machine-b", postgres_url, wait_seconds=1):
            pass
    finally:
        stop(holder)
