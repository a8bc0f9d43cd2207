"""The health of a state directory's stores: checked when a night starts and by `kaizen doctor`.

Two stores are the record and cannot be rebuilt: the state database (runs, tasks, their
history) and the event store. Each is checked (SQLite/DuckDB integrity, the expected tables and
columns, the marker row kaizenflow writes when it creates one) and both carry the same state id,
written the first time a night sees them together: a store that is missing, empty or another
state's while its partner shows it existed has been lost, and going on would silently start the
history over. Three stores are derived and rebuilt by the next night (the alignment cache, the
case ledger, the case contributions): one that cannot be read is set aside (renamed with a
``.damaged-<time>`` suffix).
"""

from __future__ import annotations

import sqlite3
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Literal

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from kaizenflow.storage.aside import set_aside
from kaizenflow.storage.schema import ADDED_LATER
from kaizenflow.storage.state import CREATED_BY, StateStore, StateStoreError, safe_url, unreachable

EVENTS_FILE = "events.duckdb"
CACHE_FILE = "alignments.db"
LEDGER_FILE = "case_checks.duckdb"
CONTRIBUTIONS_FILE = "case_contributions.duckdb"
STATE_ID = "state_id"

Status = Literal["ok", "absent", "damaged", "set aside"]


class StateDamagedError(StateStoreError):
    """The state database or the event store is damaged or lost; nothing was changed."""


@dataclass(frozen=True)
class StoreHealth:
    """One store's verdict: ``ok``, ``absent`` (not created yet), ``damaged`` (why, what to do)
    or ``set aside`` (derived, renamed to be rebuilt)."""

    store: str
    location: str
    status: Status
    detail: str = ""
    advice: str = ""

    def line(self) -> str:
        text = f"{self.store} ({self.location}): {self.status}"
        if self.detail:
            text += f": {self.detail}"
        if self.advice:
            text += f"; {self.advice}"
        return text

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass(frozen=True)
class _Found:
    """What a record store holds: damaged (why), its state id, whether it holds any history."""

    problem: str | None = None
    state_id: str | None = None
    has_history: bool = False
    exists: bool = True


_RESTORE = "restore it from a backup; to start over instead, move the whole state directory away"


def check_state(state_directory: Path, state_url: str, *, thorough: bool = True) -> list[StoreHealth]:
    """Every store's health, changing nothing (``kaizen doctor``)."""
    state, events = _inspect_state(state_url, thorough), _inspect_events(state_directory / EVENTS_FILE)
    verdicts = _record_verdicts(state_directory, state_url, state, events)
    return [*verdicts, _cache_health(state_directory / CACHE_FILE),
            _ledger_health(state_directory / LEDGER_FILE),
            _contributions_health(state_directory / CONTRIBUTIONS_FILE)]


def prepare_night(state_directory: Path, state_url: str) -> None:
    """Before a night changes anything: refuse a damaged or lost record store (in one line), set
    aside derived stores that cannot be read, and give both record stores one state id."""
    state, events = _inspect_state(state_url, True), _inspect_events(state_directory / EVENTS_FILE)
    for verdict in _record_verdicts(state_directory, state_url, state, events):
        if verdict.status == "damaged":
            raise StateDamagedError(verdict.line())
    for path, health in ((state_directory / CACHE_FILE, _cache_health),
                         (state_directory / LEDGER_FILE, _ledger_health),
                         (state_directory / CONTRIBUTIONS_FILE, _contributions_health)):
        verdict = health(path)
        if verdict.status == "damaged":
            set_aside(path, verdict.store, verdict.detail)
    if _embedded(state_url) and (state.state_id is None or events.state_id is None):
        _pair(state_directory / EVENTS_FILE, state_url, state.state_id or events.state_id or uuid.uuid4().hex)


def _embedded(state_url: str) -> bool:
    """A SQLite state database: it lives with the event store, and the two are one state. A
    server database may be shared by machines that each keep an event store, so it is not paired."""
    return make_url(state_url).get_backend_name() == "sqlite"


