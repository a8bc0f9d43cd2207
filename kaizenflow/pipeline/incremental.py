"""Incremental checking: a night checks only the cases that changed and reuses the rest.

The result equals checking the whole window (tests/test_incremental_checking.py compares the two
night after night): a case's result depends only on its own events, on whether it may still be
running, and on the model and rules, all of which are either compared or fingerprinted here.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import replace
from datetime import timedelta

import numpy as np
import pandas as pd

from kaizenflow.conformance.alignments import Aligner
from kaizenflow.conformance.check import check_cases, summarize_checks
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import CaseChecks, ConformanceResult, VariantAlignment
from kaizenflow.core.events import (
    CASE_ID,
    EventLog,
    kept_positions,
    member_of,
    same_ids,
)
from kaizenflow.core.window import Window, window_of_log
from kaizenflow.mining.contributions import case_contributions, window_discovery
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import Process
from kaizenflow.pipeline.resources import Resources
from kaizenflow.storage.case_contributions import ContributionsUnreadable

#: Raise when what a case's result means changes (classification, rules), so old results are redone.
LEDGER_VERSION = 1


def check_fingerprint(process: Process, model: DesignedModel) -> str:
    """Everything besides a case's own events that its result depends on."""
    settings = process.model_dump(
        mode="json", include={"rules", "activity_mapping", "open_case_horizon_days"}
    )
    text = json.dumps([LEDGER_VERSION, model.model_hash, settings], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def check_changed_cases(
    resources: Resources, process: Process, model: DesignedModel, aligner: Aligner, log: EventLog | Window
) -> tuple[ConformanceResult, int]:
    """The window's conformance, checking only changed cases; also how many cases were checked.

    ``log`` is the window as the night read it (``pipeline.window``): the changed cases' events
    are taken from it, and any other case to check (a ledger lost or behind) is read from the store.
    """
    window = log if isinstance(log, Window) else window_of_log(log)
    events = window.cases["events"].astype("int64")
    cases = pd.Index(events.index.astype(str), dtype=object, name=CASE_ID)
    is_running = np.zeros(len(cases), dtype=bool)
    if window.has_timestamps:
        last = window.cases["last"]
        is_running = (last > last.max() - timedelta(days=process.open_case_horizon_days)).to_numpy(dtype=bool)
    fingerprint = check_fingerprint(process, model)
    ledger = resources.ledger
    stored_events, kept = ledger.load(process.name, fingerprint)
    unchanged = np.zeros(len(cases), dtype=bool)
    left = cases[:0]
    same = _same_ids(cases, kept.cases.index)  # most nights: no case left, none came, same order
    # where each of tonight's cases is among the kept ones (-1: not kept)
    at = np.arange(len(cases)) if same else kept_positions(cases, kept.cases.index)
    known = at >= 0
    unchanged[known] = (
        (stored_events.to_numpy(dtype=np.int64)[at[known]] == events.to_numpy(dtype=np.int64)[known])
        & (kept.cases["running"].to_numpy(dtype=bool)[at[known]] == is_running[known])
        & kept.cases["checked"].to_numpy(dtype=bool)[at[known]]
    )
    if not same and len(kept) and int(known.sum()) < len(kept):  # some kept case is not in the window
        left = kept.cases.index[~member_of(kept.cases.index, cases)]
    todo = cases[~unchanged]
    # the kept results of the unchanged cases, in tonight's order, without looking them up again
    reused = kept if same and not len(todo) else CaseChecks(
        kept.cases.iloc[at[unchanged]],
        kept.deviations[~member_of(kept.deviations["case_id"], todo.append(left))].reset_index(drop=True),
    )
    fresh: CaseChecks = CaseChecks.empty()
    aligned: list[VariantAlignment] = []
    if len(todo):
        changed = window.events_of(todo)
        running = set(todo[is_running[~unchanged]].tolist())
        fresh, aligned = check_cases(
            changed, model, running, stages.rule_specs(process), process.alignment_timeout_seconds, aligner,
        )
    if len(fresh) or len(left) or not len(kept):  # a night with nothing new writes nothing
        events.index = cases
        ledger.save(process.name, fingerprint, events, fresh, left=left)
    checks = CaseChecks.combine([reused, fresh])
    return summarize_checks(checks, _all_alignments(resources, model, checks, aligned, aligner)), len(fresh)


def _all_alignments(
    resources: Resources, model: DesignedModel, checks: CaseChecks,
    aligned: list[VariantAlignment], aligner: Aligner,
) -> list[VariantAlignment]:
    """One alignment per variant of the window, ordered and counted as checking the whole log would.

    Tonight's come from tonight's checking; the rest, all checked before, from the cache.
    """
    sizes = Counter(checks.cases["variant"].tolist())
    ordered = sorted(sizes.items(), key=lambda item: (-len(item[0]), item[0]))
    known = {a.activities: a for a in aligned}
    missing = [variant for variant, _ in ordered if variant not in known]
    known.update(resources.alignments.get_many(model.model_hash, missing))
    lost = [(variant, sizes[variant]) for variant in missing if variant not in known]
    if lost:  # the cache was emptied since: align them again
        known.update({a.activities: a for a in aligner(model, lost)})
    return [replace(known[variant], cases=size) for variant, size in ordered]


#: Raise when what a case's contribution to discovery holds changes, so old ones are computed again.
CONTRIBUTIONS_VERSION = 1


def contributions_fingerprint(process: Process) -> str:
    """Everything besides a case's own events that its kept contribution depends on."""
    settings = process.model_dump(mode="json", include={"activity_mapping", "window_days"})
    text = json.dumps([CONTRIBUTIONS_VERSION, settings], sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]


def discover_changed_cases(
    resources: Resources, process: Process, log: EventLog | Window
) -> stages.Discovery:
    """The window's process map, variants and throughput, aggregated from each case's kept
    contribution, of which only the changed cases' are computed tonight (from the window as
    read); cases that left the window are forgotten. Equal to ``stages.discover`` of its events.
    """
    return discover_with_contributions(resources, process, log)[0]


def discover_with_contributions(
    resources: Resources, process: Process, log: EventLog | Window
) -> tuple[stages.Discovery, int]:
    """``discover_changed_cases``, and how many cases' contributions were computed tonight."""
    window = log if isinstance(log, Window) else window_of_log(log)
    cases = pd.Index(window.cases.index.astype(str), dtype=object, name=CASE_ID)
    fingerprint = contributions_fingerprint(process)
    store = resources.contributions
    kept = store.event_counts(process.name, fingerprint)
    counts = window.cases["events"].to_numpy(dtype=np.int64)
    if _same_ids(cases, kept.index):  # most nights: the window's cases in the same text order
        unchanged = kept.to_numpy(dtype=np.int64) == counts
        left = cases[:0]
    else:
        unchanged = np.zeros(len(cases), dtype=bool)
        at = kept_positions(cases, kept.index)
        known = at >= 0
        unchanged[known] = kept.to_numpy(dtype=np.int64)[at[known]] == counts[known]
        left = kept.index[~member_of(kept.index, cases)] if int(known.sum()) < len(kept) else cases[:0]
    todo = cases[~unchanged]
    try:
        if len(todo) or len(left) or not len(kept):
            store.save(process.name, fingerprint, case_contributions(window.events_of(todo)), left=left)
        found_window = store.window(process.name)
    except ContributionsUnreadable:  # set aside: tonight from the events, the next night afresh
        return stages.discover(window.whole()), len(cases)
    found = window_discovery(found_window, window.has_timestamps)
    top = found.variants[:stages.TOP_VARIANTS]
    return stages.Discovery(found.process_map, top, found.throughput, found_window), len(todo)


def _same_ids(ids: pd.Index, other: pd.Index) -> bool:
    """Whether two indexes of case ids hold the same ids in the same order, compared through Arrow."""
    return same_ids(ids, other)
