"""A history larger than a chunk loads exactly as in one piece: same events, positions, dedup, watermarks.

A night reads, maps and stages each source ``storage.load_chunk_rows`` rows at a time and stores
the staged chunks one by one, publishing the batch at once, so its memory is bounded by the chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
import sqlalchemy as sa
import yaml

from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sources.mapping import SourceError
from kaizenflow.storage import event_store
from kaizenflow.storage.event_store import EventStoreError

TICKETS = 3_500
CHUNK = 1_000
START = datetime(2024, 1, 1, 8, 0, 0)
#: Rows (0-based) repeated by content: one pair across the first chunk boundary, one far apart.
DUPLICATES = {1_000: 999, 3_000: 10}


def fill(url: str, *, bad_time_at: int | None = None, approval_again_at: int | None = None) -> None:
    """``tickets`` (content ids, a few rows repeated) and ``approvals`` (explicit ids), in order."""
    tickets = []
    for i in range(TICKETS):
        like = DUPLICATES.get(i, i)
        at = START + timedelta(minutes=like)
        tickets.append({"id": i, "ticket": f"T{like % 700}", "at": at, "who": f"u{like % 13}",
                        "plant": f"P{like % 3}"})
    if bad_time_at is not None:
        tickets[bad_time_at]["at"] = None
    approvals = [{"approval_id": 10_000 + i, "ticket": f"T{i % 700}",
                  "at": START + timedelta(hours=i), "who": f"m{i % 5}"} for i in range(TICKETS)]
    if approval_again_at is not None:
        approvals[approval_again_at]["approval_id"] = approvals[5]["approval_id"]
    engine = sa.create_engine(url)
    try:
        with engine.begin() as connection:
            for table in ("tickets", "approvals"):
                connection.execute(sa.text(f"DROP TABLE IF EXISTS {table}"))
            connection.execute(sa.text("CREATE TABLE tickets (id INTEGER, ticket VARCHAR(20), "
                                       "at TIMESTAMP NULL, who VARCHAR(20), plant VARCHAR(20))"))
            connection.execute(sa.text("CREATE TABLE approvals (approval_id INTEGER, ticket VARCHAR(20), "
                                       "at TIMESTAMP NULL, who VARCHAR(20))"))
            connection.execute(sa.text("INSERT INTO tickets VALUES (:id, :ticket, :at, :who, :plant)"),
                               tickets)
            connection.execute(sa.text("INSERT INTO approvals VALUES (:approval_id, :ticket, :at, :who)"),
                               approvals)
    finally:
        engine.dispose()


def configure(directory: Path, url: str, chunk_rows: int, on_bad_rows: str = "stop",
              approvals_query: str = "SELECT approval_id, ticket, at, who FROM approvals ORDER BY at",
              opened_id: str | None = None) -> KaizenConfig:
    """``opened_id``: the tickets' own id column (else their ids hash their content)."""
    data = {
        "connections": {"erp": {"url": url}},
        "storage": {"directory": str(directory / "state"), "load_chunk_rows": chunk_rows},
        "processes": [{
            "name": "tickets", "model": "unused.bpmn", "tasks": {"owners": {"default": "o@example.com"}},
            "sources": [
                {"name": "opened", "connection": "erp", "activity": "Open",
                 "query": "SELECT id, ticket, at, who, plant FROM tickets ORDER BY id",
                 "case_id": "ticket", "timestamp": "at", "resource": "who", "attributes": ["plant"],
                 "watermark": {"column": "at"}, "on_bad_rows": on_bad_rows,
                 **({"event_id": opened_id} if opened_id else {})},
                {"name": "approved", "connection": "erp", "activity": "Approve", "query": approvals_query,
                 "case_id": "ticket", "event_id": "approval_id", "timestamp": "at", "resource": "who",
                 "watermark": {"column": "approval_id"}, "on_bad_rows": on_bad_rows},
            ],
        }],
    }
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "kaizen.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(path)


def stored(config: KaizenConfig) -> dict[str, object]:
    """Everything the load wrote, without the run's own ids and times."""
    with duckdb.connect(str(config.state_directory / "events.duckdb"), read_only=True) as connection:
        def rows(query: str) -> list[tuple[object, ...]]:
            return connection.execute(query).fetchall()
        return {
            "events": rows("SELECT event_id, case_id, activity, timestamp, resource, source, source_rank, "
                           "attributes, source_timezone, position FROM events ORDER BY event_id"),
            "batches": rows("SELECT events_offered, events_added FROM batches"),
            "watermarks": rows("SELECT source, value FROM watermarks ORDER BY source"),
            "quarantine": rows("SELECT source, row, field, reason FROM quarantine ORDER BY source, row"),
        }


