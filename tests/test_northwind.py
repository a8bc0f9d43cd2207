"""The ready Northwind order-to-cash configuration, on the SQLite file and on PostgreSQL."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.resources import Resources

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "northwind"


def run(tmp_path: Path, url: str, monkeypatch: pytest.MonkeyPatch) -> tuple[Counter[str], int]:
    for name in ("kaizen.yaml", "order_to_cash.bpmn"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    monkeypatch.setenv("NORTHWIND_URL", url)
    config = load_config(tmp_path / "kaizen.yaml")
    process = config.processes[0]
    stages.ingest(Resources(config), process, "r1")
    log = stages.read_log(Resources(config), process)
    result = stages.check(process, log, stages.designed_model(Resources(config), process))
    return Counter(d.kind for d in result.deviations), log.event_count


def expected(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        def count(where: str) -> int:
            query = sa.text(f'SELECT count(*) FROM "Orders" WHERE {where}')
            return int(connection.execute(query).scalar_one())

        figures = {
            "orders": count("1 = 1"),
            "shipped": count('"ShippedDate" IS NOT NULL'),
            "late": count('"ShippedDate" > "RequiredDate"'),
            "unshipped": count('"ShippedDate" IS NULL'),
        }
    engine.dispose()
    return figures


def assert_matches_the_database(kinds: Counter[str], events: int, figures: dict[str, int]) -> None:
    assert events == 2 * figures["orders"] + figures["shipped"]
    assert kinds["wrong_order"] == figures["late"] > 0  # shipped after the required date
    assert kinds["skipped"] == figures["unshipped"] > 0


def test_northwind_orders_become_an_order_to_cash_log(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{shared_data / 'db' / 'northwind.sqlite'}"
    kinds, events = run(tmp_path, url, monkeypatch)
    assert_matches_the_database(kinds, events, expected(url))


def test_the_same_configuration_reads_northwind_loaded_into_postgresql(
    shared_data: Path, postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = sa.create_engine(f"sqlite:///{shared_data / 'db' / 'northwind.sqlite'}")
    target = sa.create_engine(postgres_url)
    dates = {"Orders": ["OrderDate", "RequiredDate", "ShippedDate"]}
    with source.connect() as reader, target.begin() as writer:
        for table in ("Orders", "Employees", "Shippers", "Customers"):
            frame = pd.read_sql_query(sa.text(f'SELECT * FROM "{table}"'), reader)
            frame = frame.drop(columns=[c for c in ("Photo",) if c in frame.columns])
            for column in dates.get(table, []):
                frame[column] = pd.to_datetime(frame[column])
            frame.to_sql(table, writer, index=False)
    source.dispose()
    target.dispose()
    kinds, events = run(tmp_path, postgres_url, monkeypatch)
    assert_matches_the_database(kinds, events, expected(postgres_url))
