"""One nightly run at a time on the same state: a second one waits a bounded time, then says why."""

from __future__ import annotations

import errno
import fcntl
import hashlib
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import make_url


class RunLockedError(RuntimeError):
    """Another run holds the state; the message says which state and how long we waited."""


@contextmanager
def run_lock(state_directory: Path, state_url: str, wait_seconds: float = 0) -> Iterator[None]:
    """Hold the state for one run.

    The file lock covers the embedded set-up (event store and SQLite state on one machine);
    with a PostgreSQL state database an advisory lock also covers runs on other machines.
    """
    state_directory.mkdir(parents=True, exist_ok=True)
    with _file_lock(state_directory / "run.lock", wait_seconds):
        if make_url(state_url).get_backend_name() == "postgresql":
            with _advisory_lock(state_url, wait_seconds):
                yield
        else:
            yield


@contextmanager
def _file_lock(path: Path, wait_seconds: float) -> Iterator[None]:
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as error:
                if error.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    raise RunLockedError(
                        f"another kaizenflow run is using {path.parent} (waited {wait_seconds:.0f} s); "
                        "try again when it has finished"
                    ) from None
                time.sleep(0.5)
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        yield
    finally:
        os.close(descriptor)  # closing releases the lock, also when the process is killed


@contextmanager
def _advisory_lock(state_url: str, wait_seconds: float) -> Iterator[None]:
    from kaizenflow.storage.state import unreachable

    key = int.from_bytes(hashlib.sha256(b"kaizenflow-run").digest()[:8], "big", signed=True)
    engine = sa.create_engine(state_url)
    try:
        try:
            opened = engine.connect()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            raise unreachable(state_url, error) from None
        with opened as connection:
            deadline = time.monotonic() + wait_seconds
            while not connection.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar_one():
                if time.monotonic() >= deadline:
                    raise RunLockedError(
                        "another kaizenflow run holds the state database "
                        f"(waited {wait_seconds:.0f} s); try again when it has finished"
                    )
                time.sleep(0.5)
            try:
                yield
            finally:
                connection.execute(sa.select(sa.func.pg_advisory_unlock(key)))
                connection.commit()
    finally:
        engine.dispose()