def _record_verdicts(
    state_directory: Path, state_url: str, state: _Found, events: _Found
) -> list[StoreHealth]:
    where_state = safe_url(state_url)
    where_events = str(state_directory / EVENTS_FILE)
    if not _embedded(state_url):
        state, events = _Found(state.problem, None, state.has_history, state.exists), \
            _Found(events.problem, None, events.has_history, events.exists)
    verdicts = []
    for name, where, found, other in (("state database", where_state, state, events),
                                      ("event store", where_events, events, state)):
        if found.problem is not None:
            verdicts.append(StoreHealth(name, where, "damaged", found.problem, _RESTORE))
        elif found.state_id is None and other.state_id is not None and not found.has_history:
            what = "missing" if not found.exists else "empty"
            verdicts.append(StoreHealth(
                name, where, "damaged",
                f"{what}, although the {'event store' if name == 'state database' else 'state database'} "
                f"shows it existed (state {other.state_id[:8]})", _RESTORE,
            ))
        elif found.state_id and other.state_id and found.state_id != other.state_id:
            verdicts.append(StoreHealth(
                name, where, "damaged",
                f"belongs to another state (state {found.state_id[:8]}, the other store's is "
                f"{other.state_id[:8]})", "put back the files that belong together",
            ))
        elif not found.exists:
            verdicts.append(StoreHealth(name, where, "absent", "created by the first night"))
        else:
            verdicts.append(StoreHealth(name, where, "ok"))
    return verdicts


def _inspect_state(url: str, thorough: bool) -> _Found:
    """The state database, read only: integrity (SQLite), marker, tables and columns, state id."""
    from kaizenflow.storage.schema import metadata, runs

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:"):
            return _Found(exists=False)
        path = Path(database)
        if not path.exists() or path.stat().st_size == 0:
            return _Found(exists=path.exists())
        problem = _sqlite_integrity(path, thorough)
        if problem:
            return _Found(problem=problem)
    engine = sa.create_engine(url)
    try:
        try:
            connection = engine.connect()
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            raise unreachable(url, error) from None
        with connection:
            tables = set(sa.inspect(connection).get_table_names())
            ours = {name for name in metadata.tables if name != "kaizenflow_meta"}
            if not tables & ours and "kaizenflow_meta" not in tables:
                return _Found(exists=False)  # nothing of ours yet (a shared database may hold others')
            missing = _missing_columns(connection, metadata, tables, ADDED_LATER)
            if missing:
                return _Found(problem=f"not the expected schema: {missing}")
            marker: dict[str, str] = {}
            if "kaizenflow_meta" in tables:
                marker = {str(row[0]): str(row[1]) for row in
                          connection.execute(sa.text("SELECT key, value FROM kaizenflow_meta")).all()}
            history = connection.execute(sa.select(sa.func.count()).select_from(runs)).scalar_one() > 0
            if marker and marker.get(CREATED_BY[0]) != CREATED_BY[1]:
                return _Found(problem="its marker row does not say kaizenflow created it")
            return _Found(state_id=marker.get(STATE_ID), has_history=history)
    except sa.exc.DatabaseError as error:
        return _Found(problem=_first_line(getattr(error, "orig", error)))
    finally:
        engine.dispose()


def _missing_columns(
    connection: sa.Connection, metadata: sa.MetaData, tables: set[str], added_later: frozenset[str]
) -> str:
    inspector = sa.inspect(connection)
    for name, table in metadata.tables.items():
        if name in added_later and name not in tables:
            continue  # a state database from before the table: adopted, the table added on opening
        if name not in tables:
            return f"table {name} is missing"
        have = {column["name"] for column in inspector.get_columns(name)}
        lacking = [column.name for column in table.columns if column.name not in have]
        if lacking:
            return f"table {name} lacks {', '.join(lacking)}"
    return ""


def _sqlite_integrity(path: Path, thorough: bool) -> str | None:
    try:
        connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
        try:
            pragma = "integrity_check" if thorough else "quick_check"
            rows = connection.execute(f"PRAGMA {pragma}(5)").fetchall()
        finally:
            connection.close()
    except sqlite3.Error as error:
        return _first_line(error)
    if rows != [("ok",)]:
        return f"integrity check failed ({'; '.join(str(row[0]) for row in rows)[:200]})"
    return None


