"""The alignment cache on disk: optimal alignments by model hash and variant, kept across runs."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Sequence
from pathlib import Path

from kaizenflow.conformance.types import Move, VariantAlignment
from kaizenflow.storage.aside import set_aside

_SCHEMA = """
CREATE TABLE IF NOT EXISTS alignments (
    model_hash  TEXT NOT NULL,
    variant_key TEXT NOT NULL,
    activities  TEXT NOT NULL,
    cost        REAL NOT NULL,
    fitness     REAL NOT NULL,
    bwc         REAL NOT NULL,
    moves       TEXT NOT NULL,
    PRIMARY KEY (model_hash, variant_key)
)
"""


_COLUMNS = {"model_hash", "variant_key", "activities", "cost", "fitness", "bwc", "moves"}


def variant_key(activities: tuple[str, ...]) -> str:
    return hashlib.sha256("\x1f".join(activities).encode("utf-8")).hexdigest()


class AlignmentCacheFile:
    """A SQLite file; a changed model has a new hash, so its old alignments are simply not found."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._open()
        except sqlite3.DatabaseError as error:  # garbage, a truncated file, a foreign database
            set_aside(path, "alignment cache", str(error).splitlines()[0] if str(error) else "unreadable")
            self._open()

    def _open(self) -> None:
        if not self.path.exists():
            self.path.touch(mode=0o600)
        connection = self._connect()
        try:
            with connection:
                connection.execute(_SCHEMA)
            columns = {row[1] for row in connection.execute("PRAGMA table_info(alignments)")}
            if columns != _COLUMNS:
                raise sqlite3.DatabaseError(f"not an alignment cache (columns {sorted(columns)})")
            rows = connection.execute("PRAGMA quick_check(1)").fetchall()
            if rows != [("ok",)]:
                raise sqlite3.DatabaseError(f"integrity check failed ({rows[0][0]})")
        finally:
            connection.close()

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(self.path, timeout=60)
        connection.execute("PRAGMA journal_mode=WAL")
        return connection

    def get_many(
        self, model_hash: str, variants: Sequence[tuple[str, ...]]
    ) -> dict[tuple[str, ...], VariantAlignment]:
        keys = {variant_key(v): v for v in variants}
        found: dict[tuple[str, ...], VariantAlignment] = {}
        connection = self._connect()
        try:
            items = list(keys)
            for start in range(0, len(items), 500):
                chunk = items[start:start + 500]
                rows = connection.execute(
                    "SELECT variant_key, cost, fitness, bwc, moves FROM alignments "
                    f"WHERE model_hash = ? AND variant_key IN ({','.join('?' * len(chunk))})",
                    [model_hash, *chunk],
                ).fetchall()
                for key, cost, fitness, bwc, moves in rows:
                    activities = keys[key]
                    try:  # a row that does not read back is a miss: the variant is aligned again
                        found[activities] = VariantAlignment(
                            activities=activities, cases=0, cost=float(cost), fitness=float(fitness),
                            bwc=float(bwc),
                            moves=tuple(Move(log=m[0], model=m[1]) for m in json.loads(moves)),
                        )
                    except (ValueError, TypeError, IndexError, KeyError):
                        continue
        finally:
            connection.close()
        return found

    def put_many(self, model_hash: str, alignments: Sequence[VariantAlignment]) -> None:
        rows = [
            (model_hash, variant_key(a.activities), json.dumps(a.activities), a.cost, a.fitness,
             a.bwc, json.dumps([[m.log, m.model] for m in a.moves]))
            for a in alignments if a.checked
        ]
        if not rows:
            return
        connection = self._connect()
        try:
            with connection:
                connection.executemany(
                    "INSERT OR REPLACE INTO alignments VALUES (?, ?, ?, ?, ?, ?, ?)", rows
                )
        finally:
            connection.close()

    def __len__(self) -> int:
        connection = self._connect()
        try:
            return int(connection.execute("SELECT count(*) FROM alignments").fetchone()[0])
        finally:
            connection.close()

