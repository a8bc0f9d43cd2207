"""DuckDB event store: atomic append of extracted batches, watermarks, and columnar reads."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from kaizenflow.core.events import (
    ACTIVITY,
    BATCH_COLUMNS,
    CASE_ID,
    EVENT_ID,
    LOG_COLUMNS,
    RESOURCE,
    TIMESTAMP,
    CaseCost,
    EventLog,
    numbers,
    positions_in,
    require_attribute,
)

if "ARROW_DEFAULT_MEMORY_POOL" not in os.environ:
    # The window DuckDB hands over is Arrow memory. In the C library's allocator, the pages it
    # frees are reused by the pandas and NumPy work after it; pyarrow's default (mimalloc) kept
    # them, and the next stages' memory came on top (the night benchmark's peak memory).
    pa.set_memory_pool(pa.system_memory_pool())

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    event_id    VARCHAR NOT NULL,
    process     VARCHAR NOT NULL,
    case_id     VARCHAR NOT NULL,
    activity    VARCHAR NOT NULL,
    timestamp   TIMESTAMPTZ,
    resource    VARCHAR,
    source      VARCHAR NOT NULL,
    source_rank INTEGER NOT NULL,
    attributes  VARCHAR NOT NULL,
    batch_id    VARCHAR NOT NULL,
    source_timezone VARCHAR NOT NULL,
    position    BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS batches (
    batch_id       VARCHAR NOT NULL,
    process        VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    loaded_at      TIMESTAMPTZ NOT NULL,
    events_offered BIGINT NOT NULL,
    events_added   BIGINT NOT NULL
);
CREATE TABLE IF NOT EXISTS quarantine (
    batch_id VARCHAR NOT NULL,
    process  VARCHAR NOT NULL,
    source   VARCHAR NOT NULL,
    row      BIGINT NOT NULL,
    field    VARCHAR NOT NULL,
    reason   VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS watermarks (
    process    VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    value      VARCHAR NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS loads_in_progress (
    batch_id   VARCHAR NOT NULL,
    process    VARCHAR NOT NULL,
    started_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS kaizenflow_meta (
    key   VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
INSERT OR IGNORE INTO kaizenflow_meta VALUES ('created_by', 'kaizenflow');
"""

#: What readers see of ``events``: the events of published batches. A batch is stored a chunk
#: at a time, each chunk its own transaction, and published with its batch record and
#: watermarks in a last one; until then it is in progress (and if its run died, until the next
#: append removes what it stored).
_COMMITTED_EVENTS = """
CREATE OR REPLACE TEMP VIEW committed_events AS
SELECT * FROM events WHERE batch_id NOT IN (SELECT batch_id FROM loads_in_progress)
"""


class EventStoreError(RuntimeError):
    """The event store cannot be opened or written; the message says which file and why."""


@dataclass(frozen=True)
class AppendResult:
    batch_id: str
    offered: int
    added: int
    quarantined: int = 0


