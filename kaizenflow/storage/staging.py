"""Extracted sources staged on disk: mapped events chunk by chunk in owner-only Parquet files until stored."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kaizenflow.core.events import BATCH_COLUMNS
from kaizenflow.storage.event_store import EventStoreError

#: Source rows read, mapped and stored at a time unless configured (storage.load_chunk_rows).
DEFAULT_CHUNK_ROWS = 200_000
#: Staged files older than this belong to a night that was killed before it could remove them.
_STALE_SECONDS = 24 * 3600


@dataclass(frozen=True)
class Extracted:
    """The events of one source, staged in ``directory``, and the watermark to commit once stored.

    Chunk files hold at most a chunk of events each, in source order; ``chunks`` counts their
    events. Quarantined rows (source, row, field, reason) are staged beside them.
    ``distinct_ids``: no two staged events share an id (the source's own key is unique and was
    checked to be), so the event store need not deduplicate them among themselves.
    """

    directory: Path
    chunks: tuple[int, ...]
    rows: int
    watermark: str | None
    quarantined: int = 0
    distinct_ids: bool = False

    @property
    def event_count(self) -> int:
        return sum(self.chunks)

    def event_files(self) -> list[Path]:
        return [self.directory / f"events-{i:06d}.parquet" for i in range(len(self.chunks))]

    def reject_files(self) -> list[Path]:
        return sorted(self.directory.glob("rejects-*.parquet"))

    @property
    def events(self) -> pd.DataFrame:
        """All staged events in memory: for tests and tools, never for a night's load."""
        frames = [pd.read_parquet(path) for path in self.event_files()]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=BATCH_COLUMNS)

    def discard(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def stage(
    staging: Path, process: str, source: str,
    chunks: Iterable[tuple[pd.DataFrame, pd.DataFrame | None]],
) -> tuple[Path, tuple[int, ...], int]:
    """Write each (events, rejects) chunk to a new owner-only directory under ``staging``.

    Returns the directory, the events of each chunk file and the quarantined rows. If anything
    fails half-way, the directory is removed: a retry starts clean and nothing is left behind.
    The staged files are the event store's inbox: failing to write them (a full disk) is an
    EventStoreError naming the folder.
    """
    try:
        staging.mkdir(parents=True, exist_ok=True)
        os.chmod(staging, 0o700)
        _remove_stale(staging)
        # the creator's process id first: a night can tell the folders of dead runs (abandoned)
        directory = Path(tempfile.mkdtemp(prefix=f"{os.getpid()}.{process}.{source}.", dir=staging))
    except OSError as error:
        raise _cannot_stage(staging, source, error) from error
    counts: list[int] = []
    quarantined = 0
    try:
        for number, (events, rejects) in enumerate(chunks):
            if len(events):
                _write(events[BATCH_COLUMNS], directory / f"events-{len(counts):06d}.parquet")
                counts.append(len(events))
            if rejects is not None and len(rejects):
                _write(rejects, directory / f"rejects-{number:06d}.parquet")
                quarantined += int(rejects["row"].nunique())
    except OSError as error:
        shutil.rmtree(directory, ignore_errors=True)
        raise _cannot_stage(directory, source, error) from error
    except BaseException:
        shutil.rmtree(directory, ignore_errors=True)
        raise
    return directory, tuple(counts), quarantined


def discard(extracted: Iterable[Extracted]) -> None:
    """Remove staged files: after their load committed or failed, or when a later source failed."""
    for one in extracted:
        one.discard()


def _cannot_stage(where: Path, source: str, error: OSError) -> EventStoreError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return EventStoreError(f"staging {where}: the events of source {source} could not be written "
                           f"({reason}); nothing of them was stored")


#: Columns with few distinct values, worth a dictionary; ids and timestamps are not.
_DICTIONARY_COLUMNS = ["activity", "resource", "source", "attributes", "field", "reason"]


def _write(frame: pd.DataFrame, path: Path) -> None:
    """LZ4 without dictionaries for ids: staged files live minutes, so writing and reading them
    fast matters more than size (pyarrow's defaults take a third longer: benchmarks/micro.py)."""
    table = pa.Table.from_pandas(frame, preserve_index=False)
    dictionary = [name for name in _DICTIONARY_COLUMNS if name in table.column_names]
    pq.write_table(table, path, compression="lz4", use_dictionary=dictionary)
    os.chmod(path, 0o600)


def remove_abandoned(staging: Path) -> list[Path]:
    """At the start of a night, under its run lock: remove the staged folders of runs that died
    before they could (their process is gone, or it is this one, which stages nothing yet).

    Folders of another live process (a tool staging without the lock) are left to it, or to the
    age limit. Returns what was removed.
    """
    removed: list[Path] = []
    if not staging.is_dir():
        return removed
    for entry in staging.iterdir():
        owner = entry.name.split(".", 1)[0]
        if owner.isdigit() and int(owner) != os.getpid() and _alive(int(owner)):
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed.append(entry)
    _remove_stale(staging)
    return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: alive
    return True


def _remove_stale(staging: Path) -> None:
    """Staged directories of a night that was killed (no process lives to remove its own)."""
    limit = time.time() - _STALE_SECONDS
    for directory in staging.iterdir():
        try:
            if directory.stat().st_mtime < limit:
                shutil.rmtree(directory, ignore_errors=True)
        except FileNotFoundError:
            continue
