"""Each window case's contribution to discovery, kept between nights in a DuckDB file.

Beside the case ledger (``storage.case_checks``) and like it derived data: a night stores the
contributions of the cases whose events changed and forgets those that left the window, and the
window's process map, variants and throughput are aggregated from what is kept
(``mining.contributions``). Contributions are valid for one fingerprint (activity mapping, window,
version); a file that cannot be read is set aside, and deleting it only makes the next night
compute every case's contribution again.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from kaizenflow.core.events import CASE_ID
from kaizenflow.mining.contributions import CaseContributions, WindowContributions
from kaizenflow.storage.aside import set_aside
from kaizenflow.storage.event_store import EventStoreError, open_duckdb

FILE_NAME = "case_contributions.duckdb"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS contribution_fingerprints (
    process     VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS contribution_variants (
    process    VARCHAR NOT NULL,
    variant_id BIGINT NOT NULL,
    variant    VARCHAR NOT NULL  -- a JSON list of the activities
);
CREATE TABLE IF NOT EXISTS contribution_cases (
    process    VARCHAR NOT NULL,
    case_id    VARCHAR NOT NULL,
    events     BIGINT NOT NULL,
    variant_id BIGINT NOT NULL,
    first      TIMESTAMPTZ,
    last       TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS contribution_pairs (
    process    VARCHAR NOT NULL,
    case_id    VARCHAR NOT NULL,
    source     VARCHAR NOT NULL,
    target     VARCHAR NOT NULL,
    wait_hours DOUBLE
);
CREATE TABLE IF NOT EXISTS window_fingerprints (
    process     VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL,
    latest      TIMESTAMPTZ  -- the latest time of the process's events in the batches below
);
CREATE TABLE IF NOT EXISTS window_batches (
    process  VARCHAR NOT NULL,
    batch_id VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS window_attribute_keys (
    process  VARCHAR NOT NULL,
    key      VARCHAR NOT NULL,
    position INTEGER NOT NULL  -- its value is in column a<position> of window_cases
);
CREATE TABLE IF NOT EXISTS window_cases (
    process VARCHAR NOT NULL,
    case_id VARCHAR NOT NULL,
    events  BIGINT NOT NULL,
    timed   BIGINT NOT NULL,
    first   TIMESTAMPTZ,
    last    TIMESTAMPTZ,
    keys    VARCHAR,  -- a JSON list of the keys it carries that some event has no value for
    cost    DOUBLE
);
"""

#: The per-case facts a window keeps besides its attributes (``EventStore.read_cases``).
FACT_COLUMNS = ("events", "timed", "first", "last", "keys", "cost")


@dataclass(frozen=True)
class KeptWindow:
    """The window's cases as kept after the last night: ``facts`` holds each one's id and facts
    (``FACT_COLUMNS``), ``attributes`` a text column per attribute key (null where it has no
    value), row for row, in case id order; the batches whose events they include, and the latest
    time of those batches' events."""

    facts: pa.Table
    attributes: pa.Table
    batches: frozenset[str]
    latest: pd.Timestamp | None


class ContributionsUnreadable(RuntimeError):
    """The file was damaged and has been set aside: what it kept is gone, nothing else."""


