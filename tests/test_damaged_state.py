"""Damaged state: the record stores stop a night in one line with nothing changed, derived ones
are set aside and rebuilt, and `kaizen doctor` says which store is what."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sqlite3
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from kaizenflow.api import run_night
from kaizenflow.cli.main import app
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.locking import run_lock
from kaizenflow.pipeline.preflight import preflight
from kaizenflow.sample_logs import BPMN_PATH, SimulationConfig, generate
from kaizenflow.storage.alignment_cache import AlignmentCacheFile
from kaizenflow.storage.case_checks import CaseLedger
from kaizenflow.storage.health import StateDamagedError, check_state
from kaizenflow.storage.state import StateStore, StateStoreError

SAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
RECORD_STORES = ["kaizen.db", "events.duckdb"]


def night(config: KaizenConfig, run_id: str = "") -> None:
    """A night as `kaizen run` runs it (in this process, under the run lock, after the preflight)."""
    run_night(config, report=False)


@pytest.fixture(scope="module")
def healthy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding an ERP, a configuration and the state of one night."""
    directory = tmp_path_factory.mktemp("healthy")
    generate(f"sqlite:///{directory / 'p2p.db'}", SimulationConfig(cases=150, days=30))
    shutil.copy(BPMN_PATH, directory / "purchase_to_pay.bpmn")
    (directory / "kaizen.yaml").write_text(SAMPLE_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    night(load_config(directory / "kaizen.yaml"), "night-1")
    return directory


@pytest.fixture
def copy(healthy: Path, tmp_path: Path) -> KaizenConfig:
    """A copy of the healthy folder to damage."""
    target = tmp_path / "copy"
    shutil.copytree(healthy, target, ignore=shutil.ignore_patterns("run.lock"))
    return load_config(target / "kaizen.yaml")


def fingerprints(directory: Path) -> dict[str, str]:
    """Every file of the state by content: to show that nothing was changed."""
    return {str(path.relative_to(directory)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(directory.rglob("*")) if path.is_file() and path.name != "run.lock"}


def truncate_half(path: Path) -> None:
    with open(path, "r+b") as handle:
        handle.truncate(path.stat().st_size // 2)


def refused(config: KaizenConfig) -> str:
    """The one line a night stops with; the state is compared before and after by the caller."""
    with pytest.raises(StateDamagedError) as caught:
        night(config, "night-2")
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_healthy_state_is_ok_for_the_doctor(copy: KaizenConfig) -> None:
    result = CliRunner().invoke(app, ["doctor", "--config", str(copy.base_dir / "kaizen.yaml")])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert [line.split(" (")[0] for line in lines] == ["state database", "event store", "alignment cache",
                                                      "case ledger", "case contributions"]
    assert all(line.endswith(": ok") for line in lines)


def test_a_zero_byte_state_database_stops_the_night_and_changes_nothing(copy: KaizenConfig) -> None:
    """Before: the run succeeded and raised every task again from scratch, losing their history."""
    (copy.state_directory / "kaizen.db").write_bytes(b"")
    before = fingerprints(copy.state_directory)
    message = refused(copy)
    assert "state database" in message and "empty, although the event store shows it existed" in message
    assert fingerprints(copy.state_directory) == before


def test_a_state_database_recreated_empty_by_a_read_command_is_still_refused(copy: KaizenConfig) -> None:
    (copy.state_directory / "kaizen.db").unlink()
    StateStore(copy.state_url).dispose()  # what `kaizen tasks list` does: a new, empty database
    message = refused(copy)
    assert "empty, although the event store shows it existed" in message


def test_a_missing_event_store_stops_the_night_and_changes_nothing(copy: KaizenConfig) -> None:
    (copy.state_directory / "events.duckdb").unlink()
    before = fingerprints(copy.state_directory)
    message = refused(copy)
    assert "event store" in message and "missing, although the state database shows it existed" in message
    assert fingerprints(copy.state_directory) == before


@pytest.mark.parametrize("name", RECORD_STORES)
def test_a_half_truncated_record_store_stops_the_night_and_changes_nothing(
    copy: KaizenConfig, name: str
) -> None:
    truncate_half(copy.state_directory / name)
    before = fingerprints(copy.state_directory)
    message = refused(copy)
    assert "damaged" in message and "restore it from a backup" in message
    assert fingerprints(copy.state_directory) == before


def test_random_pages_written_into_the_state_database_are_noticed(copy: KaizenConfig) -> None:
    path = copy.state_directory / "kaizen.db"
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.seek(size // 2)
        handle.write(os.urandom(4096))
    assert "damaged" in refused(copy)


def test_two_stores_of_different_states_are_refused(copy: KaizenConfig, tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.mkdir()
    (other / "kaizen.yaml").write_text(yaml.safe_dump({
        **yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8")),
        "connections": {"erp": {"url": f"sqlite:///{copy.base_dir / 'p2p.db'}"}},
    }), encoding="utf-8")
    shutil.copy(BPMN_PATH, other / "purchase_to_pay.bpmn")
    second = load_config(other / "kaizen.yaml")
    with run_lock(second.state_directory, second.state_url):
        preflight(second)  # a state of its own, with an id of its own
    shutil.copy(second.state_directory / "kaizen.db", copy.state_directory / "kaizen.db")
    assert "belongs to another state" in refused(copy)


def test_a_damaged_record_store_is_one_line_for_a_read_command(copy: KaizenConfig) -> None:
    truncate_half(copy.state_directory / "kaizen.db")
    result = CliRunner().invoke(app, ["tasks", "list", "--config", str(copy.base_dir / "kaizen.yaml")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert "kaizen doctor" in result.output


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_an_alignment_cache_that_cannot_be_read_is_set_aside_and_rebuilt(
    copy: KaizenConfig, damage: str, caplog: pytest.LogCaptureFixture
) -> None:
    path = copy.state_directory / "alignments.db"
    if damage == "garbage":
        path.write_bytes(os.urandom(20_000))
    else:
        truncate_half(path)
    with caplog.at_level(logging.WARNING):
        night(copy, "night-2")
    assert list(copy.state_directory.glob("alignments.db.damaged-*"))
    assert any("alignment cache" in record.getMessage() and "set aside" in record.getMessage()
               for record in caplog.records)
    assert len(AlignmentCacheFile(path)) > 0  # rebuilt by the night


def test_garbage_rows_in_the_alignment_cache_are_misses_not_crashes(copy: KaizenConfig) -> None:
    path = copy.state_directory / "alignments.db"
    connection = sqlite3.connect(path)
    with connection:
        connection.execute("UPDATE alignments SET moves = 'not json', cost = 'x'")
    connection.close()
    cache = AlignmentCacheFile(path)
    variants = [tuple(json.loads(row[0])) for row in
                sqlite3.connect(path).execute("SELECT activities FROM alignments").fetchall()]
    assert cache.get_many(next(iter(_model_hashes(path))), variants) == {}
    night(copy, "night-2")  # aligned again


def _model_hashes(path: Path) -> set[str]:
    return {row[0] for row in sqlite3.connect(path).execute("SELECT model_hash FROM alignments")}


@pytest.mark.parametrize("damage", ["garbage", "truncated"])
def test_a_case_ledger_that_cannot_be_read_is_set_aside_and_rebuilt(copy: KaizenConfig, damage: str) -> None:
    path = copy.state_directory / "case_checks.duckdb"
    if damage == "garbage":
        path.write_bytes(os.urandom(300_000))
    else:
        truncate_half(path)
    night(copy, "night-2")
    assert list(copy.state_directory.glob("case_checks.duckdb.damaged-*"))
    assert check_state(copy.state_directory, copy.state_url)[3].status == "ok"


def test_the_ledger_sets_itself_aside_when_read_outside_a_night(copy: KaizenConfig) -> None:
    path = copy.state_directory / "case_checks.duckdb"
    path.write_bytes(os.urandom(300_000))
    events, checks = CaseLedger(path).load("purchase-to-pay", "any")
    assert events.empty and checks.cases.empty
    assert list(copy.state_directory.glob("case_checks.duckdb.damaged-*"))


@pytest.mark.parametrize("name", [*RECORD_STORES, "alignments.db", "case_checks.duckdb",
                                  "case_contributions.duckdb"])
def test_the_doctor_names_the_damaged_store_and_exits_1(copy: KaizenConfig, name: str) -> None:
    truncate_half(copy.state_directory / name)
    before = fingerprints(copy.state_directory)
    result = CliRunner().invoke(app, ["doctor", "--config", str(copy.base_dir / "kaizen.yaml"), "--json"])
    assert result.exit_code == 1, result.output
    verdicts = {v["store"]: v for v in json.loads(result.output)}
    damaged = [store for store, v in verdicts.items() if v["status"] == "damaged"]
    expected = {"kaizen.db": "state database", "events.duckdb": "event store",
                "alignments.db": "alignment cache", "case_checks.duckdb": "case ledger",
                "case_contributions.duckdb": "case contributions"}[name]
    assert damaged == [expected]
    assert verdicts[expected]["detail"] and verdicts[expected]["advice"]
    after = fingerprints(copy.state_directory)  # the doctor changes nothing (SQLite may add side files)
    assert {name: after[name] for name in before} == before
    assert all(name.endswith(("-wal", "-shm")) for name in set(after) - set(before))


def test_an_unreachable_postgresql_state_database_is_one_line(copy: KaizenConfig) -> None:
    with pytest.raises(StateStoreError) as caught:
        with run_lock(copy.state_directory, "postgresql+psycopg://kaizen@127.0.0.1:1/state"):
            pass
    assert "\n" not in str(caught.value)
    assert "cannot connect" in str(caught.value)


def test_kaizen_run_on_an_emptied_state_database_is_one_line_and_changes_nothing(copy: KaizenConfig) -> None:
    import subprocess
    import sys

    (copy.state_directory / "kaizen.db").write_bytes(b"")
    before = fingerprints(copy.state_directory)
    environment = {k: v for k, v in os.environ.items() if not k.startswith("PREFECT_")}
    result = subprocess.run([str(Path(sys.executable).with_name("kaizen")), "run", "--config",
                             str(copy.base_dir / "kaizen.yaml")], capture_output=True, text=True,
                            env=environment, timeout=300)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kaizen: error: state database ")
    assert "empty, although the event store shows it existed" in lines[0]
    after = fingerprints(copy.state_directory)
    assert {name: after[name] for name in before} == before
