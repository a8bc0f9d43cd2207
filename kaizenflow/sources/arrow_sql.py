"""Reading SQL results as Arrow record batches through ADBC drivers (SQLite and PostgreSQL).

A first night or a long catch-up reads millions of rows. SQLAlchemy hands them over as Python
tuples that pandas then turns into columns; the ADBC drivers read them into Arrow columns in
C (PostgreSQL's binary COPY protocol, SQLite's own API), about twice as fast for the same rows
(benchmarks/extraction.py, docs/benchmarks.md). ``reader_for`` says whether a URL can be read so
(its driver is installed and the database is one of the two); anything else, MariaDB included,
stays with SQLAlchemy in ``kaizenflow.sources.sql``.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import sqlalchemy as sa

_DRIVERS = {"sqlite": "adbc_driver_sqlite", "postgresql": "adbc_driver_postgresql"}


@dataclass(frozen=True)
class ArrowReader:
    """How to reach one database by ADBC: the driver, its URI and its parameter marker."""

    backend: str
    uri: str

    @property
    def marker(self) -> str:
        return "?" if self.backend == "sqlite" else "$1"

    def connect(self) -> Any:
        return _dbapi(f"adbc_driver_{self.backend}.dbapi").connect(self.uri)


def _dbapi(module: str) -> Any:
    """A driver's DB-API module, imported without polars: ADBC's DB-API layer imports polars
    when it is installed (r4pm brings it) only to offer polars results, which we never ask for,
    and a night paid 0.2 to 0.4 s and 24 MiB for it (``python -X importtime``)."""
    if "polars" in sys.modules or "adbc_driver_manager.dbapi" in sys.modules:
        return importlib.import_module(module)
    sys.modules["polars"] = None  # type: ignore[assignment]  # `import polars` raises ImportError
    try:
        return importlib.import_module(module)
    finally:
        del sys.modules["polars"]


def reader_for(url: str) -> ArrowReader | None:
    """An ADBC reader for a SQLAlchemy URL, or None (other databases, no driver, in-memory SQLite)."""
    parsed = sa.engine.make_url(url)
    backend = parsed.get_backend_name()
    module = _DRIVERS.get(backend)
    if module is None or importlib.util.find_spec(module) is None:
        return None
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file:") or parsed.query:
            return None
        return ArrowReader("sqlite", database)
    libpq = parsed.set(drivername="postgresql")  # a libpq URI: no SQLAlchemy driver name
    return ArrowReader("postgresql", libpq.render_as_string(hide_password=False))


def adbc_errors() -> tuple[type[Exception], ...]:
    """What the ADBC drivers raise (their DB-API errors)."""
    return (_dbapi("adbc_driver_manager.dbapi").Error,)


def is_transient(error: BaseException) -> bool:
    """The database was lost or not reached, rather than refused the query."""
    dbapi = _dbapi("adbc_driver_manager.dbapi")
    return isinstance(error, dbapi.OperationalError | dbapi.InterfaceError)


def read_batches(
    connection: Any, reader: ArrowReader, sql: str, parameters: Sequence[object], chunk_rows: int,
) -> Iterator[pa.Table]:
    """The result of ``sql`` as tables of ``chunk_rows`` rows (the last one shorter); an empty
    result is one empty table that still has the columns."""
    cursor = connection.cursor()
    try:
        if reader.backend == "sqlite":
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": str(chunk_rows)})
        cursor.execute(sql, parameters=tuple(parameters) if parameters else None)
        stream = cursor.fetch_record_batch()
        pending: list[pa.RecordBatch] = []
        held = 0
        produced = False
        for batch in stream:
            pending.append(batch)
            held += batch.num_rows
            while held >= chunk_rows:
                table = pa.Table.from_batches(pending, schema=stream.schema)
                yield table.slice(0, chunk_rows)
                produced = True
                rest = table.slice(chunk_rows)
                pending, held = rest.to_batches(), rest.num_rows
        if held or not produced:
            yield pa.Table.from_batches(pending, schema=stream.schema)
    finally:
        cursor.close()
