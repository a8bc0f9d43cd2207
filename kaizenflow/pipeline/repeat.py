"""A night that finds nothing new repeats its newest night's findings instead of computing them.

Findings are a function of the stored events, the process's settings, its designed model, the
acceptances in force and the code: with all of them as they were, a night would read the whole
window, check and count it again and find the same. ``night_inputs`` digests them; a night whose
digest equals the one kept with the newest findings (``storage.findings``) returns those, records
no run (the same events are no new evidence: a KPI value or a night a pattern was absent) and
writes no report (the newest run's stands). Anything unreadable makes the night compute afresh.
"""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import replace
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

from kaizenflow.pipeline.config import Process
from kaizenflow.pipeline.resources import Resources
from kaizenflow.pipeline.summary import RunSummary, summary_from_json, summary_json
from kaizenflow.storage import AppendResult
from kaizenflow.storage.findings import KeptFindings

logger = logging.getLogger(__name__)

#: Raise when what a summary holds or how findings are computed changes beyond the code's digest.
FINDINGS_VERSION = 1


def night_inputs(resources: Resources, process: Process) -> str:
    """A digest of everything a night's findings depend on, taken after its load."""
    config = resources.config
    models = {"model": config.path(process.model),
              **{called: config.path(path) for called, path in process.models.items()}}
    acceptances = resources.state.accepted(process.name)
    text = json.dumps([
        FINDINGS_VERSION, _code_digest(), process.model_dump(mode="json"),
        {name: _file_digest(path) for name, path in sorted(models.items())},
        resources.events.data_version(process.name),
        sorted(str(a["id"]) + "@" + str(a["expires_at"]) for a in acceptances),
    ], sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def repeated_night(
    resources: Resources, process: Process, inputs: str, loaded: AppendResult, started_at: datetime,
    needs_report: bool,
) -> RunSummary | None:
    """The newest findings as tonight's summary when they came from the same ``inputs``; None when
    the night must compute them (other inputs, none kept, unreadable, or a report is wanted and
    the newest run's is not there to stand for tonight's)."""
    kept = resources.state.kept_findings(process.name)
    if kept is None or kept.inputs != inputs or not _derived_state_in_place(resources):
        return None
    try:
        summary = summary_from_json(kept.summary_json)
    except ValueError:
        resources.state.forget_findings(process.name)  # the next night keeps readable ones
        return None
    if needs_report and not (summary.report_path and Path(summary.report_path).exists()):
        return None
    return replace(
        summary, repeated=True, started_at=started_at, finished_at=datetime.now(UTC), new_events=0,
        quarantined_rows=loaded.quarantined, task_changes=[], stage_seconds={},
        report_path=summary.report_path if needs_report else None,
    )


def kept_findings(summary: RunSummary, inputs: str) -> KeptFindings | None:
    """Tonight's findings as the nights after it that find nothing new repeat them; None (and the
    next night computes) if the summary cannot be written as JSON."""
    try:
        text = summary_json(replace(summary, task_changes=[], stage_seconds={}))
    except (TypeError, ValueError) as error:
        logger.warning("run %s: its findings are not kept for a night with nothing new (%s)",
                       summary.run_id, error)
        return None
    return KeptFindings(summary.run_id, inputs, text)


def _derived_state_in_place(resources: Resources) -> bool:
    """Whether the case ledger, the case contributions and the alignment cache are there: a night
    with nothing new that finds one deleted or set aside as damaged computes, and so rebuilds it,
    rather than leave the next night with new events to compute every case."""
    return (resources.ledger.path.exists() and resources.contributions.path.exists()
            and len(resources.alignments) > 0)  # opening the cache sets a damaged one aside


@cache
def _code_digest() -> str:
    """kaizenflow's own modules: another version may find otherwise in the same events."""
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    for module in sorted(package.rglob("*.py")):
        digest.update(str(module.relative_to(package)).encode("utf-8"))
        digest.update(module.read_bytes())
    return digest.hexdigest()


def _file_digest(path: Path) -> str:
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except OSError:
        return "unreadable"  # the night's own model loading says what is wrong
