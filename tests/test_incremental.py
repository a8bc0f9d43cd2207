"""Incremental nights: only new rows are read, every event is stored exactly once, on every database."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import BPMN_PATH, SimulationConfig, append_days, generate
from kaizenflow.storage import EventStore

REPOSITORY = Path(__file__).resolve().parent.parent
SAMPLE_CONFIG = REPOSITORY / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
BUSINESS_TABLES = ["purchase_requisitions", "purchase_orders", "po_changes", "po_approvals",
                   "goods_receipts", "invoices", "payments"]


def configure(directory: Path, url: str, watermarks: bool = True) -> KaizenConfig:
    """The sample configuration pointed at ``url`` (through an environment variable)."""
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["connections"]["erp"] = {"url_env": "KAIZEN_TEST_ERP_URL"}
    if not watermarks:
        for source in data["processes"][0]["sources"]:
            source.pop("watermark", None)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(BPMN_PATH, directory / "purchase_to_pay.bpmn")
    path = directory / "kaizen.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    os.environ["KAIZEN_TEST_ERP_URL"] = url
    return load_config(path)


def night(config: KaizenConfig, run_id: str) -> int:
    process = config.processes[0]
    extracted = [stages.extract(Resources(config), process, source) for source in process.sources]
    return stages.load(Resources(config), process, run_id, extracted).added


def stored_ids(config: KaizenConfig) -> set[str]:
    return set(Resources(config).events.stored_events(config.processes[0].name)["event_id"])


def business_rows(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as connection:
        total = sum(connection.execute(sa.text(f"SELECT count(*) FROM {t}")).scalar_one()
                    for t in BUSINESS_TABLES)
    engine.dispose()
    return int(total)


@pytest.fixture(autouse=True)
def erp_url_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAIZEN_TEST_ERP_URL", "unset")


def full_load(url: str, directory: Path) -> set[str]:
    """Event ids of a full extraction into a fresh store: the reference an increment must match."""
    config = configure(directory, url, watermarks=False)
    night(config, "full")
    return stored_ids(config)


def incremental_nights_equal_a_full_load(url: str, tmp_path: Path) -> None:
    generate(url, SimulationConfig(cases=600, days=60))
    incremental = configure(tmp_path / "incremental", url)
    first = night(incremental, "n1")
    assert first == len(full_load(url, tmp_path / "full-1")) > 0.9 * business_rows(url)
    watermarks = EventStore(incremental.state_directory / "events.duckdb").watermarks("purchase-to-pay")
    assert set(watermarks) == {s.name for s in incremental.processes[0].sources}

    append_days(url, 7)
    second = night(incremental, "n2")
    everything = full_load(url, tmp_path / "full-2")
    assert second > 0 and first + second == len(everything)
    assert stored_ids(incremental) == everything
    assert night(incremental, "n3") == 0
    assert EventStore(incremental.state_directory / "events.duckdb").duplicate_event_ids() == 0


def test_incremental_nights_on_sqlite_add_exactly_the_new_events(tmp_path: Path) -> None:
    incremental_nights_equal_a_full_load(f"sqlite:///{tmp_path / 'erp.db'}", tmp_path)


def test_incremental_nights_on_postgresql_add_exactly_the_new_events(
    postgres_url: str, tmp_path: Path
) -> None:
    incremental_nights_equal_a_full_load(postgres_url, tmp_path)


def test_incremental_nights_on_mariadb_add_exactly_the_new_events(
    mariadb_url: str, tmp_path: Path
) -> None:
    incremental_nights_equal_a_full_load(mariadb_url, tmp_path)


def test_a_watermark_is_only_ever_a_bound_parameter(tmp_path: Path) -> None:
    """A hostile value in the data becomes a watermark and is compared, never executed."""
    import sqlalchemy as sa

    url = f"sqlite:///{tmp_path / 'erp.db'}"
    engine = sa.create_engine(url)
    hostile = "x'); DROP TABLE tickets; --"
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE tickets (id TEXT, at TEXT, who TEXT)"))
        connection.execute(sa.text("INSERT INTO tickets VALUES (:id, '2024-01-01 10:00:00', :who)"),
                           {"id": hostile, "who": hostile})
    from kaizenflow.sources.mapping import EventMapping
    from kaizenflow.sources.sql import Increment, extract_sql

    mapping = EventMapping(source="tickets", case_id="id", timestamp="at", activity="Open",
                           resource="who")
    query = "SELECT id, at, who FROM tickets"
    first = extract_sql(url, query, mapping, "p", Increment(column="id"), staging=tmp_path / "staging")
    assert first.watermark == f"str:{hostile}"
    again = extract_sql(url, query, mapping, "p", Increment(column="id", after=first.watermark),
                        staging=tmp_path / "staging")
    assert again.rows == 0
    assert first.events["case_id"].tolist() == [hostile]
    with engine.connect() as connection:
        assert connection.execute(sa.text("SELECT count(*) FROM tickets")).scalar_one() == 1
    engine.dispose()


KILL_SCRIPT = """
import sys
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import load_config
from kaizenflow.pipeline.resources import Resources
resources = Resources(load_config(sys.argv[1]))
process = resources.config.processes[0]
extracted = [stages.extract(resources, process, source) for source in process.sources]
print("loading", flush=True)
stages.load(resources, process, "killed", extracted)
print("loaded", flush=True)
"""


def test_a_load_killed_half_way_leaves_nothing_behind_and_the_rerun_stores_each_event_once(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'erp.db'}"
    generate(url, SimulationConfig(cases=20_000, days=200))
    expected = len(full_load(url, tmp_path / "reference"))
    config = configure(tmp_path / "state", url)
    environment = {**os.environ, "KAIZEN_TEST_ERP_URL": url}
    killed_while_loading = 0
    for delay in (0.05, 0.3, 0.8):
        process = subprocess.Popen(
            [sys.executable, "-c", KILL_SCRIPT, str(config.base_dir / "kaizen.yaml")],
            stdout=subprocess.PIPE, text=True, env=environment,
        )
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "loading"
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait()
        process.stdout.close()
        store = EventStore(config.state_directory / "events.duckdb")
        count = store.count("purchase-to-pay")
        assert count in (0, expected), "a half-written batch is visible"
        if count == 0:
            killed_while_loading += 1
            assert store.watermarks("purchase-to-pay") == {}
    assert killed_while_loading >= 1, "the load finished before every kill: use a larger sample"
    night(config, "rerun")
    assert EventStore(config.state_directory / "events.duckdb").count("purchase-to-pay") == expected
    assert EventStore(config.state_directory / "events.duckdb").duplicate_event_ids() == 0