def _inspect_events(path: Path) -> _Found:
    """The event store, read only: opens, has our tables, columns and marker, reads every row."""
    from kaizenflow.storage.event_store import _SCHEMA

    if not path.exists():
        return _Found(exists=False)
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        if "lock" in str(error).lower():
            raise StateStoreError(f"event store {path}: in use by another process ({_first_line(error)})") \
                from None
        return _Found(problem=_first_line(error))
    try:
        expected = _duckdb_columns(_SCHEMA)
        have = _columns_of(connection)
        if not have:
            return _Found(exists=True)
        for table, columns in expected.items():
            if table == "kaizenflow_meta" and table not in have:
                continue  # a store from before the marker: adopted
            if table not in have:
                return _Found(problem=f"not the expected schema: table {table} is missing")
            lacking = sorted(columns - have[table])
            if lacking:
                return _Found(problem=f"not the expected schema: table {table} lacks {', '.join(lacking)}")
        for table in expected:
            if table in have:  # every block is read, so every checksum is verified
                connection.execute(f'SELECT bit_xor(hash(t)) FROM "{table}" t').fetchall()
        marker = dict(connection.execute("SELECT key, value FROM kaizenflow_meta").fetchall()) \
            if "kaizenflow_meta" in have else {}
        if marker and marker.get(CREATED_BY[0]) != CREATED_BY[1]:
            return _Found(problem="its marker row does not say kaizenflow created it")
        history = bool(connection.execute("SELECT count(*) FROM batches").fetchall()[0][0])
        return _Found(state_id=marker.get(STATE_ID), has_history=history)
    except duckdb.Error as error:
        return _Found(problem=_first_line(error))
    finally:
        connection.close()


def _duckdb_columns(schema: str) -> dict[str, set[str]]:
    connection = duckdb.connect(":memory:")
    try:
        connection.execute(schema)
        return _columns_of(connection)
    finally:
        connection.close()


def _columns_of(connection: duckdb.DuckDBPyConnection) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for table, column in connection.execute(
        "SELECT table_name, column_name FROM duckdb_columns() WHERE NOT internal AND database_name = "
        "current_database() AND schema_name = 'main'"
    ).fetchall():
        found.setdefault(table, set()).add(column)
    return found


def _pair(events_path: Path, state_url: str, state_id: str) -> None:
    """Write the one state id into both record stores, creating a store not made yet."""
    from kaizenflow.storage.event_store import _SCHEMA, open_duckdb

    store = StateStore(state_url)
    try:
        with store.engine.begin() as connection:
            connection.execute(sa.text("DELETE FROM kaizenflow_meta WHERE key = :key"), {"key": STATE_ID})
            connection.execute(sa.text("INSERT INTO kaizenflow_meta (key, value) VALUES (:key, :value)"),
                               {"key": STATE_ID, "value": state_id})
    finally:
        store.dispose()
    with open_duckdb(events_path, _SCHEMA, "event store") as connection:
        connection.execute("INSERT OR REPLACE INTO kaizenflow_meta VALUES (?, ?)", [STATE_ID, state_id])


def _cache_health(path: Path) -> StoreHealth:
    name = "alignment cache"
    if not path.exists():
        return StoreHealth(name, str(path), "absent", "created when alignments are first cached")
    problem = _sqlite_integrity(path, thorough=False)
    if problem is None:
        try:
            connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
            try:
                tables = {row[0] for row in connection.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()}
                if tables and "alignments" not in tables:
                    problem = "not an alignment cache (no alignments table)"
                elif tables:
                    connection.execute("SELECT count(*), max(length(moves)) FROM alignments").fetchall()
            finally:
                connection.close()
        except sqlite3.Error as error:
            problem = _first_line(error)
    if problem:
        return StoreHealth(name, str(path), "damaged", problem,
                           "derived data: the next night sets it aside and rebuilds it")
    return StoreHealth(name, str(path), "ok")


def _ledger_health(path: Path) -> StoreHealth:
    return _derived_duckdb_health(path, "case ledger", "created by the first incremental check")


def _contributions_health(path: Path) -> StoreHealth:
    return _derived_duckdb_health(path, "case contributions", "created by the first night's discovery")


def _derived_duckdb_health(path: Path, name: str, absent: str) -> StoreHealth:
    """A derived DuckDB file: every table of it read through."""
    if not path.exists():
        return StoreHealth(name, str(path), "absent", absent)
    try:
        connection = duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        if "lock" in str(error).lower():
            return StoreHealth(name, str(path), "ok", "in use by a running night")
        return StoreHealth(name, str(path), "damaged", _first_line(error),
                           "derived data: the next night sets it aside and rebuilds it")
    try:
        for (table,) in connection.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT temporary").fetchall():
            connection.execute(f'SELECT bit_xor(hash(t)) FROM "{table}" t').fetchall()
    except duckdb.Error as error:
        return StoreHealth(name, str(path), "damaged", _first_line(error),
                           "derived data: the next night sets it aside and rebuilds it")
    finally:
        connection.close()
    return StoreHealth(name, str(path), "ok")


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0][:300] if text else type(error).__name__
