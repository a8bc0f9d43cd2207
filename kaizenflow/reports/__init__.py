"""Self-contained HTML run reports: the page a process owner opens from a mail or a share."""

from kaizenflow.reports.html import render_run_report, write_run_report
from kaizenflow.reports.process_map import process_map_svg

__all__ = ["process_map_svg", "render_run_report", "write_run_report"]