class ContributionStore:
    """Per-case contributions of every process, each process's valid for one fingerprint."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self, read_only: bool = False) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return open_duckdb(self.path, _SCHEMA, "case contributions", read_only)

    def event_counts(self, process: str, fingerprint: str) -> pd.Series:
        """The event count of each case kept (indexed by case id, in text order); none under another
        fingerprint.

        A file that cannot be read is set aside: nothing is kept, so every case is computed again.
        """
        try:
            with self._connect() as connection:
                if _fingerprint(connection, process) != fingerprint:
                    return _no_counts()
                frame = connection.sql(
                    "SELECT case_id, events FROM contribution_cases WHERE process = ? ORDER BY case_id",
                    params=[process],
                ).to_arrow_table().to_pandas()
        except (duckdb.Error, EventStoreError) as error:
            self._set_aside_if_damaged(error)
            return _no_counts()
        return pd.Series(frame["events"].to_numpy(dtype=np.int64),
                         index=pd.Index(frame[CASE_ID].astype(object), name=CASE_ID), name="events")

    def save(self, process: str, fingerprint: str, updated: CaseContributions, left: pd.Index) -> None:
        """Store the updated cases' contributions and forget the cases that ``left`` the window, at
        once. Under a new fingerprint whatever was kept for the process goes first.

        Raises ``ContributionsUnreadable`` when the file was damaged (it is set aside): the caller
        then discovers from the events, and the next night starts afresh.
        """
        codes, distinct = pd.factorize(updated.cases["variant"])
        variants = pa.table({
            "code": np.arange(len(distinct), dtype=np.int64),
            "variant": pa.array([json.dumps(list(variant)) for variant in distinct], pa.string()),
        })
        cases = pa.table({
            CASE_ID: pa.array(updated.cases.index.astype(str).tolist(), pa.string()),
            "events": pa.array(updated.cases["events"].to_numpy(dtype=np.int64)),
            "code": pa.array(codes.astype(np.int64)),
            "first": pa.array(updated.cases["first"].array),
            "last": pa.array(updated.cases["last"].array),
        })
        pairs = pa.Table.from_pandas(updated.pairs, preserve_index=False)
        leaving = pa.table({CASE_ID: pa.array(pd.unique(left.astype(str)).tolist(), pa.string())})
        try:
            self._save(process, fingerprint, variants, cases, pairs, leaving)
        except (duckdb.Error, EventStoreError) as error:
            self._set_aside_if_damaged(error)
            raise ContributionsUnreadable(str(error).splitlines()[0]) from error

    def _save(self, process: str, fingerprint: str, variants: pa.Table, cases: pa.Table, pairs: pa.Table,
              leaving: pa.Table) -> None:
        tables = {"updated_variants": variants, "updated_cases": cases, "updated_pairs": pairs,
                  "left_cases": leaving}
        with self._connect() as connection:
            for name, table in tables.items():
                connection.register(name, table)
            connection.execute("BEGIN TRANSACTION")
            try:
                if _fingerprint(connection, process) != fingerprint:
                    for table in ("contribution_cases", "contribution_pairs", "contribution_variants",
                                  "contribution_fingerprints"):
                        connection.execute(f"DELETE FROM {table} WHERE process = ?", [process])
                    connection.execute("INSERT INTO contribution_fingerprints VALUES (?, ?)",
                                       [process, fingerprint])
                for table in ("contribution_cases", "contribution_pairs"):
                    connection.execute(
                        f"DELETE FROM {table} WHERE process = ? AND case_id IN (SELECT case_id FROM "
                        "updated_cases UNION ALL SELECT case_id FROM left_cases)", [process],
                    )
                # each variant's text once, as in the case ledger: new ones get the next numbers
                connection.execute(
                    "INSERT INTO contribution_variants SELECT $process, (SELECT coalesce(max(variant_id), 0) "
                    "FROM contribution_variants WHERE process = $process) "
                    "+ row_number() OVER (ORDER BY code), variant FROM updated_variants WHERE variant NOT IN "
                    "(SELECT variant FROM contribution_variants WHERE process = $process)",
                    {"process": process},
                )
                connection.execute(
                    "INSERT INTO contribution_cases SELECT $process, c.case_id, c.events, v.variant_id, "
                    "c.first, c.last FROM updated_cases AS c JOIN updated_variants AS u USING (code) "
                    "JOIN contribution_variants AS v ON v.process = $process AND v.variant = u.variant",
                    {"process": process},
                )
                connection.execute(
                    "DELETE FROM contribution_variants WHERE process = $process AND variant_id NOT IN "
                    "(SELECT variant_id FROM contribution_cases WHERE process = $process)",
                    {"process": process},
                )
                connection.execute(
                    "INSERT INTO contribution_pairs SELECT ?, case_id, source, target, wait_hours "
                    "FROM updated_pairs", [process],
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            finally:
                for name in tables:
                    connection.unregister(name)

    def window(self, process: str) -> WindowContributions:
        """The kept contributions of the process's cases: each case's variant and times (in case id
        order), the variants, and every wait of each directly-follows pair."""
        try:
            with self._connect(read_only=True) as connection:
                cases = connection.sql(
                    "SELECT case_id, variant_id, first, last FROM contribution_cases WHERE process = ? "
                    "ORDER BY case_id", params=[process],
                ).to_arrow_table()
                variants = connection.execute(
                    "SELECT variant_id, variant FROM contribution_variants WHERE process = ?", [process]
                ).fetchall()
                waits = connection.sql(
                    "SELECT source, target, list(wait_hours) AS waits FROM contribution_pairs "
                    "WHERE process = ? GROUP BY source, target", params=[process],
                ).to_arrow_table()
        except (duckdb.Error, EventStoreError) as error:
            self._set_aside_if_damaged(error)
            raise ContributionsUnreadable(str(error).splitlines()[0]) from error
        numbers = pd.Index([number for number, _ in variants], dtype="int64")
        codes = numbers.get_indexer(cases.column("variant_id").to_numpy())
        if (codes < 0).any():
            raise ContributionsUnreadable("a case's variant is not kept")
        frame = pd.DataFrame({
            "variant": codes.astype(np.int64),
            "first": _utc(cases.column("first")), "last": _utc(cases.column("last")),
        }, index=pd.Index(cases.column(CASE_ID).to_numpy(zero_copy_only=False), dtype=object, name=CASE_ID))
        # each pair's waits as a slice of one array, not as a Python float each
        lists = (waits.column("waits").combine_chunks() if waits.num_rows
                 else pa.array([], pa.list_(pa.float64())))
        values = lists.flatten().to_numpy(zero_copy_only=False).astype("float64")
        offsets = lists.offsets.to_numpy()
        per_pair = np.empty(len(lists), dtype=object)
        for position in range(len(lists)):
            per_pair[position] = values[offsets[position]:offsets[position + 1]]
        return WindowContributions(
            frame, [tuple(json.loads(text)) for _, text in variants],
            pd.DataFrame({"waits": per_pair}, index=pd.MultiIndex.from_arrays(
                [waits.column("source").to_pylist(), waits.column("target").to_pylist()],
                names=["source", "target"])),
        )

    def kept_window(self, process: str, fingerprint: str) -> KeptWindow | None:
        """The window's cases as kept, or None when nothing is kept under ``fingerprint`` (or the
        file was damaged: it is set aside, and the night reads its window whole)."""
        try:
            with self._connect() as connection:
                stored = connection.execute(
                    "SELECT fingerprint, latest FROM window_fingerprints WHERE process = ?", [process]
                ).fetchall()
                if len(stored) != 1 or stored[0][0] != fingerprint:
                    return None
                keys = connection.execute(
                    "SELECT key, position FROM window_attribute_keys WHERE process = ? ORDER BY key",
                    [process],
                ).fetchall()
                values = "".join(f", a{position}" for _, position in keys)
                table = connection.sql(
                    f"SELECT case_id, {', '.join(FACT_COLUMNS)}{values} FROM window_cases WHERE process = ? "
                    "ORDER BY case_id", params=[process],
                ).to_arrow_table()
                batches = connection.execute(
                    "SELECT batch_id FROM window_batches WHERE process = ?", [process]).fetchall()
        except (duckdb.Error, EventStoreError) as error:
            self._set_aside_if_damaged(error)
            return None
        facts = table.select([CASE_ID, *FACT_COLUMNS])
        attributes = table.select([f"a{position}" for _, position in keys]).rename_columns(
            [key for key, _ in keys])
        latest = None if stored[0][1] is None else pd.Timestamp(stored[0][1]).tz_convert("UTC")
        return KeptWindow(facts, attributes, frozenset(str(row[0]) for row in batches), latest)

    def save_window(
        self, process: str, fingerprint: str, facts: pa.Table, attributes: pa.Table, left: pa.Array,
        batches: Sequence[str], latest: pd.Timestamp | None,
    ) -> None:
        """Store the updated cases' facts and attributes (as ``KeptWindow`` has them), forget the
        cases that ``left`` the window, and note the batches now included, at once; under a new
        fingerprint whatever was kept for the process goes first. Raises ``ContributionsUnreadable``
        when the file was damaged (it is set aside: the next night reads its window whole)."""
        try:
            self._save_window(process, fingerprint, facts, attributes, left, batches, latest)
        except (duckdb.Error, EventStoreError) as error:
            self._set_aside_if_damaged(error)
            raise ContributionsUnreadable(str(error).splitlines()[0]) from error

    def _save_window(
        self, process: str, fingerprint: str, facts: pa.Table, attributes: pa.Table, left: pa.Array,
        batches: Sequence[str], latest: pd.Timestamp | None,
    ) -> None:
        leaving = pa.table({CASE_ID: left.cast(pa.string())})
        noted = pa.table({"batch_id": pa.array(list(batches), pa.string())})
        with self._connect() as connection:
            connection.execute("BEGIN TRANSACTION")
            try:
                if _window_fingerprint(connection, process) != fingerprint:
                    for table in ("window_cases", "window_batches", "window_attribute_keys",
                                  "window_fingerprints"):
                        connection.execute(f"DELETE FROM {table} WHERE process = ?", [process])
                    connection.execute("INSERT INTO window_fingerprints VALUES (?, ?, NULL)",
                                       [process, fingerprint])
                positions = dict(connection.execute(
                    "SELECT key, position FROM window_attribute_keys WHERE process = ?", [process],
                ).fetchall())
                for key in attributes.column_names:
                    if key not in positions:
                        positions[key] = max(positions.values(), default=0) + 1
                        connection.execute("INSERT INTO window_attribute_keys VALUES (?, ?, ?)",
                                           [process, key, positions[key]])
                        connection.execute(
                            f"ALTER TABLE window_cases ADD COLUMN IF NOT EXISTS a{positions[key]} VARCHAR")
                updated = facts.select([CASE_ID, *FACT_COLUMNS])
                for key in attributes.column_names:
                    updated = updated.append_column(f"a{positions[key]}",
                                                    attributes.column(key).cast(pa.string()))
                connection.register("updated_window", updated)
                connection.register("left_window", leaving)
                connection.register("noted_batches", noted)
                connection.execute(
                    "DELETE FROM window_cases WHERE process = ? AND case_id IN (SELECT case_id FROM "
                    "updated_window UNION ALL SELECT case_id FROM left_window)", [process])
                connection.execute(
                    "INSERT INTO window_cases BY NAME SELECT ? AS process, * FROM updated_window", [process])
                connection.execute("DELETE FROM window_batches WHERE process = ?", [process])
                connection.execute("INSERT INTO window_batches SELECT ?, batch_id FROM noted_batches",
                                   [process])
                connection.execute("UPDATE window_fingerprints SET latest = ? WHERE process = ?",
                                   [None if latest is None else latest.to_pydatetime(), process])
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            finally:
                for name in ("updated_window", "left_window", "noted_batches"):
                    try:
                        connection.unregister(name)
                    except duckdb.Error:
                        pass

    def _set_aside_if_damaged(self, error: BaseException) -> None:
        """A damaged file is renamed out of the way; a lock held by another run is not damage."""
        if isinstance(error, duckdb.InterruptException) or "lock" in str(error).lower():
            raise error
        if self.path.exists():
            set_aside(self.path, "case contributions", str(error).splitlines()[0])


def _fingerprint(connection: duckdb.DuckDBPyConnection, process: str) -> str | None:
    stored = connection.execute(
        "SELECT fingerprint FROM contribution_fingerprints WHERE process = ?", [process]
    ).fetchall()
    return str(stored[0][0]) if len(stored) == 1 else None


def _window_fingerprint(connection: duckdb.DuckDBPyConnection, process: str) -> str | None:
    stored = connection.execute(
        "SELECT fingerprint FROM window_fingerprints WHERE process = ?", [process]
    ).fetchall()
    return str(stored[0][0]) if len(stored) == 1 else None


def _utc(times: pa.ChunkedArray) -> pd.api.extensions.ExtensionArray:
    """Times as the event store's log has them: microseconds, UTC (NaT where a case has none)."""
    values = pd.to_datetime(pd.Series(times.to_pandas(), dtype=object) if times.null_count == len(times)
                            else times.to_pandas(), utc=True)
    return values.astype("datetime64[us, UTC]").array


def _no_counts() -> pd.Series:
    return pd.Series(dtype="int64", index=pd.Index([], dtype=object, name=CASE_ID), name="events")
