"""Reading events from operational databases through SQLAlchemy, incrementally, one query per kind."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from sources.mapping import EventMapping, SourceError, map_rows, map_rows_quarantining

_PARAMETER = "kaizen_watermark"


@dataclass(frozen=True)
class Increment:
    """Read only rows whose ``column`` is past ``after`` (minus ``lookback``), if ``after`` is set."""

    column: str
    after: str | None = None
    lookback: timedelta = timedelta(0)


@dataclass(frozen=True)
class Extracted:
    """The events of one source and the watermark to commit once they are stored."""

    events: pd.DataFrame
    rows: int
    watermark: str | None
    rejects: pd.DataFrame | None = None

    @property
    def quarantined(self) -> int:
        return 0 if self.rejects is None else int(self.rejects["row"].nunique())


def read_query(
    url: str, query: str, source: str, increment: Increment | None = None
) -> pd.DataFrame:
    """Rows of one query, past the watermark if one is given.

    The watermark is always a bound parameter of a wrapping query, never pasted into SQL.
    Errors name the source but never the URL, which may hold a secret.
    """
    engine = sa.create_engine(url)
    try:
        statement, parameters = _statement(engine, query, increment)
        with engine.connect() as connection:
            return pd.read_sql_query(statement, connection, params=parameters)
    except (SQLAlchemyError, pd.errors.DatabaseError) as error:
        # pandas wraps the driver's error with the whole SQL and parameters: report the cause only
        cause = error.__cause__ if isinstance(error, pd.errors.DatabaseError) and error.__cause__ else error
        reason = str(getattr(cause, "orig", None) or cause).splitlines()[0]
        raise SourceError(f"source {source}: query failed: {reason}") from None
    finally:
        engine.dispose()


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
) -> Extracted:
    """Canonical events of one SQL source and its next watermark (unchanged when nothing is new)."""
    rows = read_query(url, query, mapping.source, increment)
    rejects = None
    if quarantine:
        events, rejects = map_rows_quarantining(rows, mapping, process)
    else:
        events = map_rows(rows, mapping, process)
    watermark = increment.after if increment else None
    if increment is not None and len(rows):
        if increment.column not in rows.columns:
            raise SourceError(
                f"source {mapping.source}: watermark column {increment.column} is not in the result"
            )
        watermark = encode_watermark(rows[increment.column].max())
        if increment.after is not None and _later(increment.after, watermark):
            watermark = increment.after  # a look-back window never moves the watermark back
    return Extracted(events=events, rows=len(rows), watermark=watermark, rejects=rejects)


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