def staged_files(config: KaizenConfig) -> list[Path]:
    staging = Resources(config).staging
    return sorted(staging.rglob("*")) if staging.exists() else []


def load(tmp_path: Path, url: str, chunk_rows: int, name: str, **options: str) -> dict[str, object]:
    config = configure(tmp_path / name, url, chunk_rows, **options)
    stages.ingest(Resources(config), config.processes[0], "r1")
    assert staged_files(config) == []
    return stored(config)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'erp.db'}"


LAST_OPENED = START + timedelta(minutes=TICKETS - 1)


def chunked_equals_one_piece(url: str, tmp_path: Path, last_opened: str) -> None:
    """``last_opened``: the watermark of the newest ticket as this database returns its time."""
    fill(url)
    chunked = load(tmp_path, url, CHUNK, "chunked")
    assert chunked == load(tmp_path, url, 1_000_000, "whole")
    events = chunked["events"]
    assert isinstance(events, list)
    assert len(events) == 2 * TICKETS - len(DUPLICATES)
    assert chunked["batches"] == [(2 * TICKETS, 2 * TICKETS - len(DUPLICATES))]
    assert chunked["watermarks"] == [
        ("approved", f"int:{10_000 + TICKETS - 1}"),
        ("opened", last_opened),
    ]
    positions = sorted(int(row[-1]) for row in events)
    # a repeated row is stored once, at its first position; the approvals come after the tickets
    assert positions == [p for p in range(2 * TICKETS) if p not in DUPLICATES]


def test_a_source_larger_than_a_chunk_loads_exactly_as_in_one_piece_on_sqlite(
    sqlite_url: str, tmp_path: Path
) -> None:
    chunked_equals_one_piece(sqlite_url, tmp_path, f"str:{LAST_OPENED:%Y-%m-%d %H:%M:%S}")  # text in SQLite


def test_a_source_larger_than_a_chunk_loads_exactly_as_in_one_piece_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    chunked_equals_one_piece(postgres_url, tmp_path, f"ts:{LAST_OPENED.isoformat()}")


def test_a_source_larger_than_a_chunk_loads_exactly_as_in_one_piece_on_mariadb(
    mariadb_url: str, tmp_path: Path
) -> None:
    chunked_equals_one_piece(mariadb_url, tmp_path, f"ts:{LAST_OPENED.isoformat()}")


def test_a_bad_row_in_the_last_chunk_stops_the_night_naming_it_and_leaves_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    fill(sqlite_url, bad_time_at=3_210)
    config = configure(tmp_path, sqlite_url, CHUNK)
    with pytest.raises(SourceError, match=r"^source opened: row 3211, field at: missing timestamp$"):
        stages.ingest(Resources(config), config.processes[0], "r1")
    assert Resources(config).events.count("tickets") == 0
    assert Resources(config).events.watermarks("tickets") == {}
    assert staged_files(config) == []


def test_an_explicit_id_repeated_in_a_later_chunk_stops_the_night_naming_the_row(
    sqlite_url: str, tmp_path: Path
) -> None:
    fill(sqlite_url, approval_again_at=2_500)
    config = configure(tmp_path, sqlite_url, CHUNK)
    with pytest.raises(SourceError, match=r"^source approved: row 2501, field approval_id: duplicate event "
                                          r"id '10005'$"):
        stages.ingest(Resources(config), config.processes[0], "r1")
    assert Resources(config).events.count("tickets") == 0
    assert staged_files(config) == []


def test_bad_rows_of_later_chunks_are_quarantined_with_their_row_numbers(
    sqlite_url: str, tmp_path: Path
) -> None:
    fill(sqlite_url, bad_time_at=3_210, approval_again_at=2_500)
    loaded = load(tmp_path, sqlite_url, CHUNK, "chunked", on_bad_rows="quarantine")
    assert loaded["quarantine"] == [("approved", 2_501, "approval_id", "duplicate event id"),
                                    ("opened", 3_211, "at", "missing or unparseable timestamp")]
    assert loaded == load(tmp_path, sqlite_url, 1_000_000, "whole", on_bad_rows="quarantine")
    assert loaded["batches"] == [(2 * TICKETS - 2, 2 * TICKETS - 2 - len(DUPLICATES))]


