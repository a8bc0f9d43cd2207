"""The simulator's knobs and vocabulary: deviation rates, run configuration, run statistics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt

# Activities of the designed process, exactly as the BPMN model and the miner name them.
CREATE_PR = "Create Purchase Requisition"
CREATE_PO = "Create Purchase Order"
CHANGE_PO = "Change Purchase Order"
APPROVE_PO = "Approve Purchase Order"
RECEIVE_GOODS = "Receive Goods"
RECEIVE_INVOICE = "Receive Invoice"
PAY_INVOICE = "Pay Invoice"
ACTIVITIES = (
    CREATE_PR,
    CREATE_PO,
    CHANGE_PO,
    APPROVE_PO,
    RECEIVE_GOODS,
    RECEIVE_INVOICE,
    PAY_INVOICE,
)

# Deviation kinds: the same words as conformance.types, kept local so the simulator stands alone.
SKIPPED = "skipped"
INSERTED = "inserted"
WRONG_ORDER = "wrong_order"
REPEATED = "repeated"
SLA_BREACH = "sla_breach"
SEGREGATION_OF_DUTIES = "segregation_of_duties"

# Control-flow scenarios (at most one per case), in the order their probabilities are stacked.
SKIPPED_APPROVAL = "skipped_approval"
INVOICE_BEFORE_PO = "invoice_before_po"
PAYMENT_BEFORE_GOODS_RECEIPT = "payment_before_goods_receipt"
DUPLICATE_PAYMENT = "duplicate_payment"
PO_CHANGED_AFTER_APPROVAL = "po_changed_after_approval"
CONTROL_FLOW_SCENARIOS = (
    SKIPPED_APPROVAL,
    INVOICE_BEFORE_PO,
    PAYMENT_BEFORE_GOODS_RECEIPT,
    DUPLICATE_PAYMENT,
    PO_CHANGED_AFTER_APPROVAL,
)
# Rule scenarios, drawn independently of the control-flow ones.
SELF_APPROVAL = "self_approval"
LATE_PAYMENT = "late_payment"
SCENARIOS = CONTROL_FLOW_SCENARIOS + (SELF_APPROVAL, LATE_PAYMENT)


@dataclass(frozen=True)
class Rate:
    """How often one scenario happens: in every case, and (higher) on one hot plant or supplier.

    The hot object is what makes a root cause findable: ``hot_object`` is a plant id
    (``P-..``) or a supplier id (``S-..``); cases of that object get ``hot`` instead of ``base``.
    """

    base: float
    hot_object: str | None = None
    hot: float = 0.0

    def __post_init__(self) -> None:
        for value in (self.base, self.hot):
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"rates are probabilities in [0, 1], got {value}")
        if self.hot_object is not None and self.hot_object[:2] not in ("P-", "S-"):
            raise ValueError(f"hot object must be a plant (P-..) or supplier (S-..): {self.hot_object}")

    def per_case(
        self, plant_ids: npt.NDArray[np.str_], supplier_ids: npt.NDArray[np.str_]
    ) -> npt.NDArray[np.float64]:
        """The probability of this scenario for each case, given its plant and supplier."""
        probability = np.full(len(plant_ids), self.base)
        if self.hot_object is not None:
            owner = plant_ids if self.hot_object.startswith("P-") else supplier_ids
            probability[owner == self.hot_object] = self.hot
        return probability


@dataclass(frozen=True)
class DeviationRates:
    """Base and hot-object rates of every injected scenario; defaults are the documented ones."""

    skipped_approval: Rate = Rate(0.02, "P-03", 0.30)
    invoice_before_po: Rate = Rate(0.02, "S-005", 0.30)
    payment_before_goods_receipt: Rate = Rate(0.02, "S-011", 0.30)
    duplicate_payment: Rate = Rate(0.01, "S-017", 0.25)
    po_changed_after_approval: Rate = Rate(0.03, "P-02", 0.25)
    self_approval: Rate = Rate(0.01, "P-01", 0.20)
    late_payment: Rate = Rate(0.03, "S-008", 0.35)

    @classmethod
    def none(cls) -> DeviationRates:
        """No deviation at all: every case follows the designed process and its rules."""
        return cls().without(*SCENARIOS)

    def without(self, *scenarios: str) -> DeviationRates:
        """These rates with the given scenarios switched off (e.g. to show an improvement)."""
        unknown = set(scenarios) - set(SCENARIOS)
        if unknown:
            raise ValueError(f"unknown scenarios {sorted(unknown)}; known: {list(SCENARIOS)}")
        return replace(self, **{name: Rate(0.0) for name in scenarios})

    def rate(self, scenario: str) -> Rate:
        rate: Rate = getattr(self, scenario)
        return rate

    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {f.name: asdict(getattr(self, f.name)) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, dict[str, Any]]) -> DeviationRates:
        return cls(**{name: Rate(**values) for name, values in data.items()})


@dataclass(frozen=True)
class SimulationConfig:
    """What to generate: how many cases, from which seed, over which days up to which snapshot."""

    cases: int = 2000
    seed: int = 7
    days: int = 180
    end: datetime = datetime(2026, 6, 30, 18, 0)
    rates: DeviationRates = DeviationRates()

    def __post_init__(self) -> None:
        if self.cases < 1:
            raise ValueError(f"cases must be at least 1, got {self.cases}")
        if self.days < 1:
            raise ValueError(f"days must be at least 1, got {self.days}")
        if self.seed < 0:
            raise ValueError(f"seed must be non-negative, got {self.seed}")
        if self.end.tzinfo is not None:
            raise ValueError("end is naive UTC: pass a datetime without tzinfo")


@dataclass(frozen=True)
class SimulationStats:
    """What one generate or append run wrote: the numbers a demo or a test wants to print.

    ``events`` counts rows written per business table (requisitions included, as each is the
    Create Purchase Requisition event). ``ground_truth_rows`` were added, ``ground_truth_removed``
    retracted (a skipped goods receipt that later turned up as a wrong order). ``pending_events``
    are scheduled after ``now`` and wait in the sim_ tables for a later append.
    """

    cases: int
    events: dict[str, int]
    ground_truth_rows: int
    ground_truth_removed: int
    pending_events: int
    now: datetime

    @property
    def total_events(self) -> int:
        return sum(self.events.values())
