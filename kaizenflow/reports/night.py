"""A night's report: the HTML page and, beside it, the exports for BI tools."""

from __future__ import annotations

from kaizenflow.core.events import case_sequences, member_of
from kaizenflow.pipeline import stages
from kaizenflow.pipeline.config import Process
from kaizenflow.pipeline.night import Night
from kaizenflow.pipeline.resources import Resources
from kaizenflow.reports.case_alignments import alignments_by_case
from kaizenflow.reports.exports import summary_record, write_exports
from kaizenflow.reports.html import write_run_report
from kaizenflow.reports.model_overlay import designed_model_svg, deviation_counts, variant_verdicts


def write_night_report(resources: Resources, process: Process, night: Night) -> str:
    """Writes the run's report and exports; returns the report's path (the night's ``report``)."""
    summary, result, window = night.summary, night.result, night.window
    if window is None:  # night.result says so first; this tells mypy
        raise ValueError(f"run {summary.run_id}: the night read no events")
    directory = resources.config.path(resources.config.reports_directory)
    examples = {case for pattern in summary.patterns for case in pattern.example_case_ids}
    shown = window.cases.index[member_of(window.cases.index, sorted(examples))]
    sequences = {str(case): seq for case, seq in case_sequences(window.events_of(shown).events).items()
                 if str(case) in examples}
    path = write_run_report(
        summary, directory, stages.run_history(resources, process, before=summary.run_id),
        model_svg=designed_model_svg(night.model, *deviation_counts(result.deviations)),
        case_alignments=alignments_by_case(sorted(examples), sequences, result.alignments),
        variant_fit=variant_verdicts(result.alignments),
    )
    write_exports(directory, summary.run_id, result.deviations, summary.patterns,
                  summary_record(summary), process=summary.process,
                  case_attributes=window.case_attributes)
    return str(path)
