"""Vectorised simulation of purchase-to-pay cases: every event's time, resource and injected deviation."""

# All cases of a batch advance together, one process step at a time, on the working-time axis
# of ``worktime``. The result is the full future of each case (rows of every event table plus
# ground-truth rows with the moment each becomes observable); splitting it at the snapshot time
# is the writer's job.

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kaizenflow.sample_logs.config import (
    APPROVE_PO,
    CHANGE_PO,
    CONTROL_FLOW_SCENARIOS,
    DUPLICATE_PAYMENT,
    INSERTED,
    INVOICE_BEFORE_PO,
    LATE_PAYMENT,
    PAY_INVOICE,
    PAYMENT_BEFORE_GOODS_RECEIPT,
    PO_CHANGED_AFTER_APPROVAL,
    RECEIVE_GOODS,
    RECEIVE_INVOICE,
    REPEATED,
    SEGREGATION_OF_DUTIES,
    SELF_APPROVAL,
    SKIPPED,
    SKIPPED_APPROVAL,
    SLA_BREACH,
    WRONG_ORDER,
    DeviationRates,
)
from kaizenflow.sample_logs.master import MasterData, numbered
from kaizenflow.sample_logs.worktime import DAY, HOUR, WORKDAY, ceil_work, floor_work, to_calendar

IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Columns = dict[str, npt.NDArray[Any]]

NOMINAL_CHANGE_RATE = 0.15
NO_TIME = -1  # "never" in visible_until

_SKIP, _IBP, _PBG, _DUP, _PCA = range(len(CONTROL_FLOW_SCENARIOS))
_NONE = len(CONTROL_FLOW_SCENARIOS)
_CHANGE_FIELDS = np.array(["delivery_date", "storage_location"])


@dataclass
class IdCounters:
    """Next free surrogate keys; carried across batches and runs so keys never collide."""

    change: int = 1
    approval: int = 1
    payment: int = 1


@dataclass(frozen=True)
class CaseBatch:
    """Rows per event table (timestamps as calendar Unix seconds) and timed ground truth."""

    rows: dict[str, Columns]
    truth: Columns  # case_id, kind, activity, scenario, visible_from, visible_until


def _wait(
    rng: np.random.Generator, n: int, median_hours: float, low_hours: float, high_hours: float
) -> IntArray:
    """Right-skewed working-time waits in seconds: mostly near the median, sometimes long."""
    hours = rng.lognormal(np.log(median_hours), 0.8, n).clip(low_hours, high_hours)
    return (hours * HOUR).astype(np.int64)


def _workdays(rng: np.random.Generator, n: int, low: float, high: float) -> IntArray:
    return (rng.uniform(low, high, n) * WORKDAY).astype(np.int64)


def _control_flow(rates: DeviationRates, plant: npt.NDArray[np.str_],
                  supplier: npt.NDArray[np.str_], u: npt.NDArray[np.float64]) -> IntArray:
    """At most one control-flow scenario per case, each with exactly its configured probability."""
    probabilities = np.stack(
        [rates.rate(name).per_case(plant, supplier) for name in CONTROL_FLOW_SCENARIOS], axis=1
    )
    total = probabilities.sum(axis=1, keepdims=True)
    probabilities = probabilities / np.maximum(total, 1.0)  # only rescales absurd configurations
    cumulative = probabilities.cumsum(axis=1)
    chosen: IntArray = (u[:, None] >= cumulative).sum(axis=1).astype(np.int64)
    return chosen


