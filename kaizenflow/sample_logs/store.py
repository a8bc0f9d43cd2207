"""Writing the simulation to any SQLAlchemy database: bulk inserts, the snapshot split, run state."""

# Rows at or before the snapshot time go to the business tables, later ones to their sim_pending_
# shadow, from which ``move_pending`` releases them when time advances. Ground truth follows the
# same rule through sim_pending_truth.

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa

from kaizenflow.sample_logs.cases import NO_TIME, CaseBatch, Columns, IdCounters
from kaizenflow.sample_logs.config import DeviationRates
from kaizenflow.sample_logs.master import MasterData
from kaizenflow.sample_logs.schema import (
    EVENT_TABLES,
    MASTER_TABLES,
    METADATA,
    PENDING,
    TIME_COLUMN,
    ground_truth,
    sim_pending_truth,
    sim_state,
)

BATCH_ROWS = 50_000  # rows per INSERT batch, each batch its own transaction
_TRUTH_COLUMNS = ("case_id", "kind", "activity", "scenario")


@dataclass
class SimState:
    """What ``append_days`` needs to continue a run exactly where the previous one stopped."""

    seed: int
    now: datetime
    next_case: int
    ids: IdCounters
    arrivals_per_work_second: float
    rates: DeviationRates
    runs: int

    def to_json(self) -> str:
        data = asdict(self)
        data["now"] = self.now.isoformat()
        data["rates"] = self.rates.to_dict()
        return json.dumps(data, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> SimState:
        data: dict[str, Any] = json.loads(text)
        data["now"] = datetime.fromisoformat(data["now"])
        data["ids"] = IdCounters(**data["ids"])
        data["rates"] = DeviationRates.from_dict(data["rates"])
        return cls(**data)


def refuse_filled(engine: sa.Engine) -> None:
    """Raise ValueError if any simulator table already holds a row: generate never merges."""
    inspector = sa.inspect(engine)
    with engine.connect() as conn:
        for table in METADATA.sorted_tables:
            if not inspector.has_table(table.name):
                continue
            if conn.execute(sa.select(sa.literal(1)).select_from(table).limit(1)).first():
                raise ValueError(
                    f"table {table.name!r} already holds data: generate needs an empty database"
                    " (use append_days to extend an existing simulation)"
                )


def save_state(engine: sa.Engine, state: SimState) -> None:
    with engine.begin() as conn:
        conn.execute(sim_state.delete().where(sim_state.c.name == "state"))
        conn.execute(sim_state.insert().values(name="state", value=state.to_json()))


def load_state(engine: sa.Engine) -> SimState:
    if not sa.inspect(engine).has_table(sim_state.name):
        raise ValueError("no simulation in this database: run generate first")
    with engine.connect() as conn:
        text = conn.execute(
            sa.select(sim_state.c.value).where(sim_state.c.name == "state")
        ).scalar_one_or_none()
    if text is None:
        raise ValueError("no simulation state in this database: run generate first")
    return SimState.from_json(text)


def write_master(engine: sa.Engine, master: MasterData) -> None:
    for table in MASTER_TABLES:
        insert_rows(engine, table, getattr(master, table.name))


def write_batch(engine: sa.Engine, batch: CaseBatch, now: int) -> tuple[dict[str, int], int]:
    """Split one batch at the snapshot ``now`` (Unix seconds); return rows written visibly."""
    written: dict[str, int] = {}
    for table in EVENT_TABLES:
        columns = batch.rows[table.name]
        visible = columns[TIME_COLUMN[table.name]] <= now
        written[table.name] = insert_rows(engine, table, _select(columns, visible))
        insert_rows(engine, PENDING[table.name], _select(columns, ~visible))
    since, until = batch.truth["visible_from"], batch.truth["visible_until"]
    shown = (since <= now) & ((until == NO_TIME) | (until > now))
    later = (since > now) | (until > now)
    truth = {name: batch.truth[name] for name in _TRUTH_COLUMNS}
    shown_rows = insert_rows(engine, ground_truth, _select(truth, shown))
    insert_rows(engine, sim_pending_truth, _select(batch.truth, later))
    return written, shown_rows


def move_pending(engine: sa.Engine, now: datetime) -> dict[str, int]:
    """Release every pending event row at or before ``now`` into its business table."""
    moved: dict[str, int] = {}
    for table in EVENT_TABLES:
        pending = PENDING[table.name]
        due = pending.c[TIME_COLUMN[table.name]] <= now
        with engine.begin() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(pending).where(due))
            moved[table.name] = int(count.scalar_one())
            if moved[table.name]:
                names = [column.name for column in pending.columns]
                rows = sa.select(*pending.columns).where(due).order_by(*pending.primary_key)
                conn.execute(table.insert().from_select(names, rows))
                conn.execute(pending.delete().where(due))
    return moved


