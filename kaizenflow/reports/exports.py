"""Machine-readable exports beside a report: deviations and patterns as CSV and Parquet, a summary JSON."""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from kaizenflow.conformance.types import Deviation, DeviationPattern
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports import archive
from kaizenflow.reports.formatting import as_utc

EXPORT_SCHEMA = 1

# Process owners take the deviations into a spreadsheet and analysts into pandas or a BI tool;
# both want the same columns every night. Column names are therefore fixed here, and the
# Parquet files carry an explicit schema so that an empty run still has typed columns.

DEVIATIONS_SCHEMA = pa.schema(
    [
        ("case_id", pa.string()),
        ("kind", pa.string()),
        ("activity", pa.string()),
        ("detail", pa.string()),
        ("pattern", pa.string()),  # kind:activity, as `kaizen tasks accept --pattern` takes it
    ]
)

PATTERNS_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("activity", pa.string()),
        ("cases", pa.int64()),
        ("share", pa.float64()),
        ("extra_median_hours", pa.float64()),
        ("extra_p90_hours", pa.float64()),
        ("top_root_cause", pa.string()),
        ("top_root_cause_attribute", pa.string()),
        ("top_root_cause_value", pa.string()),
        ("top_root_cause_support", pa.float64()),
        ("top_root_cause_lift", pa.float64()),
        ("example_case_ids", pa.string()),
    ]
)

#: How example case ids are joined in one cell (the same in CSV and Parquet).
EXAMPLE_SEPARATOR = "; "

#: A cell starting with one of these is run as a formula by Excel, LibreOffice and Google Sheets
#: (tab and carriage return as well, per OWASP's guidance on CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

Row = dict[str, object]


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: formula-like strings get a leading quote.

    Case ids, activity names and details come from source systems and may be written by
    anyone; "=HYPERLINK(...)" in one must not become a live formula on an owner's machine.
    Numbers are left alone (a negative extra time is a number, not a formula).
    """
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def attribute_columns(case_attributes: pd.DataFrame | None) -> dict[str, str]:
    """Export column -> case attribute: each attribute under its own name, or ``case_<name>``
    where that name is a fixed column already."""
    if case_attributes is None:
        return {}
    taken = set(DEVIATIONS_SCHEMA.names)
    names = [str(name) for name in case_attributes.columns]
    return {(f"case_{name}" if name in taken else name): name for name in names}


def deviations_schema(case_attributes: pd.DataFrame | None = None) -> pa.Schema:
    """The fixed columns, then one text column per case attribute (supplier, plant...)."""
    schema = DEVIATIONS_SCHEMA
    for column in attribute_columns(case_attributes):
        schema = schema.append(pa.field(column, pa.string()))
    return schema


def deviation_rows(deviations: Iterable[Deviation], case_attributes: pd.DataFrame | None = None) -> list[Row]:
    """One row per deviation of one case, in the order the check produced them, with the case's
    attributes: the root causes name them, and a spreadsheet filter on them needs them here."""
    columns = attribute_columns(case_attributes)
    deviations = list(deviations)
    lookup: dict[str, dict[str, object]] = {}
    if case_attributes is not None and columns:
        deviating = case_attributes.index.astype(str).isin({str(d.case_id) for d in deviations})
        frame = case_attributes.loc[deviating, list(columns.values())].astype(object)
        frame = frame.where(frame.notna(), None)
        frame.index = frame.index.astype(str)
        lookup = {str(k): {str(name): value for name, value in v.items()}
                  for k, v in frame.to_dict(orient="index").items()}
    rows: list[Row] = []
    for d in deviations:
        row: Row = {"case_id": d.case_id, "kind": d.kind, "activity": d.activity,
                    "detail": d.detail, "pattern": f"{d.kind}:{d.activity}"}
        known = lookup.get(str(d.case_id), {})
        for column, attribute in columns.items():
            value = known.get(attribute)
            row[column] = None if value is None else str(value)
        rows.append(row)
    return rows


def pattern_rows(patterns: Iterable[DeviationPattern]) -> list[Row]:
    """One row per pattern, largest first, with its highest-ranked root cause flattened out."""
    rows: list[Row] = []
    for pattern in sorted(patterns, key=lambda p: (-p.cases, p.kind, p.activity)):
        top = pattern.root_causes[0] if pattern.root_causes else None
        rows.append(
            {
                "kind": pattern.kind,
                "activity": pattern.activity,
                "cases": pattern.cases,
                "share": pattern.share,
                "extra_median_hours": pattern.extra_throughput_median_hours,
                "extra_p90_hours": pattern.extra_throughput_p90_hours,
                "extra_cost_median": pattern.extra_cost_median,
                "extra_cost_p90": pattern.extra_cost_p90,
                "extra_cost_total": pattern.extra_cost_total,
                "top_root_cause": f"{top.attribute} = {top.value}" if top else None,
                "top_root_cause_attribute": top.attribute if top else None,
                "top_root_cause_value": top.value if top else None,
                "top_root_cause_support": top.support if top else None,
                "top_root_cause_lift": top.lift if top else None,
                "example_case_ids": EXAMPLE_SEPARATOR.join(pattern.example_case_ids),
            }
        )
    return rows


def csv_bytes(rows: Sequence[Row], schema: pa.Schema) -> bytes:
    """UTF-8 CSV with a header of the schema's names; None becomes an empty cell.

    No byte-order mark: it would become part of the first column's name for most readers.
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(schema.names)
    for row in rows:
        writer.writerow(["" if row[name] is None else spreadsheet_safe(row[name]) for name in schema.names])
    return buffer.getvalue().encode("utf-8")


