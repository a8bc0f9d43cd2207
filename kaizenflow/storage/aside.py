"""Derived stores (alignment cache, case ledger, case contributions) that cannot be read are set
aside and rebuilt."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

logger = logging.getLogger("kaizenflow.storage")


def set_aside(path: Path, what: str, reason: str) -> Path:
    """Rename a damaged derived file (and its SQLite/DuckDB side files) with a ``.damaged-<time>``
    suffix, so the caller can rebuild it; the renamed file stays for inspection. Warns once."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    target = path.with_name(f"{path.name}.damaged-{stamp}")
    path.rename(target)
    for suffix in ("-wal", "-shm", "-journal", ".wal"):
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(target.with_name(target.name + suffix))
    logger.warning("%s %s cannot be read (%s): set aside as %s and rebuilt", what, path, reason, target.name)
    return target