class EventStore:
    """One DuckDB file holding the events of every process of a configuration.

    Each append is published at once: the events, the batch record and the advanced watermarks
    are seen together or not at all, so a run that dies half-way leaves the store as it was to
    every reader, and the next append removes what it left.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    @contextmanager
    def _connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """A connection whose ``committed_events`` are the events of published batches."""
        with open_duckdb(self.path, _SCHEMA, "event store", read_only) as connection:
            tables = {row[0] for row in connection.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall()}
            # a store written before batches were published has no such table (and read-only, is
            # not migrated); with no load in progress, as nearly always, every event is published,
            # and the filter (reading each event's batch) is left out
            unpublished = "loads_in_progress" in tables and bool(connection.execute(
                "SELECT count(*) FROM loads_in_progress").fetchall()[0][0])
            connection.execute(_COMMITTED_EVENTS if unpublished else
                               "CREATE OR REPLACE TEMP VIEW committed_events AS SELECT * FROM events")
            yield connection

    def append(
        self,
        process: str,
        run_id: str,
        batch: pd.DataFrame,
        source_ranks: Mapping[str, int],
        watermarks: Mapping[str, str] | None = None,
        source_timezones: Mapping[str, str] | None = None,
        rejects: pd.DataFrame | None = None,
    ) -> AppendResult:
        """Add the events of one batch in memory not stored yet (see ``append_chunks``)."""
        missing = [c for c in BATCH_COLUMNS if c not in batch.columns]
        if missing:
            raise EventStoreError(f"batch lacks column(s) {', '.join(missing)}")
        return self.append_chunks(
            process, run_id, [batch], source_ranks, watermarks, source_timezones,
            [] if rejects is None else [rejects],
        )

    def append_chunks(
        self,
        process: str,
        run_id: str,
        chunks: Iterable[pd.DataFrame | pa.Table],
        source_ranks: Mapping[str, int],
        watermarks: Mapping[str, str] | None = None,
        source_timezones: Mapping[str, str] | None = None,
        rejects: Iterable[pd.DataFrame | pa.Table] = (),
    ) -> AppendResult:
        """Add the events not stored yet and advance the given watermarks, published at once.

        The batch comes a chunk at a time (staged files are read one by one) and each chunk is
        stored in a transaction of its own, so memory is bounded by a chunk, not by the batch (one
        transaction held every chunk of a history's bulk load). Until a last transaction writes the
        batch record and the watermarks, the batch is in progress and no reader sees it; a chunk
        that fails leaves nothing of the batch, and a run that died mid-way leaves a batch in
        progress that the next append removes first. Each chunk sees the ones before it, so an
        event id is stored once. Positions (the order in the source, which breaks ties in time)
        run on across the chunks. Times are stored in UTC; ``source_timezones`` keeps the zone
        each source was read in. ``rejects`` are source rows set aside as bad (source, row,
        field, reason).
        """
        return self._append(process, run_id, lambda connection, batch_id: _store_chunks(
            connection, chunks, process, batch_id), source_ranks, watermarks, source_timezones, rejects)

    def append_staged(
        self,
        process: str,
        run_id: str,
        event_files: Sequence[Path],
        source_ranks: Mapping[str, int],
        watermarks: Mapping[str, str] | None = None,
        source_timezones: Mapping[str, str] | None = None,
        reject_files: Sequence[Path] = (),
        *,
        distinct_ids: bool = False,
    ) -> AppendResult:
        """``append_chunks`` of staged Parquet files (the batch's columns, in source order).

        A store that holds no events yet has nothing to recognise, and a batch whose ids are
        ``distinct_ids`` (each source's are the hashes of a key it guarantees unique, and the
        hash includes the source) nothing to deduplicate: every event is new. DuckDB then reads
        the files itself in one statement, which writes the table's row groups straight to the
        file, where a chunk a transaction wrote each chunk twice (log, then table) and held the
        deduplication's hash tables: the first night of a history. Otherwise the files are
        stored a chunk at a time, as ``append_chunks`` does. Published at once either way.
        """
        def store(connection: duckdb.DuckDBPyConnection, batch_id: str) -> tuple[int, int]:
            if distinct_ids and event_files and not _has_events(connection):
                return _store_new_files(connection, event_files, process, batch_id)
            return _store_chunks(connection, _read_files(event_files), process, batch_id, _TOGETHER_ROWS)

        return self._append(process, run_id, store, source_ranks, watermarks, source_timezones,
                            _read_files(reject_files))

    def _append(
        self,
        process: str,
        run_id: str,
        store: Callable[[duckdb.DuckDBPyConnection, str], tuple[int, int]],
        source_ranks: Mapping[str, int],
        watermarks: Mapping[str, str] | None,
        source_timezones: Mapping[str, str] | None,
        rejects: Iterable[pd.DataFrame | pa.Table],
    ) -> AppendResult:
        """A batch in progress whose events ``store`` writes (returning offered and added), then
        its rejects, batch record and watermarks in one last transaction that publishes it."""
        zones = dict(source_timezones or {})
        known = pd.DataFrame({
            "source": pd.Series(list(source_ranks), dtype=object),
            "source_rank": pd.Series(list(source_ranks.values()), dtype="int32"),
            "source_timezone": pd.Series([zones.get(s, "UTC") for s in source_ranks], dtype=object),
        })
        now = datetime.now(UTC)
        quarantined = 0
        with self._connect() as connection:
            connection.register("known_sources", known)
            try:
                _forget_unpublished(connection)
                batch_id = _new_batch_id(connection, f"{process}:{run_id}")
                connection.execute("INSERT INTO loads_in_progress VALUES (?, ?, ?)", [batch_id, process, now])
            except duckdb.Error as error:
                raise self._unwritten(error) from error
            try:
                offered, added = store(connection, batch_id)
                connection.execute("BEGIN TRANSACTION")
                for chunk in rejects:
                    rejected = _columns(chunk, ["source", "row", "field", "reason"], "rejects")
                    connection.register("rejected", rejected)
                    connection.execute(
                        "INSERT INTO quarantine SELECT ?, ?, source, row, field, reason FROM rejected",
                        [batch_id, process],
                    ).fetchall()
                    quarantined += _distinct_rows(connection)
                    connection.unregister("rejected")
                connection.execute(
                    "INSERT INTO batches VALUES (?, ?, ?, ?, ?, ?)",
                    [batch_id, process, run_id, now, offered, added],
                )
                for source, value in (watermarks or {}).items():
                    connection.execute(
                        "DELETE FROM watermarks WHERE process = ? AND source = ?", [process, source]
                    )
                    connection.execute(
                        "INSERT INTO watermarks VALUES (?, ?, ?, ?)", [process, source, value, now]
                    )
                connection.execute("DELETE FROM loads_in_progress WHERE batch_id = ?", [batch_id])
                connection.execute("COMMIT")
            except duckdb.Error as error:
                _rollback(connection)
                _forget_batch(connection, batch_id)
                raise self._unwritten(error) from error
            except BaseException:
                _rollback(connection)
                _forget_batch(connection, batch_id)
                raise
        return AppendResult(batch_id=batch_id, offered=offered, added=added, quarantined=quarantined)

    def _unwritten(self, error: duckdb.Error) -> EventStoreError:
        reason = str(error).splitlines()[0]
        return EventStoreError(
            f"event store {self.path}: the batch could not be written ({reason}); nothing of it was stored"
        )

    def quarantined(self, process: str) -> pd.DataFrame:
        """Source rows set aside as bad, with the batch they came in."""
        with self._connect(read_only=True) as connection:
            return _frame(
                connection,
                "SELECT batch_id, source, row, field, reason FROM quarantine WHERE process = ? "
                "ORDER BY batch_id, source, row",
                [process],
            )

    def watermarks(self, process: str) -> dict[str, str]:
        with self._connect(read_only=True) as connection:
            rows = connection.execute(
                "SELECT source, value FROM watermarks WHERE process = ?", [process]
            ).fetchall()
        return {source: value for source, value in rows}

    def latest_time(self, process: str) -> datetime | None:
        """The process's own clock: the time of its latest stored event."""
        with self._connect(read_only=True) as connection:
            rows = connection.execute(
                f"SELECT max({TIMESTAMP}) FROM committed_events WHERE process = ?", [process]
            ).fetchall()
        latest = rows[0][0]
        return None if latest is None else pd.Timestamp(latest).tz_convert("UTC").to_pydatetime()

    def data_version(self, process: str) -> list[tuple[str, int]]:
        """Which published batches added events to the process, and how many: events are only
        ever added by a batch, so equal versions hold the same events (read off the batch
        records, not the events)."""
        with self._connect(read_only=True) as connection:
            rows = connection.execute(
                "SELECT batch_id, events_added FROM batches WHERE process = ? AND events_added > 0 "
                "ORDER BY batch_id", [process],
            ).fetchall()
        return [(str(batch_id), int(added)) for batch_id, added in rows]

    def count(self, process: str) -> int:
        with self._connect(read_only=True) as connection:
            return _count(connection, process)

    def duplicate_event_ids(self) -> int:
        """Events stored more than once (zero, unless something is badly wrong)."""
        with self._connect(read_only=True) as connection:
            row = connection.execute(
                "SELECT count(*) - count(DISTINCT event_id) FROM committed_events"
            ).fetchone()
        return int(row[0]) if row else 0

    def stored_events(self, process: str) -> pd.DataFrame:
        """Every stored event of a process with its id, ordered by id: what audits compare.

        The nightly log (``read_log``) leaves the ids out: no analysis needs them, and on a
        million events they are a third of what reading the window costs in memory.
        """
        with self._connect(read_only=True) as connection:
            events = _frame(
                connection,
                f"SELECT {EVENT_ID}, {CASE_ID}, {ACTIVITY}, {TIMESTAMP}, {RESOURCE} FROM committed_events "
                f"WHERE process = ? ORDER BY {EVENT_ID}",
                [process],
            )
        events[TIMESTAMP] = pd.to_datetime(events[TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
        return events

    def read_log(
        self, process: str, window_days: float | None = None, cost: CaseCost | None = None
    ) -> EventLog:
        """The events of one process ordered by case, time and designed source order.

        With ``window_days``, only cases that started within that many days before the latest
        event: long histories stay bounded, and cases leaving the window leave the figures.
        Only the columns mining needs are read, and the filter runs inside DuckDB. With ``cost``,
        each case's cost too (an event attribute is summed in DuckDB).
        """
        with self._connect(read_only=True) as connection:
            _select_cases(connection, process, window_days)
            selected = connection.sql("SELECT case_id FROM selected_cases").to_arrow_table()
            case_attributes = _case_attributes(connection, process)
            costs = None
            if cost is not None:
                require_attribute(cost, case_attributes.columns, f"process {process}",
                                  empty=case_attributes.empty)
                costs = (_summed_costs(connection, process, cost.attribute, case_attributes.index)
                         if cost.per == "event" else numbers(case_attributes[cost.attribute]))
        # A connection of their own: the memory DuckDB aggregated the attributes in is returned
        # when it closes, before the events are fetched. The window's cases come along, not
        # selected again (a group-by over every event of the process).
        with self._connect(read_only=True) as connection:
            connection.register("selected_cases", selected)
            window = connection.sql(
                f"""
                SELECT {CASE_ID}, {ACTIVITY}, {TIMESTAMP}, {RESOURCE}, source_rank, batch_rank, position
                FROM committed_events SEMI JOIN selected_cases USING ({CASE_ID})
                LEFT JOIN (SELECT batch_id, row_number() OVER (ORDER BY batch_id) AS batch_rank
                           FROM (SELECT DISTINCT batch_id FROM batches WHERE process = $process))
                     USING (batch_id)
                WHERE process = $process
                """,
                params={"process": process},
            )
            # streamed: DuckDB would otherwise hold the whole result while Arrow copies it
            fetched = [_encoded(window.to_arrow_reader(_ROWS_PER_BATCH))]
        events = _log_frame(_in_log_order(fetched).to_pandas(split_blocks=True, self_destruct=True))
        has_timestamps = bool(len(events)) and bool(events[TIMESTAMP].notna().all())
        return EventLog(events=events, case_attributes=case_attributes, has_timestamps=has_timestamps,
                        case_costs=costs)

    def batch_ids(self, process: str) -> list[str]:
        """The published batches of a process, in id order."""
        with self._connect(read_only=True) as connection:
            rows = connection.execute(
                "SELECT DISTINCT batch_id FROM batches WHERE process = ? ORDER BY batch_id", [process]
            ).fetchall()
        return [str(row[0]) for row in rows]

    def activities(self, process: str) -> list[str]:
        """Every activity name the process's stored events have, in text order."""
        with self._connect(read_only=True) as connection:
            rows = connection.execute(
                f"SELECT DISTINCT {ACTIVITY} FROM committed_events WHERE process = ? ORDER BY 1", [process]
            ).fetchall()
        return [str(row[0]) for row in rows]

    def read_cases(
        self, process: str, *, window_days: float | None = None, batches: Iterable[str] | None = None,
        cases: pd.Index | None = None, cost_attribute: str | None = None,
        also: Callable[[pd.Timestamp | None], Sequence[str]] | None = None,
    ) -> CasesRead:
        """Some cases of a process, whole: their events in log order and each one's facts.

        The cases are those with an event in one of ``batches`` (the cases a load changed, then
        ``touched``), with the cases ``also`` names given the latest time of those batches'
        events (read in the same pass: cases a night will ask for), or the given ``cases``, or
        else the window's (as ``read_log`` selects them). Each case's facts depend on its own
        events only, so that facts kept from earlier nights and facts of tonight's changed cases
        make the window's (``pipeline.window``).
        """
        touched = None
        with self._connect(read_only=True) as connection:
            literal = "'" + process.replace("'", "''") + "'"
            if batches is not None:
                noted = pa.table({"batch_id": pa.array(list(batches), pa.string())})
                connection.register("new_batches", noted)
                connection.execute(
                    "CREATE OR REPLACE TEMP TABLE selected_cases AS SELECT case_id, max(timestamp) AS latest "
                    "FROM committed_events WHERE process = ? "
                    "AND batch_id IN (SELECT batch_id FROM new_batches) GROUP BY case_id", [process])
                touched = connection.sql("SELECT case_id FROM selected_cases ORDER BY case_id"
                                         ).to_arrow_table().column(CASE_ID).combine_chunks()
                if also is not None and len(touched):  # nothing new: nothing asked for either
                    rows = connection.execute("SELECT max(latest) FROM selected_cases").fetchall()
                    extra = also(None if rows[0][0] is None else pd.Timestamp(rows[0][0]).tz_convert("UTC"))
                    connection.register("also_cases", pa.table({CASE_ID: pa.array(list(extra), pa.string())}))
                    connection.execute(
                        "INSERT INTO selected_cases SELECT DISTINCT case_id, NULL FROM also_cases "
                        "WHERE case_id NOT IN (SELECT case_id FROM selected_cases)")
            elif cases is not None:
                connection.register("wanted_cases", pa.table({CASE_ID: pa.array(
                    [str(case) for case in cases], pa.string())}))
                connection.execute("CREATE OR REPLACE TEMP TABLE selected_cases AS "
                                   "SELECT DISTINCT case_id FROM wanted_cases")
            else:
                _select_cases(connection, process, window_days)
            if batches is None and cases is None:  # a whole window: read where it is
                connection.execute(
                    "CREATE OR REPLACE TEMP VIEW case_events AS SELECT * FROM committed_events "
                    f"SEMI JOIN selected_cases USING ({CASE_ID}) WHERE process = {literal}")
                rows = connection.execute(
                    f"SELECT max({TIMESTAMP}) FROM committed_events WHERE process = ?", [process]).fetchall()
            else:  # a few cases: their events copied once, then read several ways
                connection.execute(
                    "CREATE OR REPLACE TEMP TABLE case_events AS SELECT * FROM committed_events "
                    f"SEMI JOIN selected_cases USING ({CASE_ID}) WHERE process = {literal}")
                rows = connection.execute(f"SELECT max({TIMESTAMP}) FROM case_events").fetchall()
            latest = None if rows[0][0] is None else pd.Timestamp(rows[0][0]).tz_convert("UTC")
            facts, attributes = _case_facts(connection, cost_attribute)
            window = connection.sql(
                f"""
                SELECT {CASE_ID}, {ACTIVITY}, {TIMESTAMP}, {RESOURCE}, source_rank, batch_rank, position
                FROM case_events
                LEFT JOIN (SELECT batch_id, row_number() OVER (ORDER BY batch_id) AS batch_rank
                           FROM (SELECT DISTINCT batch_id FROM batches WHERE process = $process))
                     USING (batch_id)
                """,
                params={"process": process},
            )
            fetched = [_encoded(window.to_arrow_reader(_ROWS_PER_BATCH))]
        events = _log_frame(_in_log_order(fetched).to_pandas(split_blocks=True, self_destruct=True))
        return CasesRead(events=events, facts=facts, attributes=attributes, latest=latest, touched=touched)

    def case_attributes(self, process: str, window_days: float | None = None) -> pd.DataFrame:
        """The business attributes of each case, as ``read_log`` gives them, without its events."""
        with self._connect(read_only=True) as connection:
            _select_cases(connection, process, window_days)
            return _case_attributes(connection, process)


@dataclass(frozen=True)
class CasesRead:
    """Cases read whole (``EventStore.read_cases``).

    ``events`` are their events in log order (as ``read_log`` gives them). ``facts`` has a row a
    case in case id order: its id, event count (``events``), how many of them have a time
    (``timed``), its ``first`` and ``last`` time, which attribute keys it carries that some event
    has no value for (``keys``, a JSON list, null where none) and its ``cost`` (null unless a cost
    attribute was given and one of its events has a number for it); ``attributes``, row for row,
    a text column per attribute key its events carry, as ``read_log`` finds them. ``latest`` is the
    latest time of the events the cases were chosen from (None without times); ``touched``, when
    cases were chosen by batches, are those with an event in them, in text order.
    """

    events: pd.DataFrame
    facts: pa.Table
    attributes: pa.Table
    latest: pd.Timestamp | None
    touched: pa.Array | None = None


def _log_frame(events: pd.DataFrame) -> pd.DataFrame:
    """Events fetched in log order as the log has them: text case ids, activities and resources
    as categories in text order (as a text column sorts and groups), times in UTC."""
    events[CASE_ID] = events[CASE_ID].astype("string")
    for column in (ACTIVITY, RESOURCE):
        names = events[column].cat.categories
        events[column] = events[column].cat.reorder_categories(names.sort_values())
    events[TIMESTAMP] = pd.to_datetime(events[TIMESTAMP], utc=True).astype("datetime64[us, UTC]")
    return events


def _case_facts(
    connection: duckdb.DuckDBPyConnection, cost_attribute: str | None,
) -> tuple[pa.Table, pa.Table]:
    """Per case of ``case_events``: see ``CasesRead.facts`` and ``CasesRead.attributes``, in one pass."""
    # which keys some event has a JSON null for: a case may carry such a key without a value
    found = connection.execute(
        "SELECT key, bool_or(type = 'NULL') AS has_null FROM ("
        "  SELECT DISTINCT attributes FROM case_events WHERE attributes <> '{}'"
        ") , json_each(attributes) GROUP BY key ORDER BY key").fetchall()
    keys = [str(row[0]) for row in found]
    paths = [_json_path(key) for key in keys]
    if cost_attribute is not None:
        paths.append(_json_path(cost_attribute))
    values = "".join(
        f", arg_min(v[{position}], {TIMESTAMP}) FILTER (WHERE v[{position}] IS NOT NULL) AS a{position}"
        for position in range(1, len(keys) + 1))
    cost = (f"sum(TRY_CAST(v[{len(paths)}] AS DOUBLE))" if cost_attribute is not None
            else "CAST(NULL AS DOUBLE)")
    parsed = ("CASE WHEN attributes <> '{}' THEN json_extract_string(attributes, $paths::VARCHAR[]) END"
              if paths else "CAST(NULL AS VARCHAR[])")
    table = connection.sql(
        f"""
        SELECT {CASE_ID}, count(*) AS events, count({TIMESTAMP}) AS timed,
               min({TIMESTAMP}) AS first, max({TIMESTAMP}) AS last, CAST(NULL AS VARCHAR) AS keys,
               {cost} AS cost{values}
        FROM (SELECT {CASE_ID}, {TIMESTAMP}, {parsed} AS v FROM case_events)
        GROUP BY {CASE_ID} ORDER BY {CASE_ID}
        """,
        params={"paths": paths} if paths else None,
    ).to_arrow_table()
    facts = table.select([CASE_ID, "events", "timed", "first", "last", "keys", "cost"])
    null_keys = [str(row[0]) for row in found if row[1]]
    if null_keys:
        facts = facts.set_column(facts.schema.get_field_index("keys"), "keys",
                                 _carried_keys(connection, null_keys, facts.column(CASE_ID)))
    attributes = table.select([f"a{position}" for position in range(1, len(keys) + 1)]).rename_columns(keys)
    return facts, attributes


def _carried_keys(connection: duckdb.DuckDBPyConnection, keys: list[str], cases: pa.ChunkedArray) -> pa.Array:
    """Per case of ``case_events`` (``cases``, in text order), which of ``keys`` (those some event
    has a JSON null for) its events carry, as a sorted JSON list; null where it carries none.

    A case attribute column exists when some case carries its key, even without a value."""
    connection.register("null_keys", pa.table({"key": pa.array(keys, pa.string())}))
    rows = connection.execute(
        f"SELECT {CASE_ID}, to_json(list_sort(list_distinct(list(key)))) "
        "FROM case_events, json_each(attributes) "
        "WHERE attributes <> '{}' AND key IN (SELECT key FROM null_keys) GROUP BY case_id").fetchall()
    connection.unregister("null_keys")
    carried = np.full(len(cases), None, dtype=object)
    if rows:
        at = positions_in(pd.Index([str(row[0]) for row in rows]), pd.Index(cases.to_pandas()))
        carried[at] = [str(row[1]) for row in rows]
    return pa.array(carried, pa.string())


def _store_chunks(
    connection: duckdb.DuckDBPyConnection, chunks: Iterable[pd.DataFrame | pa.Table], process: str,
    batch_id: str, together_rows: int = 0,
) -> tuple[int, int]:
    """Each chunk's events not stored yet, a transaction each (see ``append_chunks``); consecutive
    chunks of up to ``together_rows`` rows in all are stored as one (``_together``)."""
    offered = added = 0
    tables = (_columns(chunk, BATCH_COLUMNS, "batch") for chunk in chunks)
    for table in _together(tables, together_rows):
        # the order events had in their source breaks ties in time, and is the only
        # order of a log without timestamps
        positions = np.arange(offered, offered + table.num_rows, dtype=np.int64)
        connection.register("incoming", table.append_column("position", pa.array(positions)))
        # an id offered twice keeps its first row: a hash aggregate, where DISTINCT ON
        # sorted the chunk and kept an arbitrary one
        [(inserted,)] = connection.execute(
            """
            INSERT INTO events
            WITH firsts AS (
                SELECT event_id, min(position) AS position FROM incoming GROUP BY event_id
            )
            SELECT
                i.event_id, ?, i.case_id, i.activity, i.timestamp, i.resource,
                i.source, coalesce(k.source_rank, 0), i.attributes, ?,
                coalesce(k.source_timezone, 'UTC'), i.position
            FROM (SELECT * FROM incoming SEMI JOIN firsts USING (event_id, position)) AS i
            LEFT JOIN known_sources AS k USING (source)
            WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.event_id = i.event_id)
            """,
            [process, batch_id],
        ).fetchall()  # complete the statement (its own transaction) before unregistering
        connection.unregister("incoming")
        offered += table.num_rows
        added += int(inserted)
    return offered, added


def _store_new_files(
    connection: duckdb.DuckDBPyConnection, files: Sequence[Path], process: str, batch_id: str,
) -> tuple[int, int]:
    """Every event of staged files, all new and distinct, in one statement; positions run on
    across the files as across chunks."""
    names = [str(path) for path in files]
    rows = dict(connection.execute("SELECT file_name, num_rows FROM parquet_file_metadata(?)",
                                   [names]).fetchall())
    counts = np.array([rows[name] for name in names], dtype=np.int64)
    starts = np.cumsum(counts) - counts
    connection.register("staged_files", pa.table({"filename": names, "first_position": starts}))
    # the statement streams: DuckDB would otherwise keep the pages it wrote cached, up to most of RAM
    [(limit,)] = connection.execute("SELECT current_setting('memory_limit')").fetchall()
    connection.execute(f"SET memory_limit = '{_BULK_LOAD_MEMORY}'")
    try:
        [(inserted,)] = connection.execute(
            """
            INSERT INTO events
            SELECT
                f.event_id, ?, f.case_id, f.activity, f.timestamp, f.resource,
                f.source, coalesce(k.source_rank, 0), f.attributes, ?,
                coalesce(k.source_timezone, 'UTC'), s.first_position + f.file_row_number
            FROM read_parquet(?, filename = true, file_row_number = true) AS f
            JOIN staged_files AS s USING (filename)
            LEFT JOIN known_sources AS k USING (source)
            """,
            [process, batch_id, names],
        ).fetchall()
    finally:
        connection.unregister("staged_files")
        connection.execute(f"SET memory_limit = '{limit}'")
    return int(counts.sum()), int(inserted)


#: DuckDB's memory while it stores a first night's staged files (it streams them).
_BULK_LOAD_MEMORY = "128MB"


def _read_files(paths: Sequence[Path]) -> Iterator[pa.Table]:
    """Staged Parquet files one at a time, so only one chunk is ever in memory."""
    for path in paths:
        yield pq.read_table(path)


def _has_events(connection: duckdb.DuckDBPyConnection) -> bool:
    rows = connection.execute("SELECT count(*) FROM events").fetchall()
    return bool(rows[0][0])


def _in_log_order(fetched: list[pa.Table]) -> pa.Table:
    """The events by case, time, designed source order, batch and position in it, contiguous,
    activities and resources dictionary-encoded; ``fetched`` holds the window's only reference.

    Sorted by Arrow once DuckDB has let go of its memory: DuckDB's own ORDER BY held several
    times the events' size until its connection closed. The columns that only order the events
    are dropped once the order is known, and the others are put in order one at a time, each
    released as soon as its ordered copy exists: so the sort needs about one column more than
    the events. Contiguous, so that no later step combines the chunks again.
    """
    table = fetched.pop()
    keys = (CASE_ID, TIMESTAMP, "source_rank", "batch_rank", "position")
    order = pc.sort_indices(table, sort_keys=[(key, "ascending") for key in keys])  # nulls last
    table = table.select(list(LOG_COLUMNS))
    ordered = []
    for column in LOG_COLUMNS:
        values, table = table.column(column), table.drop_columns([column])
        ordered.append(values.take(order).combine_chunks())
        del values
    return pa.table(ordered, names=list(LOG_COLUMNS))


_ROWS_PER_BATCH = 100_000
_ENCODED = (ACTIVITY, RESOURCE)  # categories: a few names, repeated a million times


def _encoded(reader: pa.RecordBatchReader) -> pa.Table:
    """The query's rows, activities and resources dictionary-encoded a batch at a time as they
    arrive (their text would be half of what the window takes), under one dictionary each."""
    schema = reader.schema
    for column in _ENCODED:
        position = schema.get_field_index(column)
        schema = schema.set(position, pa.field(column, pa.dictionary(pa.int32(), schema.field(column).type)))
    batches = []
    for batch in reader:
        for column in _ENCODED:
            position = batch.schema.get_field_index(column)
            batch = batch.set_column(position, column, pc.dictionary_encode(batch.column(position)))
        batches.append(batch)
    return pa.Table.from_batches(batches, schema=schema).unify_dictionaries()


def _select_cases(connection: duckdb.DuckDBPyConnection, process: str, window_days: float | None) -> None:
    """The temporary table ``selected_cases``: the process's cases in the window."""
    query = "SELECT DISTINCT case_id FROM committed_events WHERE process = ?"
    parameters: list[object] = [process]
    if window_days is not None:
        query = f"""
            SELECT case_id FROM committed_events WHERE process = ? GROUP BY case_id
            HAVING min({TIMESTAMP}) >= (SELECT max({TIMESTAMP}) FROM committed_events WHERE process = ?)
                   - to_microseconds(CAST(? * 86400000000 AS BIGINT))
        """
        parameters = [process, process, window_days]
    connection.execute(f"CREATE OR REPLACE TEMP TABLE selected_cases AS {query}", parameters)


#: How long a writer waits for readers to let go of the file before giving up.
WRITER_LOCK_WAIT_SECONDS = 30.0


@contextmanager
def open_duckdb(
    path: Path, schema: str, what: str, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A DuckDB file of ours: owner-only, its schema in place, errors that name it.

    Read-only on a file not created yet gives an empty in-memory database with the schema.
    """
    if read_only and not path.exists():
        connection = duckdb.connect(":memory:")
        connection.execute(schema)
    else:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not read_only and not path.exists():
            try:
                _create(path, schema)
            except RuntimeError as error:  # a time box that ran out while the file was made
                _raise_signal_timeout(error)
                raise
        # A reader (the web app, `kaizen deviations`) holds the file for one query: a writer
        # waits that long rather than failing the night; readers do not wait, they fall back.
        connection = _connect_waiting(path, what, read_only,
                                      0.0 if read_only else WRITER_LOCK_WAIT_SECONDS)
    try:
        if not read_only:
            try:
                connection.execute(schema)
            except duckdb.Error as error:
                connection.close()
                raise EventStoreError(f"{what} {path}: cannot be used ({str(error).splitlines()[0]}); "
                                      "the file is damaged: run `kaizen doctor` to see what to do") from None
        yield connection
    except RuntimeError as error:
        _raise_signal_timeout(error)
        raise
    finally:
        connection.close()


def _connect_waiting(
    path: Path, what: str, read_only: bool, wait_seconds: float
) -> duckdb.DuckDBPyConnection:
    """A connection to the file, waiting up to ``wait_seconds`` while another process holds its lock."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            return duckdb.connect(str(path), read_only=read_only)
        except duckdb.Error as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            locked = "lock" in reason.lower()
            if locked and time.monotonic() < deadline:
                time.sleep(0.05)
                continue
            advice = ("is another kaizenflow run using it?" if locked
                      else "the file is damaged: run `kaizen doctor` to see what to do")
            raise EventStoreError(f"{what} {path}: cannot open it ({reason}); {advice}") from None


def _create(path: Path, schema: str) -> None:
    """A new file appears owner-only with its schema, or not at all: a run killed while creating
    it must not leave a file that readers open and find without tables."""
    partial = path.with_name(f".{path.name}.{os.getpid()}.new")
    partial.unlink(missing_ok=True)
    connection = duckdb.connect(str(partial))
    try:
        connection.execute(schema)
    finally:
        connection.close()
    os.chmod(partial, 0o600)
    try:
        os.link(partial, path)  # never replaces a file another run created meanwhile
    except FileExistsError:
        pass
    finally:
        partial.unlink()


def _raise_signal_timeout(error: RuntimeError) -> None:
    """DuckDB turns a signal that arrives during a query into "Query interrupted" and drops the
    exception the signal handler raised. In a night that signal is its time box running out
    (Prefect's flow timeout), so say so: the run then ends TimedOut, not Failed for no reason."""
    if str(error).startswith("Query interrupted"):
        raise TimeoutError("the run's time box ran out during an event store query "
                           "(or the run was interrupted)") from error


def _forget_unpublished(connection: duckdb.DuckDBPyConnection) -> None:
    """Remove what appends that died before publishing left (their events are no reader's):
    their ids must not stop the same events from being stored again."""
    rows = connection.execute("SELECT count(*) FROM loads_in_progress").fetchall()
    if not rows[0][0]:
        return
    connection.execute("BEGIN TRANSACTION")  # quarantined rows come with the publishing one only
    try:
        connection.execute("DELETE FROM events WHERE batch_id IN (SELECT batch_id FROM loads_in_progress)")
        connection.execute("DELETE FROM loads_in_progress")
        connection.execute("COMMIT")
    except BaseException:
        _rollback(connection)
        raise


def _forget_batch(connection: duckdb.DuckDBPyConnection, batch_id: str) -> None:
    """Remove a failed append's chunks at once, if the store can still be written (a full disk
    may not let it): otherwise the batch stays in progress, unseen, for the next append."""
    try:
        connection.execute("BEGIN TRANSACTION")
        connection.execute("DELETE FROM events WHERE batch_id = ?", [batch_id])
        connection.execute("DELETE FROM loads_in_progress WHERE batch_id = ?", [batch_id])
        connection.execute("COMMIT")
    except (duckdb.Error, RuntimeError):
        _rollback(connection)


def _new_batch_id(connection: duckdb.DuckDBPyConnection, wanted: str) -> str:
    """``wanted``, or with a number after it when a run id is used twice (tools and tests reuse
    them): a failed batch's events are removed by its id."""
    rows = connection.execute(
        "SELECT count(*) FROM batches WHERE batch_id = ? OR starts_with(batch_id, ?)", [wanted, wanted + "#"]
    ).fetchall()
    stored = int(rows[0][0])
    return f"{wanted}#{stored + 1}" if stored else wanted


def _rollback(connection: duckdb.DuckDBPyConnection) -> None:
    """Undo an unfinished append; a COMMIT that failed may already have ended the transaction."""
    try:
        connection.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _frame(connection: duckdb.DuckDBPyConnection, query: str, params: list[object]) -> pd.DataFrame:
    """Query results through Arrow: columnar all the way, no row-by-row conversion."""
    frame: pd.DataFrame = connection.sql(query, params=params).to_arrow_table().to_pandas()
    return frame


def _columns(chunk: pd.DataFrame | pa.Table, columns: list[str], what: str) -> pa.Table:
    """The given columns of one chunk, as Arrow (DuckDB scans it without a copy)."""
    missing = [c for c in columns if c not in chunk.column_names] if isinstance(chunk, pa.Table) else [
        c for c in columns if c not in chunk.columns]
    if missing:
        raise EventStoreError(f"{what} lacks column(s) {', '.join(missing)}")
    if isinstance(chunk, pa.Table):
        return chunk.select(columns)
    return pa.Table.from_pandas(chunk[columns], preserve_index=False)


#: Up to how many rows a night's small staged files are stored together: a staged chunk's size
#: (storage.staging).
_TOGETHER_ROWS = 200_000


def _together(tables: Iterable[pa.Table], rows: int) -> Iterator[pa.Table]:
    """Consecutive small chunks as one table of up to ``rows`` rows: each statement's check for ids
    already stored reads every stored id, so a night's seven small sources (a look-back's re-read
    rows) cost one pass over a large store instead of seven. A larger chunk goes alone."""
    waiting: list[pa.Table] = []
    count = 0
    for table in tables:
        if waiting and count + table.num_rows > rows:
            yield from _concatenated(waiting)
            waiting, count = [], 0
        waiting.append(table)
        count += table.num_rows
        if count >= rows:  # full: stored before the next chunk is even read
            yield from _concatenated(waiting)
            waiting, count = [], 0
    if waiting:
        yield from _concatenated(waiting)


def _concatenated(tables: list[pa.Table]) -> Iterator[pa.Table]:
    if len(tables) == 1:
        yield tables[0]
        return
    try:
        together = pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):  # types that do not unify
        yield from tables
        return
    tables.clear()
    yield together.combine_chunks()


def _distinct_rows(connection: duckdb.DuckDBPyConnection) -> int:
    rows = connection.execute("SELECT count(*) FROM (SELECT DISTINCT source, row FROM rejected)").fetchall()
    return int(rows[0][0])


def _count(connection: duckdb.DuckDBPyConnection, process: str) -> int:
    rows = connection.execute("SELECT count(*) FROM committed_events WHERE process = ?", [process]).fetchall()
    return int(rows[0][0])


def _summed_costs(
    connection: duckdb.DuckDBPyConnection, process: str, attribute: str, cases: pd.Index
) -> pd.Series:
    """Per case the sum of an event attribute's numeric values (NaN where none is a number)."""
    path = '$."' + attribute.replace("\\", "\\\\").replace('"', '\\"') + '"'
    sums = _frame(
        connection,
        f"""
        SELECT {CASE_ID}, sum(TRY_CAST(json_extract_string(attributes, ?) AS DOUBLE)) AS cost
        FROM committed_events SEMI JOIN selected_cases USING ({CASE_ID}) WHERE process = ? GROUP BY {CASE_ID}
        """,
        [path, process],
    )
    return sums.set_index(CASE_ID)["cost"].astype("float64").reindex(cases)


def _case_attributes(
    connection: duckdb.DuckDBPyConnection, process: str, events: str | None = None
) -> pd.DataFrame:
    """One row a case: for each attribute key, its value on the case's earliest event having it.

    The keys are read from the distinct attribute texts (a night has a million events but a few
    thousand distinct ones), and each event's text is parsed once for all keys. ``events`` names
    a relation holding the selected cases' events (else they are found in ``committed_events``).
    """
    source = events or ("committed_events SEMI JOIN selected_cases USING (case_id) "
                        "WHERE process = $process AND")
    if events is not None:
        source += " WHERE"
    parameters: dict[str, object] = {"process": process} if events is None else {}
    keys = [
        row[0]
        for row in connection.sql(
            f"""
            SELECT DISTINCT unnest(json_keys(attributes)) AS key FROM (
                SELECT DISTINCT attributes FROM {source} attributes <> '{{}}'
            ) ORDER BY key
            """,
            params=parameters or None,
        ).fetchall()
    ]
    return _attribute_values(connection, source, parameters, keys)


def _attribute_values(
    connection: duckdb.DuckDBPyConnection, source: str, parameters: dict[str, object], keys: list[str]
) -> pd.DataFrame:
    if not keys:
        cases = _frame(
            connection, "SELECT case_id FROM selected_cases ORDER BY case_id", [],
        )
        return cases.set_index(CASE_ID).astype("string")
    selects = ", ".join(
        f"arg_min(v[{position}], timestamp) FILTER (WHERE v[{position}] IS NOT NULL) AS {_quote(key)}"
        for position, key in enumerate(keys, start=1)
    )
    # only events that carry attributes are parsed (a third of a night's P2P events)
    frame: pd.DataFrame = connection.sql(
        f"SELECT case_id, {selects} FROM selected_cases LEFT JOIN ("
        "  SELECT case_id, timestamp, json_extract_string(attributes, $paths::VARCHAR[]) AS v"
        f"  FROM {source} attributes <> '{{}}'"
        ") USING (case_id) GROUP BY case_id ORDER BY case_id",
        params={**parameters, "paths": [_json_path(key) for key in keys]},
    ).to_arrow_table().to_pandas()
    return frame.set_index(CASE_ID).astype("string")


def _json_path(key: str) -> str:
    """A JSON path to one top-level key, quoted so that keys like ``case:plant.code`` work."""
    return '$."' + key.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'
