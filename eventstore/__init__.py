"""The embedded event store: DuckDB, append-only, deduplicated by a deterministic event key."""

from eventstore.store import AppendResult, EventStore, EventStoreError

__all__ = ["AppendResult", "EventStore", "EventStoreError"]
