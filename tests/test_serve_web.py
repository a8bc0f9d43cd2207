"""The web app as `kaizen serve` starts it: a child process that answers while its block runs and is
gone after it, even when the process that started it is killed. (`kaizen serve` itself, with its
Prefect server, is walked in tests/test_deploy.py.)"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from ticket_support import write_config
from web_support import free_port

from kaizenflow.cli.serve import ServeError, port_taken, web_app


def _config(directory: Path) -> Path:
    return write_config(directory, web={})


def _closes(port: int, seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while port_taken("127.0.0.1", port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def test_the_web_app_answers_while_its_block_runs_and_is_gone_after(tmp_path: Path) -> None:
    port = free_port()
    with web_app(_config(tmp_path), tmp_path / "web.log", port=port) as url:
        assert url == f"http://127.0.0.1:{port}"
        assert httpx.get(f"{url}/healthz", timeout=10).text == "ok"
        assert httpx.get(f"{url}/login", timeout=10).status_code == 200
    assert _closes(port)


def test_a_taken_port_is_refused_before_anything_starts(tmp_path: Path) -> None:
    port = free_port()
    with web_app(_config(tmp_path), tmp_path / "web.log", port=port), \
            pytest.raises(ServeError, match=f"already listens on 127.0.0.1:{port}.*--no-web"):
        with web_app(_config(tmp_path), tmp_path / "again.log", port=port):
            pass


def test_the_web_app_ends_when_the_process_that_started_it_is_killed(tmp_path: Path) -> None:
    port = free_port()
    script = ("import sys, time; from pathlib import Path; from kaizenflow.cli.serve import web_app\n"
              "with web_app(Path(sys.argv[1]), Path(sys.argv[2]), port=int(sys.argv[3])) as url:\n"
              "    print(url, flush=True); time.sleep(600)\n")
    arguments = [str(_config(tmp_path)), str(tmp_path / "web.log"), str(port)]
    parent = subprocess.Popen([sys.executable, "-c", script, *arguments], stdout=subprocess.PIPE)
    try:
        assert parent.stdout is not None
        url = parent.stdout.readline().decode().strip()
        assert httpx.get(f"{url}/healthz", timeout=10).status_code == 200
        os.kill(parent.pid, signal.SIGKILL)  # no clean-up runs: only the lifeline can end the app
        parent.wait(timeout=10)
        assert _closes(port), "the web app outlived the process that started it"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(timeout=10)
        if parent.stdout is not None:
            parent.stdout.close()
