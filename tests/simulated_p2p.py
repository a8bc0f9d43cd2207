"""Event logs straight from the purchase-to-pay simulator, without a database: what a night sees.

The simulator writes ERP tables; the nightly configuration turns each table's rows into one
activity of the purchase requisition's case. Here the same mapping is done in memory, so a test
can play a hundred simulated histories in seconds. Events after ``now`` are not seen yet: the
cases still running at the snapshot are prefixes, exactly as a night reads them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd

from kaizenflow.core.events import EventLog
from kaizenflow.sample_logs.cases import CaseBatch, IdCounters, simulate
from kaizenflow.sample_logs.config import (
    APPROVE_PO,
    CHANGE_PO,
    CREATE_PO,
    CREATE_PR,
    PAY_INVOICE,
    RECEIVE_GOODS,
    RECEIVE_INVOICE,
    DeviationRates,
)
from kaizenflow.sample_logs.master import build_master
from kaizenflow.sample_logs.worktime import ceil_work, unix_seconds

_TABLES = (  # table, activity, time column, the column linking it to its order or invoice
    ("purchase_requisitions", CREATE_PR, "created_at", "pr_id"),
    ("purchase_orders", CREATE_PO, "created_at", "po_id"),
    ("po_changes", CHANGE_PO, "changed_at", "po_id"),
    ("po_approvals", APPROVE_PO, "approved_at", "po_id"),
    ("goods_receipts", RECEIVE_GOODS, "received_at", "po_id"),
    ("invoices", RECEIVE_INVOICE, "received_at", "po_id"),
    ("payments", PAY_INVOICE, "paid_at", "invoice_id"),
)
_RESOURCE = {
    "purchase_requisitions": "created_by", "purchase_orders": "created_by", "po_changes": "changed_by",
    "po_approvals": "approved_by", "goods_receipts": "received_by", "invoices": "entered_by",
    "payments": "paid_by",
}
DEFAULT_RATES = DeviationRates()


@dataclass(frozen=True)
class History:
    """Every event a simulated history will ever have; ``night`` cuts it at a snapshot."""

    events: pd.DataFrame  # case_id, activity, timestamp (UTC)
    case_attributes: pd.DataFrame

    def night(self, now: datetime) -> EventLog:
        """The log a night at ``now`` (naive UTC) reads: only what happened by then."""
        moment = pd.Timestamp(now, tz="UTC")
        seen = self.events.loc[self.events["timestamp"] <= moment].reset_index(drop=True)
        cases = pd.Index(seen["case_id"].unique())
        attributes = self.case_attributes.loc[self.case_attributes.index.isin(cases)]
        return EventLog(events=seen, case_attributes=attributes)


def history(
    seed: int, end: datetime, days: int, cases: int, rates: DeviationRates = DEFAULT_RATES,
    change_at: datetime | None = None, changed_rates: DeviationRates | None = None,
) -> History:
    """``cases`` cases arriving over the ``days`` before ``end``, then as many again per day up to
    ``end + 30 days`` so that later nights see them finish; cases starting at ``change_at`` or
    later follow ``changed_rates`` (an injected change of the process)."""
    master = build_master(seed)
    rng = np.random.default_rng([seed, 1])
    low = int(ceil_work(unix_seconds(end - timedelta(days=days))))
    high = int(ceil_work(unix_seconds(end + timedelta(days=30))))
    per_second = cases / (int(ceil_work(unix_seconds(end))) - low)
    starts = np.sort(rng.integers(low, high, round(per_second * (high - low))))
    split = len(starts)
    if change_at is not None:
        split = int(np.searchsorted(starts, ceil_work(unix_seconds(change_at))))
    ids = IdCounters()
    batches = [simulate(1, starts[:split], master, rates, rng, ids)]
    if split < len(starts):
        batches.append(simulate(1 + split, starts[split:], master, changed_rates or rates, rng, ids))
    frames = [_events(batch) for batch in batches]
    events = pd.concat(frames, ignore_index=True).sort_values(["case_id", "timestamp"], kind="stable")
    for column in ("case_id", "activity", "resource"):
        events[column] = events[column].astype("string")
    attributes = pd.concat([_attributes(batch) for batch in batches])
    return History(events=events.reset_index(drop=True), case_attributes=attributes)


def _events(batch: CaseBatch) -> pd.DataFrame:
    orders = batch.rows["purchase_orders"]
    case_of = dict(zip(orders["po_id"].tolist(), orders["pr_id"].tolist(), strict=True))
    invoices = batch.rows["invoices"]
    case_of.update(zip(invoices["invoice_id"].tolist(),
                       [case_of[po] for po in invoices["po_id"].tolist()], strict=True))
    parts = []
    for table, activity, time_column, link in _TABLES:
        rows = batch.rows[table]
        keys = rows[link]
        case_ids = keys if link == "pr_id" else np.array([case_of[k] for k in keys.tolist()], dtype=object)
        parts.append(pd.DataFrame({
            "case_id": case_ids, "activity": activity,
            "timestamp": pd.to_datetime(rows[time_column], unit="s", utc=True),
            "resource": rows[_RESOURCE[table]],
        }))
    return pd.concat(parts, ignore_index=True)


def _attributes(batch: CaseBatch) -> pd.DataFrame:
    requisitions, orders = batch.rows["purchase_requisitions"], batch.rows["purchase_orders"]
    return pd.DataFrame(
        {"plant": requisitions["plant_id"], "supplier": orders["supplier_id"]},
        index=pd.Index(requisitions["pr_id"], name="case_id"),
    ).astype("string")
