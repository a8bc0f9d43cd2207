"""The embedded event store: DuckDB, append-only, deduplicated by a deterministic event key.

The store's names are imported on first use, so that the alignment cache (SQLite) can be used
without loading DuckDB.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaizenflow.storage.event_store import AppendResult, EventStore, EventStoreError

__all__ = ["AppendResult", "EventStore", "EventStoreError"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kaizenflow.storage import event_store as store

        return getattr(store, name)
    raise AttributeError(f"module 'eventstore' has no attribute {name!r}")
