"""No one let in: a password in a connection URL appears in no log, error, report, export,
artifact or state file, and the files holding the organisation's state are owner-only."""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
import tempfile
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest
import yaml

from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import KaizenConfig, load_config
from kaizenflow.pipeline.resources import Resources
from kaizenflow.sample_logs import BPMN_PATH, SimulationConfig, generate
from kaizenflow.sources.mapping import SourceError

pytestmark = pytest.mark.slow

SECRET = "KNOWN-SECRET-123"
VARIABLE = "KAIZEN_SECRET_ERP_URL"
SAMPLE_CONFIG = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"


def with_password(url: str) -> str:
    assert "postgres@" in url
    return url.replace("postgres@", f"postgres:{SECRET}@", 1)


def configure(directory: Path) -> KaizenConfig:
    data = yaml.safe_load(SAMPLE_CONFIG.read_text(encoding="utf-8"))
    data["connections"]["erp"] = {"url_env": VARIABLE}
    data["execution"] = {"task_runner": "thread", "workers": 2}
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copy(BPMN_PATH, directory / "purchase_to_pay.bpmn")
    (directory / "kaizen.yaml").write_text(yaml.safe_dump(data), encoding="utf-8")
    return load_config(directory / "kaizen.yaml")


def file_texts(directory: Path) -> Iterator[tuple[Path, bytes]]:
    """Every file's bytes, and the table contents of DuckDB and SQLite files (they may compress)."""
    for path in sorted(p for p in directory.rglob("*") if p.is_file()):
        yield path, path.read_bytes()
        if path.suffix == ".duckdb":
            connection = duckdb.connect(str(path), read_only=True)
            try:
                tables = connection.execute("SELECT table_name FROM information_schema.tables").fetchall()
                for (table,) in tables:
                    rows = connection.execute(f'SELECT * FROM "{table}"').fetchall()
                    yield path, repr(rows).encode()
            finally:
                connection.close()
        elif path.suffix == ".db":
            with sqlite3.connect(path) as database:
                yield path, "\n".join(database.iterdump()).encode()


def leaks_in_files(directory: Path) -> list[str]:
    return [str(path) for path, data in file_texts(directory) if SECRET.encode() in data]


def error_text(error: BaseException) -> str:
    return "".join(traceback.format_exception(error))  # with every chained cause and context


@dataclass
class Night:
    config: KaizenConfig
    workdir: Path
    logs: list[str]
    output: str
    errors: list[str]


class Everything(logging.Handler):
    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.getMessage()} {record.exc_text or ''}")
        if record.exc_info and record.exc_info[1] is not None:
            self.lines.append(error_text(record.exc_info[1]))


LOGGERS = ["", "prefect", "prefect.flow_runs", "prefect.task_runs", "sqlalchemy", "kaizenflow"]


