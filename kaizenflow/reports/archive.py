"""The report folder on disk: atomic writes, safe file names, JSON sidecars and the index rows."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from urllib.parse import quote

# The archive's folder and file names, made in core.names so the web app's URLs can follow them.
from kaizenflow.core.names import process_slug as process_slug
from kaizenflow.core.names import run_file_stem as run_file_stem
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports.formatting import as_utc

#: 2 added each run's pattern sizes and task KPIs, for the trend lines; schema 1 sidecars still list.
SIDECAR_SCHEMA = 2
#: Task states that still ask something of the owner (the index counts them as open tasks).
OPEN_STATES = frozenset({"open", "acknowledged", "in_progress", "not_effective"})
INDEX_NAME = "index.html"


def output_problem(path: Path) -> str | None:
    """Why a file cannot be written at ``path`` (its folder is missing, it is a folder), or None."""
    if path.is_dir():
        return f"{path} is a folder: give a file name"
    if not path.parent.is_dir():
        return f"{path}: the folder {path.parent} does not exist"
    if not os.access(path.parent, os.W_OK | os.X_OK):
        return f"{path}: the folder {path.parent} is not writable"
    return None


def write_atomically(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 so that readers see the old file or the new one, never half of one."""
    write_bytes_atomically(path, text.encode("utf-8"))


def write_bytes_atomically(path: Path, data: bytes) -> None:
    """Write ``data`` so that readers see the old file or the new one, never half of one.

    The temporary file lives in the same folder, so ``os.replace`` is a rename on one file
    system (atomic on POSIX and Windows); it is removed again if anything fails. Bytes are
    written as they are: no newline translation, so a CSV's line ends stay what the writer chose.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(
        "wb",
        dir=path.parent,
        prefix=f".{path.name}.",
        suffix=".tmp",
        delete=False,
    )
    temporary = Path(handle.name)
    try:
        with handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp creates files readable by the owner only; reports are meant to be shared.
        os.chmod(temporary, 0o644)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        raise


def sidecar_record(summary: RunSummary, report: Path, directory: Path) -> dict[str, object]:
    """The headline of a run as stored next to its report, enough to list it in the index.

    It also keeps each pattern's size and each task's KPI of the run, so that later reports
    draw their trend lines from the folder alone, whatever the state database has kept.
    """
    return {
        "schema": SIDECAR_SCHEMA,
        "process": summary.process,
        "run_id": summary.run_id,
        "finished_at": as_utc(summary.finished_at).isoformat(),
        "cases": summary.cases,
        "conforming_cases": summary.conforming_cases,
        "conforming_share": summary.conforming_share,
        "fitness": summary.fitness,
        "report": report.relative_to(directory).as_posix(),
        "patterns": {p.key: p.cases for p in summary.patterns},
        "tasks": [
            {
                "task_id": c.task.task_id,
                "title": c.task.title,
                "status": c.task.status,
                "kpi": c.task.current_value,
                "baseline": c.task.baseline_value,
                "target": c.task.target_value,
                "changed_at": None if c.task.changed_at is None else as_utc(c.task.changed_at).isoformat(),
            }
            for c in summary.task_changes
        ],
    }


@dataclass(frozen=True)
class TaskFigure:
    """A task as one run saw it: its state and its KPI that night."""

    task_id: int
    title: str
    status: str
    kpi: float
    baseline: float
    target: float
    changed_at: datetime | None

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATES


@dataclass(frozen=True)
class IndexEntry:
    """One run as the index lists it, read back from its sidecar."""

    process: str
    run_id: str
    finished_at: datetime
    cases: int
    conforming_share: float
    fitness: float | None
    href: str | None
    patterns: dict[str, int] = field(default_factory=dict)
    tasks: tuple[TaskFigure, ...] = ()


def _entry(sidecar: Path, directory: Path) -> IndexEntry | None:
    """The sidecar's entry, or None for a file that is not a readable sidecar of ours.

    The link is derived from where the sidecar lies, not from its "report" field, so a
    tampered or stale sidecar cannot point the index anywhere outside the folder.
    """
    try:
        record = json.loads(sidecar.read_text(encoding="utf-8"))
        fitness = record["fitness"]
        entry = IndexEntry(
            process=str(record["process"]),
            run_id=str(record["run_id"]),
            finished_at=as_utc(datetime.fromisoformat(str(record["finished_at"]))),
            cases=int(record["cases"]),
            conforming_share=float(record["conforming_share"]),
            fitness=None if fitness is None else float(fitness),
            href=None,
            patterns={str(k): int(v) for k, v in dict(record.get("patterns") or {}).items()},
            tasks=tuple(_task_figure(t) for t in record.get("tasks") or ()),
        )
    except (OSError, ValueError, TypeError, KeyError, AttributeError):
        return None
    report = sidecar.with_suffix(".html")
    if report.is_file():
        relative = report.relative_to(directory).as_posix()
        entry = replace(entry, href=quote(relative))
    return entry


def _task_figure(record: dict[str, object]) -> TaskFigure:
    changed = record.get("changed_at")
    return TaskFigure(
        task_id=int(record["task_id"]),  # type: ignore[call-overload]
        title=str(record["title"]),
        status=str(record["status"]),
        kpi=float(record["kpi"]),  # type: ignore[arg-type]
        baseline=float(record["baseline"]),  # type: ignore[arg-type]
        target=float(record["target"]),  # type: ignore[arg-type]
        changed_at=None if changed is None else as_utc(datetime.fromisoformat(str(changed))),
    )


def earlier_runs(directory: Path, process: str, run_id: str) -> list[IndexEntry]:
    """The runs of ``process`` in the folder before ``run_id``, oldest first, for trend lines."""
    runs = [e for e in index_entries(directory) if e.process == process and e.run_id != run_id]
    return sorted(runs, key=lambda e: (e.finished_at, e.run_id))


def index_entries(directory: Path) -> list[IndexEntry]:
    """All runs with a sidecar under ``directory`` (one folder per process), newest first."""
    entries = [e for path in directory.glob("*/*.json") if (e := _entry(path, directory))]
    return sorted(entries, key=lambda e: (e.finished_at, e.run_id, e.process), reverse=True)
