"""Extraction: the 1M-event ERP's sources read by each way there is, and extracted into the store.

The ingestion benchmark's simulated purchase-to-pay ERP (SQLite, 1,031,827 events in seven
sources) is read query by query as the night reads it:

- fetch only: SQLAlchemy with pandas' SQL reader in chunks (kaizenflow's way before ADBC), the
  ADBC SQLite driver's Arrow record batches (handed on as pandas columns, as the night does),
  ConnectorX's Arrow tables, and DuckDB's own SQLite scanner; the standard library's sqlite3
  fetching Python rows is the floor;
- the whole first load (extract, map to events with deterministic ids, stage, append to the
  event store), through ADBC and through SQLAlchemy: the same events and ids either way.

A way whose package or extension is not installed is reported as such, not measured.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pandas as pd  # noqa: F401 - imported before timing, as in the other contender modules
import pyarrow as pa  # noqa: F401

from benchmarks.measure import Measurement, run_contender

MODULE = "benchmarks.extraction"


def _queries(work: str) -> list[str]:
    import yaml

    config = yaml.safe_load((Path(work) / "kaizen.yaml").read_text(encoding="utf-8"))
    return [source["query"] for source in config["processes"][0]["sources"]]


def _database(work: str) -> str:
    return str(Path(work) / "p2p.db")


def fetch_sqlalchemy(work: str) -> dict[str, object]:
    import sqlalchemy as sa

    rows = 0
    engine = sa.create_engine(f"sqlite:///{_database(work)}")
    with engine.connect() as connection:
        connection.execution_options(stream_results=True, max_row_buffer=200_000)
        for query in _queries(work):
            for chunk in pd.read_sql_query(sa.text(query), connection, chunksize=200_000):
                rows += len(chunk)
    engine.dispose()
    return {"rows": rows}


def fetch_adbc(work: str) -> dict[str, object]:
    """kaizenflow's reader as the night calls it: ADBC record batches, as pandas chunks."""
    from kaizenflow.sources.sql import read_query

    rows = 0
    for query in _queries(work):
        for chunk in read_query(f"sqlite:///{_database(work)}", query, "bench"):
            rows += len(chunk)
    return {"rows": rows}


def fetch_connectorx(work: str) -> dict[str, object]:
    import connectorx

    rows = 0
    for query in _queries(work):
        table: pa.Table = connectorx.read_sql(f"sqlite://{_database(work)}", query, return_type="arrow")
        rows += len(table.to_pandas())
    return {"rows": rows}


def fetch_duckdb(work: str) -> dict[str, object]:
    import duckdb

    rows = 0
    connection = duckdb.connect()
    try:
        connection.sql("LOAD sqlite")
    except duckdb.Error as error:  # an extension DuckDB downloads on first use
        raise RuntimeError(f"DuckDB's sqlite extension: {str(error).splitlines()[0][:90]}") from None
    connection.sql(f"ATTACH '{_database(work)}' AS erp (TYPE sqlite, READ_ONLY)")
    connection.sql("USE erp")
    for query in _queries(work):
        reader: pa.RecordBatchReader = connection.execute(query).to_arrow_reader(200_000)
        for batch in reader:
            rows += len(batch.to_pandas())
    return {"rows": rows}


def fetch_sqlite3(work: str) -> dict[str, object]:
    import sqlite3

    rows = 0
    connection = sqlite3.connect(_database(work))
    for query in _queries(work):
        rows += len(connection.execute(query).fetchall())
    connection.close()
    return {"rows": rows}


def _load(work: str, arrow: bool) -> dict[str, object]:
    import kaizenflow.sources.sql
    from kaizenflow.pipeline import stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    if not arrow:
        vars(kaizenflow.sources.sql)["reader_for"] = lambda url: None  # SQLAlchemy for every source
    config = load_config(Path(work) / "kaizen.yaml")
    shutil.rmtree(config.state_directory, ignore_errors=True)
    process = config.processes[0]
    added = stages.ingest(Resources(config), process, "bench").added
    import duckdb

    with duckdb.connect(str(config.state_directory / "events.duckdb"), read_only=True) as store:
        # one figure for the stored events: their ids, cases, activities, times, resources, attributes
        found = store.sql("SELECT bit_xor(hash(event_id, case_id, activity, timestamp, resource, "
                          "attributes)) FROM events").fetchall()[0]
    shutil.rmtree(config.state_directory, ignore_errors=True)
    return {"rows": added, "events": str(found[0] if found else None)}


def load_adbc(work: str) -> dict[str, object]:
    return _load(work, arrow=True)


def load_sqlalchemy(work: str) -> dict[str, object]:
    return _load(work, arrow=False)


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {
    "fetch: SQLAlchemy and pandas (before)": fetch_sqlalchemy,
    "fetch: ADBC SQLite, Arrow batches (now)": fetch_adbc,
    "fetch: ConnectorX, Arrow": fetch_connectorx,
    "fetch: DuckDB's SQLite scanner": fetch_duckdb,
    "fetch: sqlite3, Python rows (floor)": fetch_sqlite3,
    "first load through SQLAlchemy (before)": load_sqlalchemy,
    "first load through ADBC (now)": load_adbc,
}


@dataclass(frozen=True)
class ExtractionRow:
    name: str
    measured: Measurement | None
    reason: str = ""


def run(work: Path) -> Iterator[ExtractionRow]:
    """Each way once, in a fresh process; ``work`` holds the ingestion benchmark's ERP and config."""
    for name in CONTENDERS:
        try:
            yield ExtractionRow(name, run_contender(MODULE, name, str(work)))
        except RuntimeError as error:
            yield ExtractionRow(name, None, str(error).strip().splitlines()[-1][:160])