def settle_truth(engine: sa.Engine, before: datetime, now: datetime) -> tuple[int, int]:
    """Move ground truth from snapshot ``before`` to ``now``; return (rows added, rows retracted)."""
    t = sim_pending_truth
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(t).order_by(t.c.case_id, t.c.visible_from, t.c.kind, t.c.activity)
        ).all()
        retract = [
            r for r in rows
            if r.visible_from <= before and r.visible_until is not None and r.visible_until <= now
        ]
        appear = [
            r for r in rows
            if before < r.visible_from <= now and (r.visible_until is None or r.visible_until > now)
        ]
        if retract:
            match = sa.and_(*(ground_truth.c[c] == sa.bindparam(f"b_{c}") for c in _TRUTH_COLUMNS))
            conn.execute(
                ground_truth.delete().where(match),
                [{f"b_{c}": getattr(r, c) for c in _TRUTH_COLUMNS} for r in retract],
            )
        if appear:
            conn.execute(
                ground_truth.insert(), [{c: getattr(r, c) for c in _TRUTH_COLUMNS} for r in appear]
            )
        settled = (t.c.visible_from <= now) & (
            t.c.visible_until.is_(None) | (t.c.visible_until <= now)
        )
        conn.execute(t.delete().where(settled))
    return len(appear), len(retract)


def count_pending(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return sum(
            int(conn.execute(sa.select(sa.func.count()).select_from(p)).scalar_one())
            for p in PENDING.values()
        )


def insert_rows(engine: sa.Engine, table: sa.Table, columns: Columns) -> int:
    """Bulk insert column arrays in batches; SQLite bypasses per-value type processing."""
    total = len(next(iter(columns.values())))
    sqlite = engine.dialect.name == "sqlite"
    statement = table.insert()
    sql = str(statement.compile(dialect=engine.dialect)) if sqlite else ""
    names = [column.name for column in table.columns]
    for low in range(0, total, BATCH_ROWS):
        part = {name: columns[name][low : low + BATCH_ROWS] for name in names}
        values = [_db_values(part[c.name], c, sqlite) for c in table.columns]
        rows = list(zip(*values, strict=True))
        with engine.begin() as conn:
            if sqlite:
                conn.exec_driver_sql(sql, rows)
            else:
                conn.execute(statement, [dict(zip(names, row, strict=True)) for row in rows])
    return total


def _db_values(values: npt.NDArray[Any], column: sa.Column[Any], sqlite: bool) -> list[Any]:
    """Plain Python values; timestamps (Unix seconds, NO_TIME for NULL) as the dialect wants them."""
    if not isinstance(column.type, sa.DateTime):
        result: list[Any] = values.tolist()
        return result
    missing = values == NO_TIME
    moments = values.astype("datetime64[s]")
    if sqlite:  # the exact text SQLAlchemy's SQLite DateTime writes, so comparisons stay textual
        text = np.strings.replace(np.datetime_as_string(moments, unit="s"), "T", " ")
        converted: list[Any] = np.strings.add(text, ".000000").tolist()
    else:
        converted = moments.astype(object).tolist()
    if missing.any():
        for index in np.flatnonzero(missing).tolist():
            converted[index] = None
    return converted


def _select(columns: Columns, mask: npt.NDArray[np.bool_]) -> Columns:
    return {name: values[mask] for name, values in columns.items()}
