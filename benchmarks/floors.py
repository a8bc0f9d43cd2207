"""Floors: the least work a speed target leaves, measured as the contenders are (fresh processes).

Three targets of the issues divide a figure of this run by 10, 50 or 100. Each gives a budget in
seconds, and part of the work inside it is no choice of ours: the input must be read, and the
database asked. Each floor here does only that part, with nothing of kaizenflow's in it, so it
shows whether a target can be reached on this machine at all:

- a warm check (100x pm4py's alignments): read the events Parquet and group the cases into
  variants, before any case is checked;
- an incremental night (50x a full recomputation): import SQLAlchemy and ask the ERP one
  question, before any new row is read;
- a first night (10x the plain pm4py night): fetch the ERP's 1,000,000 events with the standard
  library's sqlite3 (no SQLAlchemy), before any of them is mapped or stored.

The module imports pandas and pyarrow first, as the contender modules do, so that their import
is outside the measured time here as it is there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd  # noqa: F401 - imported before timing, as in the contender modules
import pyarrow as pa  # noqa: F401

from benchmarks.measure import Measurement, median_run, run_contender

MODULE = "benchmarks.floors"


def read_variants(parquet: str) -> dict[str, object]:
    """The events of a check, read and grouped into variants with Arrow and NumPy only."""
    import numpy as np
    import pyarrow.compute as pc
    import pyarrow.parquet

    from benchmarks.conformance import _in_store_order

    table = _in_store_order(pyarrow.parquet.read_table(parquet, columns=["case_id", "activity", "timestamp"]))
    cases = table["case_id"].combine_chunks()
    activities = pc.dictionary_encode(table["activity"].combine_chunks()).indices.to_numpy()
    starts = np.flatnonzero(pc.not_equal(cases[1:], cases[:-1]).to_numpy(zero_copy_only=False)) + 1
    bounds = np.concatenate([[0], starts, [len(cases)]]).tolist()
    codes = activities.astype(np.int32).tobytes()
    variants: dict[bytes, int] = {}
    for start, end in zip(bounds[:-1], bounds[1:], strict=True):
        key = codes[4 * start:4 * end]
        variants[key] = variants.get(key, 0) + 1
    return {"cases": len(bounds) - 1, "variants": len(variants)}


def ask_erp(database: str) -> dict[str, object]:
    """SQLAlchemy imported, the ERP connected and asked one question (``SELECT 1``)."""
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{database}")
    with engine.connect() as connection:
        answer = connection.execute(sa.text("SELECT 1")).scalar_one()
    engine.dispose()
    return {"answer": answer}


def fetch_erp(database: str) -> dict[str, object]:
    """Every event of the ERP fetched as Python rows by the standard library's sqlite3."""
    import sqlite3

    from benchmarks.ingestion import UNION

    connection = sqlite3.connect(database)
    try:
        rows = connection.execute(UNION).fetchall()
    finally:
        connection.close()
    return {"events": len(rows)}


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {
    "read-variants": read_variants, "ask-erp": ask_erp, "fetch-erp": fetch_erp,
}


def floor(name: str, *arguments: str, repeats: int = 3) -> Measurement:
    """The median of ``repeats`` fresh runs."""
    return median_run([run_contender(MODULE, name, *arguments) for _ in range(repeats)])


@dataclass(frozen=True)
class Floor:
    target: str
    budget_seconds: float
    work: str
    floor: Measurement

    @property
    def reachable(self) -> bool:
        return self.floor.seconds < self.budget_seconds


def table(floors: list[Floor]) -> list[str]:
    rows = ["| target | budget in this run | the least work inside it | that work alone | within budget |",
            "|---|---:|---|---:|---|"]
    for f in floors:
        rows.append(f"| {f.target} | {f.budget_seconds * 1000:,.0f} ms | {f.work} "
                    f"| {f.floor.seconds * 1000:,.0f} ms | {'yes' if f.reachable else 'no'} |")
    return rows


def parquet_floor(dataset: str, parquet: Path, pm4py_seconds: float, variants: int) -> Floor:
    measured = floor("read-variants", str(parquet))
    if measured.result["variants"] != variants:
        raise RuntimeError(f"{parquet}: {measured.result['variants']} variants, the check found {variants}")
    return Floor(f"warm check 100x pm4py: {dataset}", pm4py_seconds / 100,
                 "read the events Parquet, group cases into variants", measured)
