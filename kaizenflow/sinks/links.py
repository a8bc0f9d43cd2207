"""Which remote issue stands for which task, per target (a GitHub repository, a Jira project)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Protocol

import sqlalchemy as sa

from kaizenflow.storage.schema import sink_links


class LinkStore(Protocol):
    """Remembers the remote issue of a task so updates need no search. It is a cache: the
    marker in the issue itself stays the truth, so a lost link is found again by searching."""

    def get(self, target: str, fingerprint: str) -> str | None: ...

    def put(self, target: str, fingerprint: str, remote_id: str) -> None: ...


class MemoryLinks:
    """Links kept for the life of the process: tests, and sinks used without a database."""

    def __init__(self) -> None:
        self._links: dict[tuple[str, str], str] = {}
        self._lock = threading.Lock()

    def get(self, target: str, fingerprint: str) -> str | None:
        with self._lock:
            return self._links.get((target, fingerprint))

    def put(self, target: str, fingerprint: str, remote_id: str) -> None:
        with self._lock:
            self._links[(target, fingerprint)] = remote_id


class DatabaseLinks:
    """Links in the ``sink_links`` table of the state database, beside the outbox."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def get(self, target: str, fingerprint: str) -> str | None:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(sink_links.c.remote_id).where(
                    sink_links.c.target == target, sink_links.c.fingerprint == fingerprint
                )
            ).scalar()

    def put(self, target: str, fingerprint: str, remote_id: str) -> None:
        """Insert or overwrite: the remote issue found last is the one to keep."""
        key = (sink_links.c.target == target) & (sink_links.c.fingerprint == fingerprint)
        for _ in range(2):
            now = datetime.now(UTC)
            try:
                with self.engine.begin() as connection:
                    if connection.execute(
                        sink_links.update().where(key).values(remote_id=remote_id, linked_at=now)
                    ).rowcount:
                        return
                    connection.execute(sink_links.insert().values(
                        target=target, fingerprint=fingerprint, remote_id=remote_id, linked_at=now,
                    ))
                    return
            except sa.exc.IntegrityError:
                continue  # another deliverer linked the task meanwhile: update its row instead
