"""Checking a whole log: align each variant once, classify, add rule breaches, sum up."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence, Set
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd

from kaizenflow.conformance.alignments import Aligner, Variants, align_variants, deviating_moves, drain_model
from kaizenflow.conformance.deviations import classify_moves
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.rules import RuleSpec, check_rules
from kaizenflow.conformance.types import CaseChecks, ConformanceResult, VariantAlignment, deviation_table
from kaizenflow.core.events import (
    ACTIVITY,
    CASE_ID,
    CaseVariants,
    EventLog,
    case_times,
    case_variants,
    member_of,
    tuples_array,
)


def map_activities(log: EventLog, mapping: Mapping[str, str]) -> EventLog:
    """The log with its activity names replaced by the model's names where a mapping says so."""
    if not mapping:
        return log
    events = log.events.copy()
    values = events[ACTIVITY]
    if isinstance(values.dtype, pd.CategoricalDtype):  # as the event store gives them
        renamed = pd.Index([mapping.get(name, name) for name in values.cat.categories],
                           dtype=values.cat.categories.dtype)
        names = renamed.unique().sort_values()  # two log names may map to one model name
        codes = values.cat.codes.to_numpy()
        new_codes = np.where(codes >= 0, names.get_indexer(renamed)[codes], -1)
        events[ACTIVITY] = pd.Categorical.from_codes(new_codes, categories=names)
    else:
        events[ACTIVITY] = values.replace(dict(mapping))
    return replace(log, events=events)


def open_cases(log: EventLog, horizon_days: float) -> set[str]:
    """Cases whose last event lies within the horizon before the log's last event.

    Without timestamps nothing tells a running case from a finished one: all count as finished.
    """
    if not log.has_timestamps or log.events.empty:
        return set()
    last = case_times(log.events)["last"]
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
) -> tuple[CaseChecks, list[VariantAlignment]]:
    """What checking finds for each case of ``log``, and the alignment of each of its variants.

    ``running`` are the cases that may still be running (decided by the caller against the
    whole log's clock, since ``log`` may hold only some of its cases). Work is done once per
    variant and spread over the cases by array operations: a night has few variants, many cases.
    """
    if aligner is None:
        def aligner(model: DesignedModel, variants: Variants) -> list[VariantAlignment]:
            return align_variants(model, variants, timeout_seconds)

    # the rules first: their working memory is given back before the per-case frames are built
    breaches = check_rules(log, rules, open_cases=frozenset(running))
    variants = case_variants(log.events)
    case_ids = variants.case_ids.astype(str)
    ordered, codes = _longest_first(variants)
    alignments = aligner(model, [(variant, int(size)) for variant, size
                                 in zip(ordered, np.bincount(codes, minlength=len(ordered)), strict=True)])
    is_running = member_of(case_ids, running) if running else np.zeros(len(case_ids), dtype=bool)
    has_running = np.zeros(len(alignments), dtype=bool)  # per variant: has it a running case?
    has_running[codes[is_running]] = True
    pending_moves = _pending_moves(model, alignments, has_running, aligner)

    # per variant, then taken for each case
    checked = np.array([a.checked for a in alignments], dtype=bool)
    figures = {name: np.array([np.nan if getattr(a, name) is None else getattr(a, name) for a in alignments],
                              dtype="float64") for name in ("cost", "bwc", "fitness")}
    waiting = np.zeros((len(alignments), 2), dtype=bool)  # [variant, finished/running]
    found: list[tuple[int, str, str]] = []  # (variant * 2 + running, kind, activity)
    for code, alignment in enumerate(alignments):
        if not alignment.checked:
            continue
        finished = classify_moves(alignment.moves)
        views = [(False, finished)]
        if has_running[code]:  # work not reached yet is pending, not skipped
            pending = pending_moves.get(code, 0)
            views.append((True, classify_moves(alignment.moves, pending) if pending else finished))
        for running_case, classified in views:
            waiting[code, int(running_case)] = bool(classified.pending)
            found += [(code * 2 + running_case, kind, activity) for kind, activity in classified.deviations]
    cases = pd.DataFrame({
        "variant": tuples_array(ordered)[codes],
        "running": is_running,
        "pending": waiting[codes, is_running.astype(np.int64)],
        "checked": checked[codes],
        **{name: values[codes] for name, values in figures.items()},
    }, index=pd.Index(case_ids, dtype=object, name=CASE_ID))
    keyed = pd.DataFrame({"key": codes * 2 + is_running, CASE_ID: cases.index})
    moves = keyed.merge(pd.DataFrame({
        "key": np.array([key for key, _, _ in found], dtype=np.int64),
        "kind": pd.Series([kind for _, kind, _ in found], dtype=object),
        "activity": pd.Series([activity for _, _, activity in found], dtype=object),
    }), on="key")
    deviations = moves[[CASE_ID, "kind", "activity"]].assign(detail="")
    if breaches:  # concatenating an empty frame would change the columns' types
        deviations = pd.concat([deviations, deviation_table(breaches)], ignore_index=True)
    return CaseChecks(cases, deviations.astype(object)), alignments


def _longest_first(variants: CaseVariants) -> tuple[list[tuple[str, ...]], np.ndarray]:
    """The variants renumbered longest first (costly alignments start early), and each case's number."""
    order = sorted(range(len(variants.sequences)),
                   key=lambda code: (-len(variants.sequences[code]), variants.sequences[code]))
    position = np.empty(len(order), dtype=np.int64)
    position[order] = np.arange(len(order))
    return [variants.sequences[code] for code in order], position[variants.codes]


def summarize_checks(checks: CaseChecks, alignments: Sequence[VariantAlignment]) -> ConformanceResult:
    """Log-level figures from per-case checks, the same whether they were made tonight or kept.

    Sums are exact (``math.fsum``), so the order in which cases come does not change a figure.
    """
    cases, found = checks.cases, checks.deviations
    deviating = set(found[CASE_ID].unique().tolist())
    checked = cases["checked"].to_numpy(dtype=bool)
    unchecked = set(cases.index[~checked].tolist())
    bwc_sum = math.fsum(cases["bwc"].to_numpy()[checked].tolist())
    incomplete = frozenset(cases.index[cases["pending"].to_numpy(dtype=bool)].tolist()) - deviating
    return ConformanceResult(
        cases=len(cases),
        conforming_cases=len(cases) - len(deviating | unchecked),
        incomplete_cases=len(incomplete),
        unchecked_cases=len(unchecked),
        fitness=(1.0 - math.fsum(cases["cost"].to_numpy()[checked].tolist()) / bwc_sum)
        if bwc_sum > 0 else None,
        average_trace_fitness=(math.fsum(cases["fitness"].to_numpy()[checked].tolist()) / int(checked.sum())
                               if checked.any() else None),
        deviation_table=found,
        alignments=list(alignments),
        incomplete_case_ids=incomplete,
    )


def _pending_moves(
    model: DesignedModel,
    alignments: Sequence[VariantAlignment],
    has_running: np.ndarray,
    aligner: Aligner,
) -> dict[int, int]:
    """For variants with running cases: how many model moves are work not reached yet.

    That is the full alignment's deviating moves minus those of the prefix alignment.
    """
    candidates = [code for code, a in enumerate(alignments) if a.checked and a.cost and has_running[code]]
    if not candidates:
        return {}
    prefix = aligner(drain_model(model),
                     [(alignments[c].activities, alignments[c].cases) for c in candidates])
    pending = {}
    for code, partial in zip(candidates, prefix, strict=True):
        if partial.checked:
            pending[code] = max(0, deviating_moves(alignments[code]) - deviating_moves(partial))
    return pending
