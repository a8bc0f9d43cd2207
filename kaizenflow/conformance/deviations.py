"""Classifying the moves of an alignment into deviations a process owner recognises."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from kaizenflow.conformance.types import INSERTED, REPEATED, SKIPPED, WRONG_ORDER, Move


@dataclass(frozen=True)
class VariantDeviations:
    """Deviations of one variant as (kind, activity) pairs, and the work still pending.

    ``pending`` are model moves that a running case has simply not reached yet: they make the
    case incomplete, not deviating.
    """

    deviations: tuple[tuple[str, str], ...]
    pending: tuple[str, ...]


def classify_moves(moves: tuple[Move, ...], pending: int = 0) -> VariantDeviations:
    """Deviations from an optimal alignment.

    - a log move and a model move of the same activity: the activity was done at the wrong
      point (``wrong_order``), one deviation for each such pair;
    - any other log move: ``repeated`` if the activity is also done in step with the model in
      the trace, else ``inserted``;
    - any other model move: ``skipped``, except the last ``pending`` ones of a running case.

    How many are pending is not visible in the alignment itself (with concurrency pm4py may
    place a pending step before the last event): the caller counts it with a prefix alignment.
    """
    log_moves = Counter(m.log for m in moves if m.kind == "log")
    model_moves = Counter(m.model for m in moves if m.kind == "model")
    synced = {m.log for m in moves if m.kind == "sync"}
    deviations: list[tuple[str, str]] = []

    unmatched_model = Counter(model_moves)
    for activity, count in sorted(log_moves.items(), key=lambda item: str(item[0])):
        assert activity is not None
        paired = min(count, unmatched_model[activity])
        deviations.extend([(WRONG_ORDER, activity)] * paired)
        unmatched_model[activity] -= paired
        remaining = count - paired
        kind = REPEATED if activity in synced else INSERTED
        deviations.extend([(kind, activity)] * remaining)

    skipped: list[str] = []
    for move in moves:
        if move.kind == "model" and move.model is not None and unmatched_model[move.model] > 0:
            unmatched_model[move.model] -= 1
            skipped.append(move.model)
    cut = len(skipped) - min(pending, len(skipped))
    deviations.extend((SKIPPED, activity) for activity in skipped[:cut])
    return VariantDeviations(deviations=tuple(deviations), pending=tuple(skipped[cut:]))