def test_a_failing_second_source_leaves_nothing_stored_and_nothing_staged(
    sqlite_url: str, tmp_path: Path
) -> None:
    fill(sqlite_url)
    config = configure(tmp_path, sqlite_url, CHUNK, approvals_query="SELECT * FROM no_such_approvals")
    with pytest.raises(SourceError, match="^source approved: query failed: no such table"):
        stages.ingest(Resources(config), config.processes[0], "r1")
    assert Resources(config).events.count("tickets") == 0
    assert staged_files(config) == []


def test_a_chunk_that_fails_to_load_after_others_were_inserted_leaves_nothing(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fill(sqlite_url)
    config = configure(tmp_path, sqlite_url, CHUNK)
    process = config.processes[0]
    extracted = [stages.extract(Resources(config), process, source) for source in process.sources]
    assert [len(e.chunks) for e in extracted] == [4, 4]
    original = event_store._read_files

    def failing_after_five(paths: list[Path]) -> Iterator[pa.Table]:
        for number, chunk in enumerate(original(paths)):
            if number == 5:
                raise OSError(f"cannot read {paths[number].name}")
            yield chunk

    monkeypatch.setattr(event_store, "_read_files", failing_after_five)
    with pytest.raises(OSError, match="cannot read events-000001.parquet"):
        stages.load(Resources(config), process, "r1", extracted)
    assert Resources(config).events.count("tickets") == 0
    assert Resources(config).events.watermarks("tickets") == {}
    assert staged_files(config) == []


def test_staged_chunks_are_readable_by_their_owner_only(sqlite_url: str, tmp_path: Path) -> None:
    fill(sqlite_url)
    config = configure(tmp_path, sqlite_url, CHUNK)
    process = config.processes[0]
    extracted = stages.extract(Resources(config), process, process.sources[0])
    try:
        modes = {path.stat().st_mode & 0o777 for path in extracted.event_files()}
        assert modes == {0o600}
        assert extracted.directory.stat().st_mode & 0o777 == 0o700
        assert Resources(config).staging.stat().st_mode & 0o777 == 0o700
    finally:
        extracted.discard()


def test_a_first_load_of_sources_with_their_own_ids_stores_what_a_chunk_at_a_time_stores(
    sqlite_url: str, tmp_path: Path
) -> None:
    fill(sqlite_url)
    loaded = {}
    for distinct in (True, False):  # into an empty store: all new, read by DuckDB in one statement
        config = configure(tmp_path / f"distinct-{distinct}", sqlite_url, CHUNK, opened_id="id")
        process = config.processes[0]
        extracted = [stages.extract(Resources(config), process, source) for source in process.sources]
        assert [e.distinct_ids for e in extracted] == [True, True]
        if not distinct:
            extracted = [replace(e, distinct_ids=False) for e in extracted]
        stages.load(Resources(config), process, "r1", extracted)
        loaded[distinct] = stored(config)
    assert loaded[True] == loaded[False]
    events = loaded[True]["events"]
    assert isinstance(events, list)
    assert sorted(int(row[-1]) for row in events) == list(range(2 * TICKETS))
    assert loaded[True]["batches"] == [(2 * TICKETS, 2 * TICKETS)]


def test_events_with_their_own_ids_offered_again_are_recognised_once_the_store_has_events(
    sqlite_url: str, tmp_path: Path
) -> None:
    fill(sqlite_url)
    config = configure(tmp_path, sqlite_url, CHUNK, opened_id="id")
    process = config.processes[0]
    assert stages.ingest(Resources(config), process, "r1").added == 2 * TICKETS
    again = [stages.extract(Resources(config), process, source, {}) for source in process.sources]
    assert stages.load(Resources(config), process, "r2", again).added == 0
    assert Resources(config).events.duplicate_event_ids() == 0


def test_a_first_load_that_fails_reading_a_staged_file_leaves_nothing(
    sqlite_url: str, tmp_path: Path
) -> None:
    fill(sqlite_url)
    config = configure(tmp_path, sqlite_url, CHUNK, opened_id="id")
    process = config.processes[0]
    extracted = [stages.extract(Resources(config), process, source) for source in process.sources]
    damaged = extracted[1].event_files()[2]
    damaged.write_bytes(damaged.read_bytes()[:100])
    with pytest.raises(EventStoreError, match="the batch could not be written"):
        stages.load(Resources(config), process, "r1", extracted)
    assert Resources(config).events.count("tickets") == 0
    assert Resources(config).events.watermarks("tickets") == {}
    assert staged_files(config) == []
