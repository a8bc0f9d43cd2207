"""Shared fixtures: the reference data folder, a small designed model, one Prefect harness."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "false")

REPOSITORY = Path(__file__).resolve().parent.parent
SHARED_DATA = REPOSITORY.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the repository; tests that need it skip on a user's fresh clone."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"reference data folder {SHARED_DATA} is absent (it sits beside the repo in CI)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def prefect_harness(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """One temporary Prefect API for the whole session: it takes ~20 s to start."""
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=120):
        yield


# --- database servers on this machine: a private schema or database per test ---------------


def server_database(base: str, create: str, drop: str, url: str) -> Iterator[str]:
    """Create a private schema on a server (skipping if unreachable), yield its URL, drop it."""
    engine = sa.create_engine(base, connect_args={"connect_timeout": 3})
    try:
        with engine.begin() as conn:
            conn.execute(sa.text(create))
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        engine.dispose()
        pytest.skip(f"database server not reachable at {base}: {error.orig}")
    try:
        yield url
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text(drop))
        engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    pytest.importorskip("psycopg", reason="PostgreSQL driver psycopg is not installed")
    base = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
    schema = f"sim_{uuid.uuid4().hex[:12]}"
    yield from server_database(
        base, f"CREATE SCHEMA {schema}", f"DROP SCHEMA {schema} CASCADE",
        f"{base}?options=-csearch_path%3D{schema}",
    )


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    pytest.importorskip("pymysql", reason="MariaDB driver pymysql is not installed")
    base = "mysql+pymysql://root@127.0.0.1:3306/test"
    database = f"sim_{uuid.uuid4().hex[:12]}"
    url = sa.make_url(base).set(database=database).render_as_string(hide_password=False)
    yield from server_database(
        base, f"CREATE DATABASE {database}", f"DROP DATABASE {database}", url
    )


# --- the web app: one real demo night and one served app for tests/test_web*.py -----------------


@pytest.fixture(scope="session")
def web_night(prefect_harness: None, tmp_path_factory: pytest.TempPathFactory) -> object:
    """A demo night with accounts for each role (tests/web_support.py)."""
    from web_support import prepare_web_night

    return prepare_web_night(tmp_path_factory.mktemp("web-night"))


@pytest.fixture(scope="session")
def web_url(web_night: object) -> Iterator[str]:
    """The web app of ``web_night`` served by uvicorn on 127.0.0.1."""
    from web_support import served

    with served(web_night.config_path) as url:  # type: ignore[attr-defined]
        yield url
