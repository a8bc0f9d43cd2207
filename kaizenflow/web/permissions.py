"""Who may do what in the web app: pure functions of a user and a task or process.

viewer reads; owner acts on the tasks they own (named after them) or whose scope
(attribute=value) they own; analyst acts on every task of their processes and accepts
patterns; admin does what an analyst does on every process, and manages users. A user with
a list of processes sees only those (an empty list: all).
"""

from __future__ import annotations

from typing import Protocol

from kaizenflow.storage.accounts import ADMIN, ANALYST, OWNER, User


class Owned(Protocol):
    """What permissions look at of a task (a stored Task or a board card)."""

    @property
    def process(self) -> str: ...

    @property
    def owner(self) -> str: ...

    @property
    def business_object(self) -> str | None: ...


def can_read(user: User, process: str) -> bool:
    return user.role == ADMIN or user.sees(process)


def owns(user: User, task: Owned) -> bool:
    """The task is named after the user, or its business object is one of the user's scopes."""
    return task.owner == user.username or (task.business_object is not None
                                           and task.business_object in user.scopes)


def can_act(user: User, task: Owned) -> bool:
    """Whether the user may move, comment on or reassign the task."""
    if user.role == ADMIN:
        return True
    if not user.sees(task.process):
        return False
    if user.role == ANALYST:
        return True
    return user.role == OWNER and owns(user, task)


def can_accept(user: User, process: str) -> bool:
    """Accepting a pattern changes what counts for everyone: analysts and admins only."""
    return user.role == ADMIN or (user.role == ANALYST and user.sees(process))


def can_manage_users(user: User) -> bool:
    return user.role == ADMIN
