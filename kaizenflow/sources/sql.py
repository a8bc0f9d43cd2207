"""Reading events from operational databases, incrementally, one query per kind: through ADBC as
Arrow where a driver is installed (SQLite, PostgreSQL), through SQLAlchemy for the rest."""

from __future__ import annotations

from collections.abc import Generator
from contextlib import closing
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from kaizenflow.sources.arrow_sql import ArrowReader, adbc_errors, is_transient, read_batches, reader_for
from kaizenflow.sources.mapping import EventMapping, SeenIds, SourceError, map_rows, map_rows_quarantining
from kaizenflow.storage.staging import DEFAULT_CHUNK_ROWS, Extracted, stage

__all__ = ["Extracted", "Increment", "extract_sql", "read_query", "encode_watermark"]

_PARAMETER = "kaizen_watermark"


@dataclass(frozen=True)
class Increment:
    """Read only rows whose ``column`` is past ``after`` (minus ``lookback``), if ``after`` is set."""

    column: str
    after: str | None = None
    lookback: timedelta = timedelta(0)


def read_query(
    url: str, query: str, source: str, increment: Increment | None = None,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Generator[pd.DataFrame, None, None]:
    """Rows of one query, past the watermark if one is given, ``chunk_rows`` at a time.

    The result is streamed (a server-side cursor where the driver has one), so a whole history
    is never in memory at once; an empty result is one empty chunk that still has the columns.
    The watermark is always a bound parameter of a wrapping query, never pasted into SQL.
    Errors name the source but never the URL, which may hold a secret.
    """
    _refuse_missing_sqlite_file(url, source)
    arrow = reader_for(url)
    connection = _connect_arrow(arrow)
    if arrow is not None and connection is not None:
        yield from _read_arrow(connection, arrow, query, source, increment, chunk_rows)
        return
    engine = sa.create_engine(url)
    try:
        statement, parameters = _statement(engine, query, increment)
        with engine.connect() as connection:
            connection.execution_options(stream_results=True, max_row_buffer=chunk_rows)
            yield from pd.read_sql_query(statement, connection, params=parameters, chunksize=chunk_rows)
    except (SQLAlchemyError, pd.errors.DatabaseError) as error:
        # pandas wraps the driver's error with the whole SQL and parameters: report the cause only
        cause = error.__cause__ if isinstance(error, pd.errors.DatabaseError) and error.__cause__ else error
        reason = str(getattr(cause, "orig", None) or cause).splitlines()[0]
        raise SourceError(f"source {source}: query failed: {reason}", transient=_may_pass(cause)) from None
    finally:
        engine.dispose()


def _connect_arrow(arrow: ArrowReader | None) -> Any:
    """An ADBC connection, or None: then SQLAlchemy reads, and reports a database it cannot reach
    in its own words (the same error with or without ADBC)."""
    if arrow is None:
        return None
    try:
        return arrow.connect()
    except adbc_errors():
        return None


def _read_arrow(
    connection: Any, arrow: ArrowReader, query: str, source: str, increment: Increment | None,
    chunk_rows: int,
) -> Generator[pd.DataFrame, None, None]:
    """The rows through ADBC as Arrow tables, each handed on as pandas columns of the same types
    pandas' own SQL reader gives (integers with NULLs as floats, text as strings)."""
    body = query.strip().rstrip(";")
    parameters: list[object] = []
    if increment is not None and increment.after is not None:
        column = '"' + increment.column.replace('"', '""') + '"'
        body = f"SELECT * FROM ({body}) kaizen_source WHERE kaizen_source.{column} > {arrow.marker}"
        parameters.append(_bound(increment))
    try:
        for table in read_batches(connection, arrow, body, parameters, chunk_rows):
            yield table.to_pandas()
    except adbc_errors() as error:
        # SQLite's own module calls nearly every failed query an OperationalError (a missing table
        # too), which SQLAlchemy's reading reports as transient: the same error stays so here.
        transient = is_transient(error) or arrow.backend == "sqlite"
        reason = _adbc_reason(error)
        raise SourceError(f"source {source}: query failed: {reason}", transient=transient) from None
    finally:
        connection.close()


def _adbc_reason(error: BaseException) -> str:
    """The database's own message, as SQLAlchemy's reading gives it: without ADBC's status and
    driver prefixes ("INVALID_ARGUMENT: [SQLite] Failed to prepare query: ...")."""
    reason = str(error).splitlines()[0]
    for prefix in ("[SQLite] ", "[libpq] ", "Failed to prepare query: ", "Failed to execute query: "):
        reason = reason.split(prefix, 1)[-1]
    return reason


def _may_pass(error: BaseException) -> bool:
    """Whether reading again may succeed: the driver lost or never reached the database (DBAPI's
    OperationalError, which SQLite also raises for a missing table) rather than refused the query."""
    return isinstance(error, sa.exc.OperationalError | sa.exc.InterfaceError) or bool(
        getattr(error, "connection_invalidated", False))


def _refuse_missing_sqlite_file(url: str, source: str) -> None:
    """SQLite creates a database file that is not there: a mistyped path would be read as an
    empty database ("no such table"), and leave an empty file behind."""
    parsed = sa.engine.make_url(url)
    database = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or database in ("", ":memory:") or database.startswith("file:"):
        return
    if not Path(database).is_file():
        raise SourceError(f"source {source}: SQLite database {database} does not exist")


def _statement(
    engine: sa.Engine, query: str, increment: Increment | None
) -> tuple[sa.TextClause, dict[str, Any]]:
    body = query.strip().rstrip(";")
    if increment is None or increment.after is None:
        return sa.text(body), {}
    column = engine.dialect.identifier_preparer.quote(increment.column)
    wrapped = f"SELECT * FROM ({body}) kaizen_source WHERE kaizen_source.{column} > :{_PARAMETER}"
    return sa.text(wrapped), {_PARAMETER: _bound(increment)}


def extract_sql(
    url: str,
    query: str,
    mapping: EventMapping,
    process: str,
    increment: Increment | None = None,
    quarantine: bool = False,
    *,
    staging: Path,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> Extracted:
    """Canonical events of one SQL source, staged under ``staging``, and its next watermark
    (unchanged when nothing is new).

    The result is read, mapped and staged a chunk at a time: memory is bounded by the chunk,
    not by the history. Row numbers in errors and quarantine count from the start of the result.
    """
    rows = 0
    maxima: list[object] = []
    seen = SeenIds()

    def mapped() -> Generator[tuple[pd.DataFrame, pd.DataFrame | None], None, None]:
        nonlocal rows
        with closing(read_query(url, query, mapping.source, increment, chunk_rows)) as chunks:
            for chunk in chunks:
                rejects = None
                if quarantine:
                    events, rejects = map_rows_quarantining(chunk, mapping, process,
                                                            first_row=rows, seen=seen)
                else:
                    events = map_rows(chunk, mapping, process, first_row=rows, seen=seen)
                if increment is not None and len(chunk):
                    if increment.column not in chunk.columns:
                        raise SourceError(f"source {mapping.source}: watermark column "
                                          f"{increment.column} is not in the result")
                    latest = chunk[increment.column].max()
                    if not pd.isna(latest):  # a chunk whose column is all NULL has no maximum
                        maxima.append(latest)
                rows += len(chunk)
                yield events, rejects

    with closing(mapped()) as chunks:  # the query is closed at once if staging fails
        directory, counts, quarantined = stage(staging, process, mapping.source, chunks)
    watermark = increment.after if increment else None
    if maxima:
        watermark = encode_watermark(pd.Series(maxima).max())
        if increment is not None and increment.after is not None and _later(increment.after, watermark):
            watermark = increment.after  # a look-back window never moves the watermark back
    # explicit ids were checked unique across the chunks (``seen``); content ids may repeat
    return Extracted(directory=directory, chunks=counts, rows=rows, watermark=watermark,
                     quarantined=quarantined, distinct_ids=mapping.event_id is not None)


def encode_watermark(value: object) -> str:
    """A watermark as text that keeps its type: ``int:42``, ``ts:2024-01-01T10:00:00``, ``str:...``."""
    if isinstance(value, bool):
        raise SourceError("a watermark column must be a timestamp or an increasing number")
    if isinstance(value, int) or (hasattr(value, "dtype") and str(value.dtype).startswith("int")):
        return f"int:{int(value)}"  # type: ignore[call-overload]
    if isinstance(value, datetime | pd.Timestamp):
        return f"ts:{pd.Timestamp(value).isoformat()}"
    if isinstance(value, float) and value.is_integer():
        return f"int:{int(value)}"
    return f"str:{value}"


def _decode(text: str) -> object:
    kind, _, value = text.partition(":")
    if kind == "int":
        return int(value)
    if kind == "ts":
        return pd.Timestamp(value).to_pydatetime()
    return value


def _bound(increment: Increment) -> object:
    assert increment.after is not None
    value = _decode(increment.after)
    if not increment.lookback:
        return value
    if isinstance(value, datetime):
        return value - increment.lookback
    if isinstance(value, str):
        try:
            earlier = pd.Timestamp(value) - increment.lookback
        except ValueError:
            return value
        # keep the source's own text format (SQLite stores timestamps as text)
        return earlier.strftime("%Y-%m-%d %H:%M:%S.%f" if "." in value else "%Y-%m-%d %H:%M:%S")
    return value


def _later(first: str, second: str) -> bool:
    a, b = _decode(first), _decode(second)
    try:
        return bool(a > b)  # type: ignore[operator]
    except TypeError:
        return False
