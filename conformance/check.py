"""Checking a whole log: align each variant once, classify, add rule breaches, sum up."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta

import pandas as pd

from conformance.alignments import Aligner, Variants, align_variants, deviating_moves, drain_model
from conformance.deviations import classify_moves
from conformance.models import DesignedModel
from conformance.rules import RuleSpec, check_rules
from conformance.types import ConformanceResult, Deviation, VariantAlignment
from kaizenflow.events import ACTIVITY, CASE_ID, TIMESTAMP, EventLog, case_sequences


def map_activities(log: EventLog, mapping: Mapping[str, str]) -> EventLog:
    """The log with its activity names replaced by the model's names where a mapping says so."""
    if not mapping:
        return log
    events = log.events.copy()
    events[ACTIVITY] = events[ACTIVITY].replace(dict(mapping))
    return EventLog(events=events, case_attributes=log.case_attributes,
                    has_timestamps=log.has_timestamps)


def open_cases(log: EventLog, horizon_days: float) -> set[str]:
    """Cases whose last event lies within the horizon before the log's last event.

    Without timestamps nothing tells a running case from a finished one: all count as finished.
    """
    if not log.has_timestamps or log.events.empty:
        return set()
    last = log.events.groupby(CASE_ID, observed=True)[TIMESTAMP].max()
    cutoff = last.max() - timedelta(days=horizon_days)
    return set(last.index[last > cutoff].astype(str))


def check_log(
    log: EventLog,
    model: DesignedModel,
    rules: Sequence[RuleSpec] = (),
    open_case_horizon_days: float = 90,
    timeout_seconds: float | None = None,
    aligner: Aligner | None = None,
) -> ConformanceResult:
    """Per-case deviations and log-level figures; fitness equals pm4py's alignment-based fitness.

    ``aligner`` decides where alignments come from (a cache, a pool of workers); by default
    each variant is aligned here, once.
    """
    if aligner is None:
        def aligner(model: DesignedModel, variants: Variants) -> list[VariantAlignment]:
            return align_variants(model, variants, timeout_seconds)

    sequences = case_sequences(log.events)
    cases_by_variant: dict[tuple[str, ...], list[str]] = {}
    for case_id, sequence in sequences.items():
        cases_by_variant.setdefault(sequence, []).append(str(case_id))
    ordered = sorted(cases_by_variant.items(), key=lambda item: (-len(item[0]), item[0]))
    alignments = aligner(model, [(variant, len(cases)) for variant, cases in ordered])
    running = open_cases(log, open_case_horizon_days)
    pending = _pending_moves(model, alignments, cases_by_variant, running, aligner)
    deviations: list[Deviation] = []
    incomplete: set[str] = set()
    unchecked = 0
    cost_sum = bwc_sum = fitness_sum = 0.0
    checked_cases = 0
    for alignment in alignments:
        cases = cases_by_variant[alignment.activities]
        if not alignment.checked:
            unchecked += len(cases)
            continue
        assert alignment.cost is not None and alignment.bwc is not None
        assert alignment.fitness is not None
        checked_cases += len(cases)
        cost_sum += alignment.cost * len(cases)
        bwc_sum += alignment.bwc * len(cases)
        fitness_sum += alignment.fitness * len(cases)
        finished = classify_moves(alignment.moves)
        running_view = classify_moves(alignment.moves, pending.get(alignment.activities, 0))
        for case_id in cases:
            classified = running_view if case_id in running else finished
            if classified.pending:
                incomplete.add(case_id)
            for kind, activity in classified.deviations:
                deviations.append(Deviation(case_id=case_id, kind=kind, activity=activity))
    deviations.extend(check_rules(log, rules, open_cases=frozenset(running)))
    deviations.sort(key=lambda d: (d.case_id, d.kind, d.activity))
    deviating = {d.case_id for d in deviations}
    unchecked_ids = {
        case for a in alignments if not a.checked for case in cases_by_variant[a.activities]
    }
    conforming = len(sequences) - len(deviating | unchecked_ids)
    return ConformanceResult(
        cases=len(sequences),
        conforming_cases=conforming,
        incomplete_cases=len(incomplete - deviating),
        unchecked_cases=unchecked,
        fitness=(1.0 - cost_sum / bwc_sum) if bwc_sum > 0 else None,
        average_trace_fitness=fitness_sum / checked_cases if checked_cases else None,
        deviations=deviations,
        alignments=alignments,
        incomplete_case_ids=frozenset(incomplete - deviating),
    )


def _pending_moves(
    model: DesignedModel,
    alignments: Sequence[VariantAlignment],
    cases_by_variant: Mapping[tuple[str, ...], list[str]],
    running: set[str],
    aligner: Aligner,
) -> dict[tuple[str, ...], int]:
    """For variants with running cases: how many model moves are work not reached yet.

    That is the full alignment's deviating moves minus those of the prefix alignment.
    """
    candidates = [
        a for a in alignments
        if a.checked and a.cost and any(c in running for c in cases_by_variant[a.activities])
    ]
    if not candidates:
        return {}
    prefix = aligner(drain_model(model), [(a.activities, a.cases) for a in candidates])
    pending = {}
    for full, partial in zip(candidates, prefix, strict=True):
        if partial.checked:
            pending[full.activities] = max(0, deviating_moves(full) - deviating_moves(partial))
    return pending


def deviations_frame(deviations: Sequence[Deviation]) -> pd.DataFrame:
    return pd.DataFrame(
        [(d.case_id, d.kind, d.activity, d.detail) for d in deviations],
        columns=[CASE_ID, "kind", "activity", "detail"],
    )