def failing_queries(config: KaizenConfig, url: str, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A query on a missing table, and a connection to a closed port, both with the password."""
    process = config.processes[0]
    broken = process.sources[0].model_copy(update={"query": "SELECT * FROM no_such_table"})
    errors = []
    for source, erp in ((broken, url), (process.sources[0], url.replace(":5432", ":1"))):
        monkeypatch.setenv(VARIABLE, erp)
        with pytest.raises(Exception) as caught:  # noqa: PT011 - any error: its text is what matters
            stages.extract(Resources(config), process, source)
        errors.append(error_text(caught.value))
    monkeypatch.setenv(VARIABLE, url)
    return errors


@pytest.fixture(scope="module")
def prefect_night(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    """One night through run_nightly with the password in $KAIZEN_SECRET_ERP_URL, every output kept."""
    from conftest import server_database

    from kaizenflow.flows.nightly import run_nightly

    pytest.importorskip("psycopg")
    monkeypatch = pytest.MonkeyPatch()
    base = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    schema = f"secret_{os.getpid()}"
    databases = server_database(base, f"CREATE SCHEMA {schema}", f"DROP SCHEMA {schema} CASCADE",
                                f"{base}?options=-csearch_path%3D{schema}")
    url = with_password(next(databases))
    workdir = tmp_path_factory.mktemp("secret-night")
    handler = Everything()
    for name in LOGGERS:
        logging.getLogger(name).addHandler(handler)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    captured = tempfile.TemporaryFile()
    try:
        generate(url, SimulationConfig(cases=150, days=60))
        monkeypatch.setenv(VARIABLE, url)
        config = configure(workdir)
        errors = failing_queries(config, url, monkeypatch)
        for fd in (1, 2):
            os.dup2(captured.fileno(), fd)
        run_nightly(str(workdir / "kaizen.yaml"))
    finally:
        for fd, copy in saved.items():
            os.dup2(copy, fd)
            os.close(copy)
        for name in LOGGERS:
            logging.getLogger(name).removeHandler(handler)
        monkeypatch.undo()
    captured.seek(0)
    output = captured.read().decode("utf-8", errors="replace")
    captured.close()
    try:
        yield Night(config=config, workdir=workdir, logs=handler.lines, output=output, errors=errors)
    finally:
        next(databases, None)


def test_the_stage_level_night_and_its_failing_queries_leak_the_password_nowhere(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
) -> None:
    url = with_password(postgres_url)
    generate(url, SimulationConfig(cases=150, days=60))
    monkeypatch.setenv(VARIABLE, url)
    config = configure(tmp_path)
    process = config.processes[0]
    caplog.set_level(logging.DEBUG)
    extracted = [stages.extract(Resources(config), process, source) for source in process.sources]
    stages.load(Resources(config), process, "n1", extracted)
    log = stages.read_log(Resources(config), process)
    result = stages.check(process, log, stages.designed_model(Resources(config), process))
    stages.record(Resources(config), process, "n1", datetime.now(UTC), log, result,
                  stages.patterns(process, log, result))
    errors = failing_queries(config, url, monkeypatch)
    out, err = capfd.readouterr()
    assert sum(e.event_count for e in extracted) > 500
    assert len(errors) == 2 and all(errors)
    assert not [e for e in errors if SECRET in e]
    assert not [r for r in caplog.records if SECRET in r.getMessage() or SECRET in (r.exc_text or "")]
    assert SECRET not in out + err
    assert leaks_in_files(tmp_path) == []


def test_a_failing_source_query_is_a_source_error_without_the_password(
    prefect_night: Night,
) -> None:
    missing_table, closed_port = prefect_night.errors
    assert SECRET not in missing_table and SECRET not in closed_port
    assert "no_such_table" in missing_table
    assert SourceError.__name__ in closed_port.splitlines()[-1]


def test_a_failing_query_ends_in_a_source_error(prefect_night: Night) -> None:
    assert f"{SourceError.__module__}.{SourceError.__qualname__}" in prefect_night.errors[0].splitlines()[-1]


def test_no_log_line_of_the_prefect_night_holds_the_password(prefect_night: Night) -> None:
    assert len(prefect_night.logs) > 10
    assert [line for line in prefect_night.logs if SECRET in line] == []


def test_the_prefect_night_prints_the_password_nowhere(prefect_night: Night) -> None:
    assert SECRET not in prefect_night.output


def test_no_report_export_or_state_file_holds_the_password(prefect_night: Night) -> None:
    reports = prefect_night.config.path(prefect_night.config.reports_directory)
    assert any(reports.glob("*.html")) and any(reports.rglob("*.csv"))
    assert leaks_in_files(prefect_night.workdir) == []


def test_no_prefect_artifact_or_api_log_holds_the_password(prefect_night: Night) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter

    with get_client(sync_client=True) as client:
        artifacts = client.read_artifacts(limit=200)
        logs = client.read_logs(log_filter=LogFilter(), limit=200)
    texts = [f"{a.key} {a.description} {a.data}" for a in artifacts] + [log.message for log in logs]
    assert any("purchase-to-pay" in text for text in texts)
    assert [text for text in texts if SECRET in text] == []


STATE_FILES = ["state/events.duckdb", "state/kaizen.db", "state/alignments.db", "state/run.lock"]


@pytest.mark.parametrize("name", STATE_FILES)
def test_a_state_file_is_owner_only(prefect_night: Night, name: str) -> None:
    path = prefect_night.workdir / name
    assert path.is_file()
    assert path.stat().st_mode & 0o077 == 0, f"{path} is {oct(path.stat().st_mode & 0o777)}"


def test_reports_are_shareable_and_hold_no_secret(prefect_night: Night) -> None:
    """Reports and exports are meant to be read by process owners (0o644, by design)."""
    reports = prefect_night.config.path(prefect_night.config.reports_directory)
    files = [p for p in reports.rglob("*") if p.is_file()]
    assert files and all(p.stat().st_mode & 0o777 == 0o644 for p in files)
    assert not any(SECRET.encode() in p.read_bytes() for p in files)
