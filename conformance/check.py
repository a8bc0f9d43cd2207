"""Checking a whole log: align each variant once, classify, add rule breaches, sum up."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from datetime import timedelta

import pandas as pd

from conformance.alignments import Aligner, Variants, align_variants, deviating_moves, drain_model
from conformance.deviations import classify_moves
from conformance.models import DesignedModel
from conformance.rules import RuleSpec, check_rules
from conformance.types import CaseCheck, ConformanceResult, Deviation, VariantAlignment
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
    running = open_cases(log, open_case_horizon_days)
    checks, alignments = check_cases(log, model, running, rules, timeout_seconds, aligner)
    return summarize_checks(checks, alignments)


def check_cases(
    log: EventLog,
    model: DesignedModel,
    running: Set[str],
    rules: Sequence[RuleSpec] = (),
    timeout_seconds: float | None = None,
    aligner: Aligner | None = None,
) -> tuple[list[CaseCheck], list[VariantAlignment]]:
    """One CaseCheck per case of ``log``, and the alignment of each of its variants.

    ``running`` are the cases that may still be running (decided by the caller against the
    whole log's clock, since ``log`` may hold only some of its cases).
    """
    if aligner is None:
        def aligner(model: DesignedModel, variants: Variants) -> list[VariantAlignment]:
            return align_variants(model, variants, timeout_seconds)

    sequences = case_sequences(log.events)
    cases_by_variant: dict[tuple[str, ...], list[str]] = {}
    for case_id, sequence in zip(sequences.index.astype(str).tolist(), sequences.tolist(), strict=True):
        cases_by_variant.setdefault(sequence, []).append(case_id)
    ordered = sorted(cases_by_variant.items(), key=lambda item: (-len(item[0]), item[0]))
    alignments = aligner(model, [(variant, len(cases)) for variant, cases in ordered])
    pending = _pending_moves(model, alignments, cases_by_variant, running, aligner)
    breaches: dict[str, list[Deviation]] = {}
    for breach in check_rules(log, rules, open_cases=frozenset(running)):
        breaches.setdefault(breach.case_id, []).append(breach)
    checks = []
    for alignment in alignments:
        if alignment.checked:
            finished = classify_moves(alignment.moves)
            running_view = classify_moves(alignment.moves, pending.get(alignment.activities, 0))
        for case_id in cases_by_variant[alignment.activities]:
            is_running = case_id in running
            found = list(breaches.get(case_id, ()))
            waiting = False
            if alignment.checked:
                classified = running_view if is_running else finished
                waiting = bool(classified.pending)
                found += [Deviation(case_id=case_id, kind=kind, activity=activity)
                          for kind, activity in classified.deviations]
            checks.append(CaseCheck(
                case_id=case_id, variant=alignment.activities, running=is_running,
                deviations=tuple(sorted(found, key=lambda d: (d.kind, d.activity, d.detail))),
                pending=waiting, checked=alignment.checked, cost=alignment.cost,
                bwc=alignment.bwc, fitness=alignment.fitness,
            ))
    return checks, alignments


def summarize_checks(
    checks: Sequence[CaseCheck], alignments: Sequence[VariantAlignment]
) -> ConformanceResult:
    """Log-level figures from per-case checks, the same whether they were made tonight or kept.

    Sums are exact (costs are whole numbers; fitness is summed with ``math.fsum``), so the order
    in which cases come does not change a figure.
    """
    deviations = sorted((d for check in checks for d in check.deviations),
                        key=lambda d: (d.case_id, d.kind, d.activity))
    deviating = {d.case_id for d in deviations}
    checked = [c for c in checks if c.checked]
    unchecked = [c.case_id for c in checks if not c.checked]
    cost_sum = sum(c.cost or 0.0 for c in checked)
    bwc_sum = sum(c.bwc or 0.0 for c in checked)
    incomplete = frozenset(c.case_id for c in checks if c.pending) - deviating
    return ConformanceResult(
        cases=len(checks),
        conforming_cases=len(checks) - len(deviating | set(unchecked)),
        incomplete_cases=len(incomplete),
        unchecked_cases=len(unchecked),
        fitness=(1.0 - cost_sum / bwc_sum) if bwc_sum > 0 else None,
        average_trace_fitness=(math.fsum(c.fitness or 0.0 for c in checked) / len(checked)
                               if checked else None),
        deviations=deviations,
        alignments=list(alignments),
        incomplete_case_ids=incomplete,
    )


def _pending_moves(
    model: DesignedModel,
    alignments: Sequence[VariantAlignment],
    cases_by_variant: Mapping[tuple[str, ...], list[str]],
    running: Set[str],
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
