"""A batch is stored a chunk at a time and published at once: until then no reader sees it, and
what a run that died mid-load left is removed by the next append."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pandas as pd
import pytest
from test_eventstore import batch

from kaizenflow.storage import EventStore

REPOSITORY = Path(__file__).resolve().parent.parent

DIES_AFTER_ONE_CHUNK = textwrap.dedent("""
    import os, sys
    from kaizenflow.storage import EventStore
    from tests.test_eventstore import batch

    def chunks():
        offered = batch(6)
        yield offered.iloc[:6]
        os._exit(9)  # killed between two chunks: no clean-up runs

    EventStore(__import__("pathlib").Path(sys.argv[1])).append_chunks(
        "p", "dies", chunks(), {"s": 0}, watermarks={"s": "2024-01-09"})
""")


def _die_mid_load(path: Path) -> None:
    died = subprocess.run([sys.executable, "-c", DIES_AFTER_ONE_CHUNK, str(path)], cwd=REPOSITORY,
                          capture_output=True, text=True, timeout=120)
    assert died.returncode == 9, died.stderr


def _raw_count(path: Path) -> int:
    connection = duckdb.connect(str(path), read_only=True)
    try:
        return int(connection.execute("SELECT count(*) FROM events").fetchall()[0][0])
    finally:
        connection.close()


def test_a_load_that_died_mid_way_is_seen_by_no_reader(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    store = EventStore(path)
    store.append("p", "r1", batch(1), {"s": 0}, watermarks={"s": "2024-01-01"})
    _die_mid_load(path)
    assert _raw_count(path) == 2 + 6 - 2  # its first chunk was stored (c0's two events were known)
    assert store.count("p") == 2
    assert sorted(store.read_log("p").events["case_id"].unique()) == ["c0"]
    assert store.watermarks("p") == {"s": "2024-01-01"}


def test_the_next_append_removes_what_a_dead_load_left_and_stores_its_events_once(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    store = EventStore(path)
    _die_mid_load(path)
    added = store.append("p", "again", batch(6), {"s": 0}).added
    assert added == 12
    assert _raw_count(path) == store.count("p") == 12
    assert store.duplicate_event_ids() == 0


def test_a_store_written_before_batches_were_published_still_reads(tmp_path: Path) -> None:
    path = tmp_path / "events.duckdb"
    EventStore(path).append("p", "r1", batch(2), {"s": 0})
    connection = duckdb.connect(str(path))
    connection.execute("DROP TABLE loads_in_progress")
    connection.close()
    store = EventStore(path)
    assert store.count("p") == 4  # read-only: nothing to migrate
    assert store.append("p", "r2", batch(3), {"s": 0}).added == 2  # a write adds the table
    assert store.count("p") == 6


def test_a_run_id_used_twice_never_counts_or_removes_the_first_batch(tmp_path: Path) -> None:
    store = EventStore(tmp_path / "events.duckdb")
    assert store.append("p", "r1", batch(2), {"s": 0}).added == 4
    assert store.append("p", "r1", batch(2), {"s": 0}).added == 0

    def fails_after_one_chunk() -> Iterator[pd.DataFrame]:
        yield batch(3)
        raise OSError("the staged file of the second chunk is gone")

    with pytest.raises(OSError):
        store.append_chunks("p", "r1", fails_after_one_chunk(), {"s": 0})
    assert store.count("p") == _raw_count(tmp_path / "events.duckdb") == 4
