"""Single operations behind figures that code comments give: `python -m benchmarks.micro`.

Each is timed in this process (best of three), except imports, which are timed in fresh processes
against a baseline that imports NumPy only. Prints one line per measurement.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from tempfile import TemporaryDirectory

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq


def best_of(work: Callable[[], object], times: int = 3) -> float:
    seconds = []
    for _ in range(times):
        started = time.perf_counter()
        work()
        seconds.append(time.perf_counter() - started)
    return min(seconds)


def import_seconds(module: str, baseline: str = "numpy") -> float:
    """A fresh interpreter importing ``module``, less one importing ``baseline`` only."""
    def run(code: str) -> float:
        return best_of(lambda: subprocess.run([sys.executable, "-c", code], check=True))
    return run(f"import {baseline}, {module}") - run(f"import {baseline}")


def membership(cases: int = 166_985) -> tuple[float, float]:
    """Which of a night's cases are among half of them: pandas' ``Index.isin``, then ``member_of``."""
    from kaizenflow.core.events import member_of

    ids = pd.Index([f"PR-{i:07d}" for i in range(cases)], dtype="string[pyarrow]")
    wanted = set(ids[::2].tolist())
    return best_of(lambda: ids.isin(list(wanted)), 1), best_of(lambda: member_of(ids, wanted))


def deviation_rows(rows: int = 50_000) -> tuple[float, float]:
    """A run's deviations into a SQLite state database: SQLAlchemy's executemany, then the driver's."""
    import sqlalchemy as sa

    from kaizenflow.conformance.types import Deviation
    from kaizenflow.storage.schema import deviations, metadata
    from kaizenflow.storage.state import _insert_deviations

    found = [Deviation(f"PR-{i:07d}", "skipped", "Approve Purchase Order") for i in range(rows)]
    with TemporaryDirectory() as scratch:
        engine = sa.create_engine(f"sqlite:///{Path(scratch) / 'state.db'}")
        metadata.create_all(engine)

        def through_sqlalchemy() -> None:
            with engine.begin() as connection:
                connection.execute(deviations.insert(), [
                    {"run_id": "r", "process": "p", "case_id": d.case_id, "kind": d.kind,
                     "activity": d.activity, "detail": d.detail} for d in found])

        def through_driver() -> None:
            with engine.begin() as connection:
                _insert_deviations(connection, "r", "p", found)

        figures = best_of(through_sqlalchemy), best_of(through_driver)
        engine.dispose()
    return figures


def event_keys(events: int = 1_000_000) -> tuple[float, float, float, float]:
    """Per-event work of mapping: the ids one key at a time (hashlib, from a plain list, as before)
    and a column at a time (``sources.mapping.hashed_ids``); the times of the keys as text."""
    from kaizenflow.sources.mapping import _key_times, hashed_ids

    cases = pd.Series([f"PR-{i:07d}" for i in range(events)], dtype="string")
    times = pd.Series(pd.date_range("2024-01-01", periods=events, freq="37s", tz="UTC")).astype(
        "datetime64[us, UTC]")
    plain = ("p\x1fsource\x1f" + cases).astype(object).tolist()
    return (best_of(lambda: [hashlib.sha256(k.encode("utf-8")).hexdigest()[:32] for k in plain]),
            best_of(lambda: hashed_ids("p", "source", [cases])),
            best_of(lambda: times.dt.strftime("%Y-%m-%dT%H:%M:%S.%f")), best_of(lambda: _key_times(times)))


def staged_events(events: int = 1_000_000) -> tuple[float, float, int, int]:
    """Writing and reading back one staged file of mapped events: pyarrow's default Parquet
    settings, then ``sources.staging``'s; also the two files' sizes."""
    from kaizenflow.sources.mapping import EventMapping, map_rows
    from kaizenflow.storage.staging import _write

    rows = pd.DataFrame({
        "case": [f"PR-{i // 6:07d}" for i in range(events)],
        "at": pd.date_range("2024-01-01", periods=events, freq="37s"),
        "who": [f"user-{i % 50}" for i in range(events)],
        "plant": [f"P-0{i % 5}" for i in range(events)],
    })
    mapping = EventMapping(source="erp", case_id="case", timestamp="at", activity="Approve",
                           resource="who", attributes=("plant",))
    staged = map_rows(rows, mapping, "p2p")
    with TemporaryDirectory() as scratch:
        default, ours = Path(scratch) / "default.parquet", Path(scratch) / "ours.parquet"

        def with_defaults() -> None:
            pq.write_table(pa.Table.from_pandas(staged, preserve_index=False), default)
            pq.read_table(default)

        def as_staged() -> None:
            _write(staged, ours)
            pq.read_table(ours)

        return (best_of(with_defaults), best_of(as_staged), default.stat().st_size, ours.stat().st_size)


def main() -> None:
    print(f"import scipy.stats (beyond numpy): {import_seconds('scipy.stats'):.2f} s")
    print(f"import prefect (beyond numpy): {import_seconds('prefect'):.2f} s")
    print(f"import pm4py (beyond numpy): {import_seconds('pm4py'):.2f} s")
    # what a warm conformance check in benchmarks/conformance.py imports before reading its file
    print(f"import pyarrow.parquet (beyond pandas, pyarrow): "
          f"{import_seconds('pyarrow.parquet', 'pandas, pyarrow'):.3f} s")
    isin, arrow = membership()
    print(f"membership of 166,985 case ids in half of them: Index.isin {isin:.2f} s, member_of {arrow:.3f} s")
    orm, driver = deviation_rows()
    print(f"50,000 deviation rows into SQLite: SQLAlchemy executemany {orm:.2f} s, "
          f"driver executemany {driver:.2f} s")
    one_by_one, by_column, strftime, arrow_text = event_keys()
    print(f"1,000,000 event ids: hashlib one key at a time {one_by_one:.2f} s, hashed_ids {by_column:.2f} s; "
          f"their times as text: pandas strftime {strftime:.2f} s, Arrow {arrow_text:.2f} s")
    default, staged, default_bytes, staged_bytes = staged_events()
    print(f"1,000,000 staged events written and read back: pyarrow's default Parquet {default:.2f} s "
          f"({default_bytes / 2**20:.0f} MiB), as sources.staging writes them {staged:.2f} s "
          f"({staged_bytes / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