def simulate(
    first_case: int,
    starts: IntArray,
    master: MasterData,
    rates: DeviationRates,
    rng: np.random.Generator,
    ids: IdCounters,
) -> CaseBatch:
    """Simulate cases numbered from ``first_case`` that start at the given working times.

    Every random array is drawn full-size and in a fixed order, so a run is reproducible.
    Timing bounds keep the SLA invariant: without late_payment, every payment falls no later
    than first invoice + payment terms - 1 day, and still after the invoice and goods receipt.
    """
    n = len(starts)
    case_no = first_case + np.arange(n, dtype=np.int64)
    plant = rng.choice(len(master.plant_ids), n, p=master.plant_weights)
    supplier = rng.choice(len(master.supplier_ids), n, p=master.supplier_weights)
    material = rng.integers(0, len(master.material_ids), n)
    quantity = np.ceil(rng.lognormal(np.log(25.0), 0.9, n)).astype(np.int64).clip(1, 5000)
    staff = {role: m[plant, rng.integers(0, m.shape[1], n)] for role, m in master.staff.items()}
    plant_id, supplier_id = master.plant_ids[plant], master.supplier_ids[supplier]

    cf = _control_flow(rates, plant_id, supplier_id, rng.random(n))
    skip, ibp, pbg, dup, pca = (cf == s for s in (_SKIP, _IBP, _PBG, _DUP, _PCA))
    self_approved = (rng.random(n) < rates.self_approval.per_case(plant_id, supplier_id)) & ~skip
    late = (rng.random(n) < rates.late_payment.per_case(plant_id, supplier_id)) & ~dup
    has_change = rng.random(n) < NOMINAL_CHANGE_RATE

    # Requisition -> order; an early invoice needs room between requisition and order.
    w_pr = np.asarray(starts, dtype=np.int64)
    w_po = w_pr + _wait(rng, n, 5, 0.25, 27)
    gap = _workdays(rng, n, 1, 3)
    w_po = np.where(ibp, np.maximum(w_po, w_pr + gap + _wait(rng, n, 2, 1, 4)), w_po)
    # Optional change, approval, and the re-change plus re-approval after approval.
    w_change = w_po + _wait(rng, n, 3, 0.2, 9)
    w_approve = np.where(has_change, w_change, w_po) + _wait(rng, n, 4, 0.2, 18)
    w_change2 = w_approve + _wait(rng, n, 9, 1, 27)
    w_approve2 = w_change2 + _wait(rng, n, 4, 0.2, 18)
    released = np.where(pca, w_approve2, w_approve)
    # Goods and invoice in parallel; delivery speed is a supplier trait.
    lead = master.supplier_delivery_days[supplier] * rng.gamma(4.0, 0.25, n)
    w_gr = released + (lead.clip(0.3, 10.0) * WORKDAY).astype(np.int64)
    offset = (rng.normal(0.5, 1.5, n).clip(-4.0, 4.0) * WORKDAY).astype(np.int64)
    w_inv = np.where(ibp, w_po - gap, np.maximum(w_gr + offset, released + 600))
    # Payment: clamped to the terms (14 days earlier for a duplicate, so its repeat fits too).
    terms = master.supplier_terms[supplier]
    inv_cal = to_calendar(w_inv)
    limit = floor_work(inv_cal + (terms - np.where(dup, 14, 1)) * DAY)
    ready = np.where(pbg, w_inv, np.maximum(w_gr, w_inv))
    w_pay = np.minimum(ready + _wait(rng, n, 18, 1, 135), limit)
    late_by = (rng.uniform(2.0, 18.0, n) * DAY).astype(np.int64)
    w_pay = np.where(late, ceil_work(inv_cal + terms * DAY + late_by), w_pay)
    w_gr = np.where(pbg, w_pay + _workdays(rng, n, 1, 5), w_gr)
    w_pay2 = w_pay + _workdays(rng, n, 1, 6)
    if np.any(w_pay <= ready):
        raise RuntimeError("internal: a payment would not follow its invoice and goods receipt")

    cal = {name: to_calendar(w) for name, w in (
        ("pr", w_pr), ("po", w_po), ("change", w_change), ("approve", w_approve),
        ("change2", w_change2), ("approve2", w_approve2), ("gr", w_gr), ("inv", w_inv),
        ("pay", w_pay), ("pay2", w_pay2),
    )}
    pr_id, po_id = numbered("PR-", case_no, 7), numbered("PO-", case_no, 7)
    invoice_id = numbered("INV-", case_no, 7)
    amount = np.round(quantity * master.material_prices[material], 2)
    approver = np.where(self_approved, staff["requester"], staff["approver"])

    rows: dict[str, Columns] = {
        "purchase_requisitions": {
            "pr_id": pr_id, "plant_id": plant_id, "material_id": master.material_ids[material],
            "quantity": quantity, "created_at": cal["pr"], "created_by": staff["requester"],
        },
        "purchase_orders": {
            "po_id": po_id, "pr_id": pr_id, "supplier_id": supplier_id, "amount": amount,
            "created_at": cal["po"], "created_by": staff["buyer"],
        },
        "po_changes": _changes(rng, ids, has_change, pca, po_id, staff["buyer"], cal),
        "po_approvals": _approvals(ids, ~skip, pca, po_id, approver, cal),
        "goods_receipts": {
            "gr_id": numbered("GR-", case_no, 7), "po_id": po_id, "received_at": cal["gr"],
            "received_by": staff["warehouse"], "quantity": quantity,
        },
        "invoices": {
            "invoice_id": invoice_id, "po_id": po_id, "supplier_id": supplier_id,
            "received_at": cal["inv"], "entered_by": staff["accounts_payable"], "amount": amount,
        },
        "payments": _payments(ids, dup, invoice_id, staff["accounts_payable"], amount, cal),
    }
    # A missing approval shows once something the design puts after approval happens; a
    # change before it is nominal and proves nothing.
    first_after_approval = np.minimum(cal["gr"], cal["inv"])
    truth = _truth(pr_id, [
        (skip, SKIPPED, APPROVE_PO, SKIPPED_APPROVAL, first_after_approval, None),
        (ibp, WRONG_ORDER, RECEIVE_INVOICE, INVOICE_BEFORE_PO, cal["po"], None),
        (pbg, SKIPPED, RECEIVE_GOODS, PAYMENT_BEFORE_GOODS_RECEIPT, cal["pay"], cal["gr"]),
        (pbg, WRONG_ORDER, PAY_INVOICE, PAYMENT_BEFORE_GOODS_RECEIPT, cal["gr"], None),
        (dup, REPEATED, PAY_INVOICE, DUPLICATE_PAYMENT, cal["pay2"], None),
        # Until the re-approval arrives, the late change is an unplanned step of its own.
        (pca, INSERTED, CHANGE_PO, PO_CHANGED_AFTER_APPROVAL, cal["change2"], cal["approve2"]),
        (pca, REPEATED, APPROVE_PO, PO_CHANGED_AFTER_APPROVAL, cal["approve2"], None),
        (self_approved, SEGREGATION_OF_DUTIES, APPROVE_PO, SELF_APPROVAL, cal["approve"], None),
        (late, SLA_BREACH, PAY_INVOICE, LATE_PAYMENT, cal["pay"], None),
    ])
    return CaseBatch(rows=rows, truth=truth)


