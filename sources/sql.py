"""Reading events from operational databases through SQLAlchemy, one query per kind of event."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from sources.mapping import EventMapping, SourceError, map_rows


def read_query(url: str, query: str, source: str) -> pd.DataFrame:
    """Rows of one query. Errors name the source but never the URL, which may hold a secret."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as connection:
            return pd.read_sql_query(sa.text(query), connection)
    except SQLAlchemyError as error:
        reason = str(getattr(error, "orig", None) or error).splitlines()[0]
        raise SourceError(f"source {source}: query failed: {reason}") from None
    finally:
        engine.dispose()


def extract_sql(url: str, query: str, mapping: EventMapping, process: str) -> pd.DataFrame:
    """Canonical events of one SQL source."""
    return map_rows(read_query(url, query, mapping.source), mapping, process)
