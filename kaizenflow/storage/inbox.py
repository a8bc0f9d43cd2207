"""What the sinks' services sent back about their tickets and was taken in: the outbox's counterpart.

A happening (a comment, a closing) is named by the service's own id: ``comment:<id>``,
``closed:<when>``. Taking one in is a unique insert, so whichever comes first of a webhook, a
poll or a second poller takes it and the others see it taken; it happens before the change is
made and is given back if the change fails, so a failed change is tried again by the next poll.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

import sqlalchemy as sa

from kaizenflow.storage.schema import remote_happenings


def take(engine: sa.Engine, target: str, remote_id: str, happening: str,
         remote_at: datetime | None = None) -> bool:
    """Record the happening as taken in; False when it already was (then nothing is to be done)."""
    try:
        with engine.begin() as connection:
            connection.execute(remote_happenings.insert().values(
                target=target, happening=happening[:255], remote_id=remote_id, remote_at=remote_at,
                taken_at=datetime.now(UTC)))
    except sa.exc.IntegrityError:
        return False
    return True


def give_back(engine: sa.Engine, target: str, happening: str) -> None:
    """Forget a happening whose change failed, so that it is taken in again later."""
    with engine.begin() as connection:
        connection.execute(remote_happenings.delete().where(
            remote_happenings.c.target == target, remote_happenings.c.happening == happening[:255]))


def taken(engine: sa.Engine, target: str, happenings: Iterable[str]) -> set[str]:
    """Which of these happenings of one target were taken in already."""
    wanted = {h[:255] for h in happenings}
    if not wanted:
        return set()
    with engine.connect() as connection:
        return set(connection.execute(sa.select(remote_happenings.c.happening).where(
            remote_happenings.c.target == target, remote_happenings.c.happening.in_(wanted))).scalars())


def latest(engine: sa.Engine, target: str, remote_id: str) -> datetime | None:
    """The time of the newest happening taken in from one ticket (in UTC): a poll lists from there."""
    with engine.connect() as connection:
        found: datetime | None = connection.execute(
            sa.select(sa.func.max(remote_happenings.c.remote_at)).where(
                remote_happenings.c.target == target, remote_happenings.c.remote_id == remote_id)
        ).scalar()
    if found is None:
        return None
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)
