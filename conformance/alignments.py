"""Optimal alignments of variants against a designed model, one alignment per distinct variant."""

from __future__ import annotations

import os
from collections.abc import Iterable

from conformance.models import DesignedModel
from conformance.types import Move, VariantAlignment

_SKIP = ">>"


def align_variants(
    model: DesignedModel,
    variants: Iterable[tuple[tuple[str, ...], int]],
    timeout_seconds: float | None = None,
) -> list[VariantAlignment]:
    """Align each (activities, case count) once. A variant that runs out of time is unchecked.

    Costs are pm4py's exact optimal costs (A* on the state equation), never approximations.
    """
    from pm4py.algo.conformance.alignments.petri_net import algorithm as alignments
    from pm4py.objects.log.obj import Event, Trace

    os.environ.setdefault("PM4PY_SHOW_PROGRESS_BAR", "false")
    parameters: dict[object, object] = {}
    if timeout_seconds is not None:
        parameters[alignments.Parameters.PARAM_MAX_ALIGN_TIME_TRACE] = timeout_seconds
    results = []
    for activities, cases in variants:
        trace = Trace([Event({"concept:name": activity}) for activity in activities])
        aligned = alignments.apply_trace(
            trace, model.net, model.initial_marking, model.final_marking, parameters=parameters
        )
        if aligned is None:
            results.append(
                VariantAlignment(activities=activities, cases=cases, cost=None, fitness=None,
                                 checked=False)
            )
            continue
        moves = tuple(_move(log, model_label) for log, model_label in aligned["alignment"])
        results.append(
            VariantAlignment(
                activities=activities,
                cases=cases,
                cost=float(aligned["cost"]),
                fitness=float(aligned["fitness"]),
                moves=tuple(m for m in moves if not (m.log is None and m.model is None)),
                bwc=float(aligned["bwc"]),
            )
        )
    return results


def _move(log: str, model: str | None) -> Move:
    """pm4py writes '>>' for 'no move' and None for a silent (tau) transition; both become None."""
    return Move(log=None if log == _SKIP else log, model=None if model in (_SKIP, None) else model)
