"""Nothing a night starts outlives it: its embedded Prefect server and its worker processes end
with the process that started them, even when that one is killed with SIGKILL.

A killed process runs no clean-up, so each child watches its parent itself:

- the embedded server is started through a tiny launcher that asks Linux for a signal when its
  parent dies (``prctl(PR_SET_PDEATHSIG)``, kept across ``exec``), then becomes the server;
- a worker of the process pool runs a thread that ends the worker once its parent is gone
  (its parent process id changes when it is re-parented).
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from prefect.server.api.server import SubprocessASGIServer

#: Run as ``python -c LAUNCHER <parent pid> <command...>``: ask for SIGTERM when the parent dies
#: (PR_SET_PDEATHSIG is option 1 of prctl), give up if it already has, then exec the command.
LAUNCHER = (
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))\n"
    "if os.getppid() != int(sys.argv[1]):\n"
    "    sys.exit(1)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)
POLL_SECONDS = 0.5


def bound_command(command: Sequence[str]) -> list[str]:
    """``command`` started so that it ends when this process does (Linux; elsewhere unchanged).

    The signal is sent when the *thread* that started the child ends: start it from a thread
    that lives as long as the child should (the main thread of a night).
    """
    if not sys.platform.startswith("linux"):
        return list(command)
    return [sys.executable, "-c", LAUNCHER, str(os.getpid()), *command]


class BoundServer(SubprocessASGIServer):
    """Prefect's temporary server (the one its client would start), ending with its parent.

    It shares Prefect's registry of temporary servers: created first, it is the one Prefect's
    own code (its client, its events worker) finds and reuses instead of starting another.
    """

    def _run_uvicorn_command(self) -> Any:
        from prefect.server.api import server as module

        namespace = vars(module)  # the module's globals: where its start looks `subprocess` up
        real = namespace["subprocess"]

        class _Bound:
            """The subprocess module as Prefect's start sees it: its one Popen goes through the
            launcher, everything else is the real module."""

            def __getattr__(self, name: str) -> Any:
                return getattr(real, name)

            @staticmethod
            def Popen(args: Sequence[str], **options: Any) -> Any:  # noqa: N802 - the module's name
                return real.Popen(bound_command(args), **options)

        namespace["subprocess"] = _Bound()
        try:
            return super()._run_uvicorn_command()
        finally:
            namespace["subprocess"] = real


def end_with_parent() -> None:
    """A process pool worker's initializer: the worker ends (SIGKILL to itself) once its parent
    process is gone, instead of waiting forever for work that will not come."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(POLL_SECONDS)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="kaizen-lifeline", daemon=True).start()