def _two_per_case(first: BoolArray, second: BoolArray) -> tuple[IntArray, BoolArray]:
    """Row layout for up to two rows a case: each row's case index, and whether it is the 2nd."""
    count = first.astype(np.int64) + second
    case = np.repeat(np.arange(len(first)), count)
    start = np.cumsum(count) - count
    is_second = (np.arange(len(case)) - start[case] == 1) | ~first[case]
    return case, is_second


def _changes(
    rng: np.random.Generator, ids: IdCounters, nominal: BoolArray, after_approval: BoolArray,
    po_id: npt.NDArray[np.str_], buyer: npt.NDArray[np.str_], cal: dict[str, IntArray],
) -> Columns:
    case, second = _two_per_case(nominal, after_approval)
    n = len(case)
    at = np.where(second, cal["change2"][case], cal["change"][case])
    field = _CHANGE_FIELDS[rng.integers(0, len(_CHANGE_FIELDS), n)]
    due = (cal["po"][case] // DAY + 21).astype("datetime64[D]")
    moved = due + rng.integers(3, 15, n).astype("timedelta64[D]")
    locations = rng.integers(1, 9, (2, n))
    locations[1] = np.where(locations[1] == locations[0], locations[1] % 8 + 1, locations[1])
    is_date = field == "delivery_date"
    old = np.where(is_date, np.datetime_as_string(due), numbered("SL-", locations[0], 2))
    new = np.where(is_date, np.datetime_as_string(moved), numbered("SL-", locations[1], 2))
    change_id = ids.change + np.arange(n, dtype=np.int64)
    ids.change += n
    return {
        "change_id": change_id, "po_id": po_id[case], "changed_at": at,
        "changed_by": buyer[case], "field": field, "old_value": old, "new_value": new,
    }


def _approvals(
    ids: IdCounters, approved: BoolArray, again: BoolArray, po_id: npt.NDArray[np.str_],
    approver: npt.NDArray[np.str_], cal: dict[str, IntArray],
) -> Columns:
    case, second = _two_per_case(approved, again)
    approval_id = ids.approval + np.arange(len(case), dtype=np.int64)
    ids.approval += len(case)
    at = np.where(second, cal["approve2"][case], cal["approve"][case])
    return {
        "approval_id": approval_id, "po_id": po_id[case], "approved_at": at,
        "approved_by": approver[case],
    }


def _payments(
    ids: IdCounters, duplicate: BoolArray, invoice_id: npt.NDArray[np.str_],
    payer: npt.NDArray[np.str_], amount: npt.NDArray[np.float64], cal: dict[str, IntArray],
) -> Columns:
    case, second = _two_per_case(np.ones(len(duplicate), dtype=bool), duplicate)
    numbers = ids.payment + np.arange(len(case), dtype=np.int64)
    ids.payment += len(case)
    return {
        "payment_id": numbered("PAY-", numbers, 8), "invoice_id": invoice_id[case],
        "paid_at": np.where(second, cal["pay2"][case], cal["pay"][case]),
        "paid_by": payer[case], "amount": amount[case],
    }


def _truth(
    case_id: npt.NDArray[np.str_],
    specs: list[tuple[BoolArray, str, str, str, IntArray, IntArray | None]],
) -> Columns:
    """Ground-truth rows, each with the moment it becomes (and maybe stops being) observable."""
    parts: list[Columns] = []
    for mask, kind, activity, scenario, since, until in specs:
        count = int(mask.sum())
        parts.append({
            "case_id": case_id[mask],
            "kind": np.full(count, kind),
            "activity": np.full(count, activity),
            "scenario": np.full(count, scenario),
            "visible_from": since[mask],
            "visible_until": until[mask] if until is not None else np.full(count, NO_TIME),
        })
    return {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
