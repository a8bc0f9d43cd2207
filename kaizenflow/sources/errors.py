"""The error every source raises for input it cannot read, kept apart: it imports nothing heavy."""

from __future__ import annotations


class SourceError(ValueError):
    """A source cannot be read as events; the message names the source, row and field.

    ``transient`` when reading again may succeed (the database could not be reached): a night
    retries those, not a bad row or a missing table, which would fail the same way again.
    """

    def __init__(self, message: str, transient: bool = False) -> None:
        super().__init__(message)
        self.transient = transient
