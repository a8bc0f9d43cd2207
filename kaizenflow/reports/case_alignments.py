"""Example cases' alignments as the report shows them: one chip per step, deviating steps marked."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from kaizenflow.conformance.types import VariantAlignment

#: One alignment step as the report receives it: (log activity, model activity), None = no move.
Pair = tuple[str | None, str | None]

#: A case of thousands of events would bury the page; the deviations of examples are short.
MAX_STEPS = 200

SYNC = "sync"
SKIPPED = "skipped"
INSERTED = "inserted"

_TITLES = {
    SYNC: "Done as the model expects",
    SKIPPED: "Skipped: the model expects this step here, the case did not do it",
    INSERTED: "Inserted: the case did this step where the model has none",
}


@dataclass(frozen=True)
class Step:
    """One chip: the activity, the kind of move (sync, skipped, inserted) and its tooltip."""

    activity: str
    kind: str

    @property
    def title(self) -> str:
        return _TITLES[self.kind]


@dataclass(frozen=True)
class CaseSteps:
    """The alignment of one example case; ``hidden`` counts steps cut off after MAX_STEPS."""

    case_id: str
    steps: tuple[Step, ...]
    hidden: int = 0


def steps_of(pairs: Iterable[Pair]) -> list[Step]:
    """Chips from (log, model) pairs; silent steps (neither side) are routing, not work, and left out.

    A synchronous step shows the log's label: that is what the case's users saw happen.
    """
    steps = []
    for log, model in pairs:
        if log is not None and model is not None:
            steps.append(Step(log, SYNC))
        elif model is not None:
            steps.append(Step(model, SKIPPED))
        elif log is not None:
            steps.append(Step(log, INSERTED))
    return steps


def case_steps(
    case_ids: Sequence[str], alignments: Mapping[str, Sequence[Pair]], limit: int = MAX_STEPS
) -> tuple[CaseSteps, ...]:
    """The example cases that have an alignment, in the order the pattern lists them."""
    found = []
    for case_id in case_ids:
        pairs = alignments.get(case_id)
        if pairs is None:
            continue
        steps = steps_of(pairs)
        found.append(CaseSteps(case_id, tuple(steps[:limit]), max(len(steps) - limit, 0)))
    return tuple(found)


def alignments_by_case(
    case_ids: Iterable[str],
    case_activities: Mapping[str, Sequence[str]],
    alignments: Iterable[VariantAlignment],
) -> dict[str, list[Pair]]:
    """The ``case_alignments`` argument of the report for the given cases (e.g. pattern examples).

    Alignments are computed once per variant; a case's alignment is that of its activity
    sequence (``case_activities``). Cases whose variant was not aligned (ran out of time)
    are left out rather than shown as if they had no steps.
    """
    by_variant = {a.activities: a for a in alignments if a.checked}
    found: dict[str, list[Pair]] = {}
    for case_id in case_ids:
        sequence = case_activities.get(case_id)
        alignment = None if sequence is None else by_variant.get(tuple(sequence))
        if alignment is not None:
            found[case_id] = [(move.log, move.model) for move in alignment.moves]
    return found
