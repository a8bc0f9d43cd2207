"""The run summary as Prefect artifacts: markdown headline, a table of patterns, plain values only."""

from __future__ import annotations

import re

from kaizenflow.pipeline.summary import RunSummary


def artifact_key(process: str) -> str:
    """Prefect artifact keys allow lowercase letters, digits and dashes only."""
    key = re.sub(r"[^a-z0-9-]+", "-", process.lower()).strip("-")
    return key or "process"


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _hours(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value / 24:.1f} d" if value >= 48 else f"{value:.1f} h"


def _md(text: str) -> str:
    """Escape text from the data so markdown renders it literally (no HTML, no links)."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return re.sub(r"([\\`*_{}\[\]()#+!|])", r"\\\1", escaped)


def summary_markdown(summary: RunSummary) -> str:
    created = sum(1 for c in summary.task_changes if c.change == "created")
    updated = sum(1 for c in summary.task_changes if c.change == "updated")
    lines = [
        f"# {_md(summary.process)}: run {summary.run_id}",
        "",
        *([f"Nothing new since run {summary.run_id}: its findings stand, no run was recorded.", ""]
          if summary.repeated else []),
        "| figure | value |",
        "|---|---|",
        f"| cases | {summary.cases:,} |",
        f"| events (new this run) | {summary.events:,} ({summary.new_events:,}) |",
        f"| conforming cases | {summary.conforming_cases:,} ({_pct(summary.conforming_share)}) |",
        f"| fitness | {'n/a' if summary.fitness is None else f'{summary.fitness:.4f}'} |",
        f"| incomplete (running) cases | {summary.incomplete_cases:,} |",
        f"| median throughput | {_hours(summary.throughput.median_hours)} |",
        f"| tasks created / updated | {created} / {updated} |",
        "",
        "## Top deviation patterns",
        "",
    ]
    if not summary.patterns:
        lines.append("No deviations found.")
    for pattern in summary.patterns[:5]:
        cause = pattern.root_causes[0] if pattern.root_causes else None
        because = (
            f" — {cause.support:.0%} of them {_md(cause.attribute)} {_md(cause.value)}"
            if cause
            else ""
        )
        lines.append(
            f"- **{_md(pattern.kind)}** {_md(pattern.activity)}: {pattern.cases:,} cases "
            f"({_pct(pattern.share)}){because}"
        )
    if summary.report_path:
        lines += ["", f"Report: `{summary.report_path}`"]
    return "\n".join(lines)


def pattern_rows(summary: RunSummary) -> list[dict[str, str | int | float | None]]:
    """Rows for a table artifact: strings and numbers only (Prefect cannot serialise Timestamps)."""
    rows: list[dict[str, str | int | float | None]] = []
    for pattern in summary.patterns:
        cause = pattern.root_causes[0] if pattern.root_causes else None
        rows.append(
            {
                "kind": pattern.kind,
                "activity": pattern.activity,
                "cases": pattern.cases,
                "share": round(pattern.share, 4),
                "extra_median_hours": None
                if pattern.extra_throughput_median_hours is None
                else round(pattern.extra_throughput_median_hours, 1),
                "extra_cost_median": None
                if pattern.extra_cost_median is None else round(pattern.extra_cost_median, 2),
                "top_root_cause": f"{cause.attribute}={cause.value}" if cause else "",
                "root_cause_support": round(cause.support, 3) if cause else None,
            }
        )
    return rows
