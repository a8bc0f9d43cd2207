"""Event files (CSV, Parquet, XES, OCEL 2.0) as canonical batches: a reader a format, and one dispatcher.

Every reader returns the frame ``core.events.BATCH_COLUMNS`` describes, with ids that are
deterministic (the same file gives the same ids) and unique within the file, and raises
``SourceError`` naming the file, the line or row, and the field. No reader drops events: a row
that cannot become an event is an error, so the counts of a batch are the counts of the file.
``process`` (default "") enters every event id as it does for SQL sources: pass the process
name when the batch is meant for the event store. ``events_to_log`` turns a batch into the
ordered EventLog for commands that run without a store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from kaizenflow.core.events import EventLog
from kaizenflow.sources.batch import events_to_log
from kaizenflow.sources.bending import ReadWarning
from kaizenflow.sources.delimited import read_csv_events
from kaizenflow.sources.mapping import EventMapping, SourceError
from kaizenflow.sources.ocel import OCEL_SUFFIXES, ocel_object_types, read_ocel_events
from kaizenflow.sources.tabular import Layout, check_columns, recognise, to_batch
from kaizenflow.sources.xes import read_xes, read_xes_events, read_xes_log

__all__ = [
    "LoadedEvents",
    "ReadWarning",
    "events_to_log",
    "load_events_file",
    "load_log_file",
    "ocel_object_types",
    "read_csv_events",
    "read_events_file",
    "read_ocel_events",
    "read_parquet_events",
    "read_xes_events",
]

_CSV_SUFFIXES = (".csv", ".tsv")
_PARQUET_SUFFIXES = (".parquet", ".pq")
_XES_SUFFIXES = (".xes", ".xes.gz")


def read_parquet_events(
    path: str | Path,
    mapping: EventMapping | None = None,
    *,
    process: str = "",
    timestamp_format: str | None = None,
    timezone: str = "UTC",
    source: str | None = None,
) -> pd.DataFrame:
    """Canonical events of a Parquet file, reading only the columns the mapping needs.

    Without a mapping, columns are recognised as for CSV (and all other columns are attributes,
    so all are read). Timestamp columns may be Parquet timestamps (naive ones are read in the
    mapping's zone) or text, detected as for CSV. Errors name the row (1 = first data row).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    where = str(path)
    try:
        names = list(pq.read_schema(path).names)
    except (OSError, pa.ArrowException) as error:
        raise SourceError(f"{where}: not a readable Parquet file ({error})") from None
    layout = (recognise(names, where, source or path.name, timezone, "schema")
              if mapping is None else Layout(mapping))
    check_columns(layout, names, where, "schema")
    wanted = [*layout.mapping.required_columns(), *([layout.start] if layout.start else [])]
    try:
        table = pq.read_table(path, columns=list(dict.fromkeys(wanted))).to_pandas()
    except (OSError, pa.ArrowException) as error:
        raise SourceError(f"{where}: cannot read its columns ({error})") from None
    if table.empty:
        raise SourceError(f"{where}: no events: the file has no rows")
    return to_batch(table, layout, process, where, lambda i: f"row {i + 1}", timestamp_format)


@dataclass(frozen=True)
class LoadedEvents:
    """A file's canonical batch and what a lenient reader bent to load it (empty when nothing)."""

    events: pd.DataFrame
    warnings: tuple[ReadWarning, ...] = ()


def load_events_file(
    path: str | Path, mapping: EventMapping | None = None, *, strict: bool = False, **options: Any
) -> LoadedEvents:
    """``read_events_file`` with the read's warnings, for output and run manifests to carry.

    ``strict`` refuses what a lenient read would bend (XES: undeclared prefixes, attributes
    without a key, misplaced elements, ...) with the first one's file, line and reason.
    """
    path = Path(path)
    if path.name.lower().endswith(_XES_SUFFIXES) and mapping is None:
        read = read_xes(path, strict=strict, **options)
        return LoadedEvents(read.events, read.warnings)
    return LoadedEvents(read_events_file(path, mapping, **options))


def load_log_file(
    path: str | Path, *, strict: bool = False, **options: Any
) -> tuple[EventLog, tuple[ReadWarning, ...]]:
    """The EventLog of a file for one-off commands (no store), with the read's warnings.

    Equal to ``events_to_log(load_events_file(...).events)``; XES logs skip the event ids and
    attribute JSON that only the event store needs.
    """
    path = Path(path)
    if path.name.lower().endswith(_XES_SUFFIXES):
        options.pop("source", None)
        return read_xes_log(path, strict=strict, **options)
    loaded = load_events_file(path, None, strict=strict, **options)
    return events_to_log(loaded.events), loaded.warnings


def read_events_file(path: str | Path, mapping: EventMapping | None = None, **options: Any) -> pd.DataFrame:
    """Canonical events of any supported file, chosen by its name; ``options`` go to that reader.

    .csv/.tsv, .parquet/.pq, .xes/.xes.gz, and OCEL 2.0 as .jsonocel/.json, .xmlocel/.xml,
    .sqlite/.sqlite3/.db (``object_type`` required: without it the error lists the types).
    A mapping applies to the tabular formats only; XES and OCEL name their own columns.
    XES warnings (what was bent to read the file) are logged; ``load_events_file`` returns them.
    """
    path = Path(path)
    name = path.name.lower()
    if name.endswith(_CSV_SUFFIXES):
        return read_csv_events(path, mapping, **options)
    if name.endswith(_PARQUET_SUFFIXES):
        return read_parquet_events(path, mapping, **options)
    if mapping is not None and name.endswith((*_XES_SUFFIXES, *OCEL_SUFFIXES)):
        raise SourceError(f"{path}: a column mapping applies to CSV and Parquet files, not to "
                          f"{'XES' if name.endswith(_XES_SUFFIXES) else 'OCEL'} logs")
    if name.endswith(_XES_SUFFIXES):
        return read_xes_events(path, **options)
    if name.endswith(OCEL_SUFFIXES):
        if "object_type" not in options:
            types = ocel_object_types(path)
            raise SourceError(f"{path}: an OCEL log is read on one object type; give object_type "
                              f"(one of {', '.join(map(repr, types))})")
        return read_ocel_events(path, **options)
    known = (*_CSV_SUFFIXES, *_PARQUET_SUFFIXES, *_XES_SUFFIXES, *OCEL_SUFFIXES)
    raise SourceError(f"{path}: unknown kind of event file (known: {', '.join(known)})")
