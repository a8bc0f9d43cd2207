"""Classifying the moves of an alignment into deviations a process owner recognises."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from conformance.types import INSERTED, REPEATED, SKIPPED, WRONG_ORDER, Move


@dataclass(frozen=True)
class VariantDeviations:
    """Deviations of one variant as (kind, activity) pairs, and the model moves at its end.

    ``trailing_skips`` are model moves after the last event: for a case that may still be
    running they are work not done yet (incomplete), for a finished case they are skipped.
    """

    deviations: tuple[tuple[str, str], ...]
    trailing_skips: tuple[str, ...]


def classify_moves(moves: tuple[Move, ...]) -> VariantDeviations:
    """Deviations from an optimal alignment.

    - a log move and a model move of the same activity: the activity was done at the wrong
      point (``wrong_order``), one deviation for each such pair;
    - any other log move: ``repeated`` if the activity is also done in step with the model in
      the trace, else ``inserted``;
    - any other model move: ``skipped``, unless it comes after the last event (trailing).
    """
    last_event = max((i for i, m in enumerate(moves) if m.log is not None), default=-1)
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

    trailing: list[str] = []
    for position, move in enumerate(moves):
        if move.kind != "model" or move.model is None or unmatched_model[move.model] <= 0:
            continue
        unmatched_model[move.model] -= 1
        if position > last_event:
            trailing.append(move.model)
        else:
            deviations.append((SKIPPED, move.model))
    return VariantDeviations(deviations=tuple(deviations), trailing_skips=tuple(trailing))
