"""Plain result types of conformance checking, shared by checking, patterns, tasks and reports."""

from __future__ import annotations

from dataclasses import dataclass, field

#: The vocabulary of deviation kinds; the simulator's ground truth uses the same words.
SKIPPED = "skipped"
INSERTED = "inserted"
WRONG_ORDER = "wrong_order"
REPEATED = "repeated"
SLA_BREACH = "sla_breach"
SEGREGATION_OF_DUTIES = "segregation_of_duties"
MISSING_ACTIVITY = "missing_activity"
FORBIDDEN_ACTIVITY = "forbidden_activity"
RULE_BREACH = "rule_breach"

CONTROL_FLOW_KINDS = (SKIPPED, INSERTED, WRONG_ORDER, REPEATED)
RULE_KINDS = (SLA_BREACH, SEGREGATION_OF_DUTIES, MISSING_ACTIVITY, FORBIDDEN_ACTIVITY, RULE_BREACH)
DEVIATION_KINDS = CONTROL_FLOW_KINDS + RULE_KINDS


@dataclass(frozen=True)
class Move:
    """One step of an alignment: ``log`` and ``model`` are activity labels or None (no move)."""

    log: str | None
    model: str | None

    @property
    def kind(self) -> str:
        if self.log is not None and self.model is not None:
            return "sync"
        return "log" if self.log is not None else "model"


@dataclass(frozen=True)
class Deviation:
    """One deviation of one case. ``activity`` is the activity, or the rule's name for breaches."""

    case_id: str
    kind: str
    activity: str
    detail: str = ""


@dataclass(frozen=True)
class RootCause:
    """A business attribute value over-represented among the cases of a pattern.

    ``support`` is the share of the pattern's cases that have the value; ``lift`` is that
    share divided by the value's share among all cases.
    """

    attribute: str
    value: str
    cases: int
    support: float
    lift: float


@dataclass(frozen=True)
class DeviationPattern:
    """All deviations of one kind on one activity or rule, with their size, cost and causes."""

    kind: str
    activity: str
    cases: int
    share: float
    extra_throughput_median_hours: float | None
    extra_throughput_p90_hours: float | None
    root_causes: tuple[RootCause, ...] = ()
    example_case_ids: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.activity}"


@dataclass(frozen=True)
class VariantAlignment:
    """The optimal alignment of one variant; ``checked`` is False when it ran out of time.

    ``cost`` and ``bwc`` (best worst cost) are pm4py's, so log fitness can be computed exactly as
    pm4py computes it: 1 - sum(cost) / sum(bwc) over cases.
    """

    activities: tuple[str, ...]
    cases: int
    cost: float | None
    fitness: float | None
    moves: tuple[Move, ...] = ()
    bwc: float | None = None
    checked: bool = True


@dataclass
class ConformanceResult:
    """Log-level figures and per-case deviations of one checking run."""

    cases: int
    conforming_cases: int
    incomplete_cases: int
    unchecked_cases: int
    fitness: float | None
    average_trace_fitness: float | None
    deviations: list[Deviation] = field(default_factory=list)
    alignments: list[VariantAlignment] = field(default_factory=list)
    incomplete_case_ids: frozenset[str] = frozenset()

    @property
    def conforming_share(self) -> float:
        return self.conforming_cases / self.cases if self.cases else 0.0


@dataclass(frozen=True)
class CaseCheck:
    """What checking found for one case: all a night needs to keep, so that a later night can
    reuse it for a case that did not change instead of checking it again."""

    case_id: str
    variant: tuple[str, ...]
    running: bool
    deviations: tuple[Deviation, ...]
    pending: bool  # the alignment leaves work the running case has not reached yet
    checked: bool
    cost: float | None
    bwc: float | None
    fitness: float | None