def parquet_bytes(rows: Sequence[Row], schema: pa.Schema) -> bytes:
    """A Parquet file of the rows with exactly ``schema``; values are stored as they are."""
    table = pa.Table.from_pylist(list(rows), schema=schema)
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    return bytes(sink.getvalue().to_pybytes())


def _json_ready(value: object) -> object:
    """Plain JSON: datetimes as ISO 8601 UTC, NaN and infinities as null (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime):
        return as_utc(value).isoformat()
    if isinstance(value, Mapping):
        return {str(key): _json_ready(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_ready(item) for item in value]
    return value


def summary_record(summary: RunSummary) -> dict[str, object]:
    """The headline of a run for ``summary.json``: figures, model, configuration and timings."""
    changes = Counter(change.change for change in summary.task_changes)
    return {
        "schema": EXPORT_SCHEMA,
        "process": summary.process,
        "run_id": summary.run_id,
        "started_at": summary.started_at,
        "finished_at": summary.finished_at,
        "cases": summary.cases,
        "events": summary.events,
        "new_events": summary.new_events,
        "fitness": summary.fitness,
        "conforming_cases": summary.conforming_cases,
        "conforming_share": summary.conforming_share,
        "incomplete_cases": summary.incomplete_cases,
        "unchecked_cases": summary.unchecked_cases,
        "has_timestamps": summary.has_timestamps,
        "throughput_hours": {
            "median": summary.throughput.median_hours,
            "p90": summary.throughput.p90_hours,
            "mean": summary.throughput.mean_hours,
        },
        "patterns": len(summary.patterns),
        "variants": len(summary.variants),
        "acceptances": [
            {"id": a.acceptance_id, "pattern": a.pattern_key, "business_object": a.business_object,
             "reason": a.reason, "accepted_by": a.accepted_by, "accepted_at": a.accepted_at,
             "expires_at": a.expires_at, "cases": a.cases, "conforming_cases": a.conforming_cases}
            for a in summary.acceptances
        ],
        "acceptance_effect": None if summary.acceptance_effect is None else {
            "conforming_cases": summary.acceptance_effect.conforming_cases,
            "conforming_without_acceptances": summary.acceptance_effect.conforming_without_acceptances,
            "share_points": summary.acceptance_effect.share_points,
        },
        "task_changes": dict(sorted(changes.items())),
        "model": {"name": summary.model_name, "hash": summary.model_hash},
        "config_hash": summary.config_hash,
        "stage_seconds": dict(summary.stage_seconds),
        "software": dict(summary.software),
    }


def export_folder(directory: Path, process: str, run_id: str) -> Path:
    """``<directory>/<process-slug>/<run-id>/``, with names that cannot leave ``directory``."""
    return Path(directory) / archive.process_slug(process) / archive.run_file_stem(run_id)


def write_exports(
    directory: Path,
    run_id: str,
    deviations: list[Deviation],
    patterns: list[DeviationPattern],
    summary_json: dict[str, object],
    process: str | None = None,
    case_attributes: pd.DataFrame | None = None,
) -> dict[str, Path]:
    """Write the five export files of one run and return their paths by file name.

    The process is ``process`` or else ``summary_json["process"]`` (as :func:`summary_record`
    has it). ``case_attributes`` (indexed by case id) add a column each to the deviations.
    Each file is replaced atomically, and ``summary.json`` is written last: a reader
    that finds it can rely on the other four being complete files of the same run.
    """
    name = process if process is not None else summary_json.get("process")
    if not isinstance(name, str):
        raise ValueError("write_exports needs the process name: pass process= or a 'process' key")
    folder = export_folder(directory, name, run_id)
    deviation_table = deviation_rows(deviations, case_attributes)
    deviation_columns = deviations_schema(case_attributes)
    pattern_table = pattern_rows(patterns)
    contents = {
        "deviations.csv": csv_bytes(deviation_table, deviation_columns),
        "deviations.parquet": parquet_bytes(deviation_table, deviation_columns),
        "patterns.csv": csv_bytes(pattern_table, PATTERNS_SCHEMA),
        "patterns.parquet": parquet_bytes(pattern_table, PATTERNS_SCHEMA),
        "summary.json": (
            json.dumps(_json_ready(summary_json), indent=2, ensure_ascii=False, allow_nan=False) + "\n"
        ).encode("utf-8"),
    }
    written = {}
    for file_name, data in contents.items():
        path = folder / file_name
        archive.write_bytes_atomically(path, data)
        written[file_name] = path
    return written
