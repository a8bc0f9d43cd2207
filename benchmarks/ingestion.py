"""Ingestion benchmark: a 1,000,000-event source read by kaizenflow and by the plain pm4py way.

kaizenflow extracts, maps and stores the events (deduplicated, in the DuckDB event store);
the plain way reads the same rows with pandas and hands them to ``pm4py.format_dataframe``.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from benchmarks.measure import Measurement, run_contender

UNION = """
SELECT pr_id AS case_id, 'Create Purchase Requisition' AS activity, created_at AS ts, created_by AS resource
  FROM purchase_requisitions
UNION ALL SELECT po.pr_id, 'Create Purchase Order', po.created_at, po.created_by FROM purchase_orders po
UNION ALL SELECT po.pr_id, 'Change Purchase Order', c.changed_at, c.changed_by
  FROM po_changes c JOIN purchase_orders po ON po.po_id = c.po_id
UNION ALL SELECT po.pr_id, 'Approve Purchase Order', a.approved_at, a.approved_by
  FROM po_approvals a JOIN purchase_orders po ON po.po_id = a.po_id
UNION ALL SELECT po.pr_id, 'Receive Goods', g.received_at, g.received_by
  FROM goods_receipts g JOIN purchase_orders po ON po.po_id = g.po_id
UNION ALL SELECT po.pr_id, 'Receive Invoice', i.received_at, i.entered_by
  FROM invoices i JOIN purchase_orders po ON po.po_id = i.po_id
UNION ALL SELECT po.pr_id, 'Pay Invoice', p.paid_at, p.paid_by FROM payments p
  JOIN invoices i ON i.invoice_id = p.invoice_id JOIN purchase_orders po ON po.po_id = i.po_id
"""


def kaizen_sqlite(work: str) -> dict[str, object]:
    from kaizenflow.pipeline import stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    config = load_config(Path(work) / "kaizen.yaml")
    shutil.rmtree(config.state_directory, ignore_errors=True)
    process = config.processes[0]
    return {"events": stages.ingest(Resources(config), process, "bench").added}


def pm4py_sqlite(work: str) -> dict[str, object]:
    import pm4py
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{Path(work) / 'p2p.db'}")
    with engine.connect() as connection:
        frame = pd.read_sql_query(sa.text(UNION), connection)
    frame["ts"] = pd.to_datetime(frame["ts"])
    formatted = pm4py.format_dataframe(frame.copy(), case_id="case_id", activity_key="activity",
                                       timestamp_key="ts")
    return {"events": len(formatted)}


def kaizen_csv(work: str) -> dict[str, object]:
    from kaizenflow.sources.files import read_csv_events
    from kaizenflow.storage import EventStore

    store_path = Path(work) / "csv-state" / "events.duckdb"
    shutil.rmtree(store_path.parent, ignore_errors=True)
    events = read_csv_events(Path(work) / "events.csv", process="bench", source="csv")
    added = EventStore(store_path).append("bench", "csv", events, {"csv": 0})
    return {"events": added.added}


def pm4py_csv(work: str) -> dict[str, object]:
    import pm4py

    frame = pd.read_csv(Path(work) / "events.csv")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"])
    formatted = pm4py.format_dataframe(frame.copy(), case_id="case_id", activity_key="activity",
                                       timestamp_key="timestamp")
    return {"events": len(formatted)}


CONTENDERS: dict[str, Callable[..., dict[str, object]]] = {
    "kaizenflow-sqlite": kaizen_sqlite,
    "pm4py-sqlite": pm4py_sqlite,
    "kaizenflow-csv": kaizen_csv,
    "pm4py-csv": pm4py_csv,
}


def prepare(work: Path, events: int = 1_000_000) -> int:
    """A simulated purchase-to-pay system with about ``events`` events, and the same as CSV."""
    from kaizenflow.cli.demo import prepare_demo
    from kaizenflow.pipeline import stages
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.pipeline.resources import Resources

    shutil.rmtree(work, ignore_errors=True)
    config = load_config(prepare_demo(work, cases=events // 6, days=730)[0])  # about six events a case
    process = config.processes[0]
    resources = Resources(config)
    stages.ingest(resources, process, "prepare")
    log = stages.read_log(resources, process)
    log.events[["case_id", "activity", "timestamp", "resource"]].to_csv(work / "events.csv", index=False)
    shutil.rmtree(config.state_directory)
    return log.event_count


def run(work: Path) -> tuple[int, list[Measurement]]:
    events = prepare(work)
    module = "benchmarks.ingestion"
    return events, [run_contender(module, name, str(work)) for name in CONTENDERS]
