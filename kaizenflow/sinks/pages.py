"""Where the web app shows a task and a run's report: the one place their URLs are built for links
sent outside the app (the sinks' notifications and tickets, the flow's Prefect artifacts).

The paths follow the web app's routes (``kaizenflow/web/app.py``: ``/tasks/{id}``,
``/reports/{process slug}/{file}``) and the report archive's names (``core.names``); the web
app's tests request every path built here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote

from kaizenflow.core.names import process_slug, run_file_stem


def task_path(task_id: int) -> str:
    return f"/tasks/{int(task_id)}"


def report_path(process: str, file_name: str) -> str:
    """A report file of a process's folder, as the web app serves it."""
    return f"/reports/{quote(process_slug(process), safe='')}/{quote(file_name, safe='')}"


def run_report_path(process: str, run_id: str) -> str:
    """The HTML report of one run (the archive writes it as ``{run file stem}.html``)."""
    return report_path(process, f"{run_file_stem(run_id)}.html")


@dataclass(frozen=True)
class WebPages:
    """Absolute links into the web app reached at ``base_url`` (``web.base_url`` of the config)."""

    base_url: str

    def url(self, path: str) -> str:
        return self.base_url.rstrip("/") + path

    def task(self, task_id: int) -> str:
        return self.url(task_path(task_id))

    def report(self, process: str, file_name: str) -> str:
        return self.url(report_path(process, file_name))

    def run_report(self, process: str, run_id: str) -> str:
        return self.url(run_report_path(process, run_id))

    def of_task(self, task: Mapping[str, object]) -> dict[str, str]:
        """A task's links as sinks send them: its page, and the report of the run that last saw
        its pattern (the evidence behind the latest figures) when the task names one."""
        links: dict[str, str] = {}
        task_id = task.get("task_id")
        if isinstance(task_id, int):
            links["task"] = self.task(task_id)
        process, run_id = task.get("process"), task.get("last_seen_run")
        if isinstance(process, str) and isinstance(run_id, str) and run_id:
            links["run"] = self.run_report(process, run_id)
        return links


def web_pages(base_url: str | None) -> WebPages | None:
    """The web app's pages when ``web.base_url`` is configured; without it, no links are sent."""
    return WebPages(base_url) if base_url else None
