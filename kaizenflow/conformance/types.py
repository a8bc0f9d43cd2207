"""Plain result types of conformance checking, shared by checking, patterns, tasks and reports."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported where frames are built: `kaizen tasks list` needs none
    import pandas as pd

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
    #: With a cost per case (``cost`` in the configuration): the pattern's cases against
    #: conforming ones, median and 90th percentile, and in all (each case's cost beyond the
    #: conforming median, summed). None without costs.
    extra_cost_median: float | None = None
    extra_cost_p90: float | None = None
    extra_cost_total: float | None = None

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


#: Columns of ``CaseChecks.cases`` (indexed by case id) and of ``CaseChecks.deviations``.
CASE_CHECK_COLUMNS = ("variant", "running", "pending", "checked", "cost", "bwc", "fitness")
DEVIATION_COLUMNS = ("case_id", "kind", "activity", "detail")


def empty_deviation_table() -> pd.DataFrame:
    import pandas as pd

    return pd.DataFrame({column: pd.Series(dtype=object) for column in DEVIATION_COLUMNS})


def deviation_table(deviations: Iterable[Deviation]) -> pd.DataFrame:
    import pandas as pd

    rows = [(d.case_id, d.kind, d.activity, d.detail) for d in deviations]
    if not rows:
        return empty_deviation_table()
    return pd.DataFrame(rows, columns=list(DEVIATION_COLUMNS), dtype=object)


@dataclass(eq=False)
class ConformanceResult:
    """Log-level figures and per-case deviations of one checking run.

    ``deviation_table`` has one row per deviation (the columns of ``DEVIATION_COLUMNS``), in no
    particular order; ``deviations`` is the same as objects, sorted, built when first asked for.
    """

    cases: int
    conforming_cases: int
    incomplete_cases: int
    unchecked_cases: int
    fitness: float | None
    average_trace_fitness: float | None
    deviation_table: pd.DataFrame = field(default_factory=empty_deviation_table)
    alignments: list[VariantAlignment] = field(default_factory=list)
    incomplete_case_ids: frozenset[str] = frozenset()

    @property
    def conforming_share(self) -> float:
        return self.conforming_cases / self.cases if self.cases else 0.0

    def __eq__(self, other: object) -> bool:
        """Equal figures, alignments and deviations (whatever order the table holds them in)."""
        if not isinstance(other, ConformanceResult):
            return NotImplemented
        figures = ("cases", "conforming_cases", "incomplete_cases", "unchecked_cases", "fitness",
                   "average_trace_fitness", "alignments", "incomplete_case_ids")
        return all(getattr(self, name) == getattr(other, name) for name in figures) and (
            self.deviations == other.deviations)

    def with_deviations(self, deviations: Iterable[Deviation], **changes: Any) -> ConformanceResult:
        """The same result with other deviations (and any other field changed)."""
        return replace(self, deviation_table=deviation_table(deviations), **changes)

    @cached_property
    def deviations(self) -> list[Deviation]:
        table = self.deviation_table
        rows = sorted(zip(*(table[column].tolist() for column in DEVIATION_COLUMNS), strict=True))
        return [Deviation(*row) for row in rows]


@dataclass(frozen=True)
class CaseChecks:
    """What checking found for each case: all a night must keep so that a later night can reuse a
    case's result instead of checking it again.

    Columns, not one object a case: a night holds hundreds of thousands of cases. ``cases`` is
    indexed by case id with the columns of ``CASE_CHECK_COLUMNS``: ``variant`` (the activity
    tuple), ``running``, ``pending`` (the alignment leaves work the running case has not reached
    yet), ``checked``, and the alignment's ``cost``, ``bwc`` and ``fitness`` (NaN when unchecked).
    ``deviations`` has one row per deviation, with the columns of ``DEVIATION_COLUMNS``.
    """

    cases: pd.DataFrame
    deviations: pd.DataFrame

    @staticmethod
    def empty() -> CaseChecks:
        import pandas as pd

        cases = pd.DataFrame({
            "variant": pd.Series(dtype=object), "running": pd.Series(dtype=bool),
            "pending": pd.Series(dtype=bool), "checked": pd.Series(dtype=bool),
            "cost": pd.Series(dtype="float64"), "bwc": pd.Series(dtype="float64"),
            "fitness": pd.Series(dtype="float64"),
        }, index=pd.Index([], dtype=object, name="case_id"))
        return CaseChecks(cases, empty_deviation_table())

    def __len__(self) -> int:
        return len(self.cases)

    def select(self, case_ids: pd.Index) -> CaseChecks:
        """The results of the given cases only (all of which must be here)."""
        from kaizenflow.core.events import member_of, positions_in

        positions = positions_in(case_ids, self.cases.index)  # not .loc: it hashes the text again
        if (positions < 0).any():
            raise KeyError(f"no results for {int((positions < 0).sum())} of the cases asked for")
        return CaseChecks(
            self.cases.iloc[positions],
            self.deviations[member_of(self.deviations["case_id"], case_ids)].reset_index(drop=True),
        )

    @staticmethod
    def combine(parts: Sequence[CaseChecks]) -> CaseChecks:
        """Results of disjoint sets of cases, together."""
        import pandas as pd

        empty = CaseChecks.empty()
        cases = [part.cases for part in parts if len(part.cases)]  # empty frames would change dtypes
        deviations = [part.deviations for part in parts if len(part.deviations)]
        return CaseChecks(
            pd.concat(cases) if cases else empty.cases,
            pd.concat(deviations, ignore_index=True) if deviations else empty.deviations,
        )
