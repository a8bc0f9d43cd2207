"""Tests of the CSV, Parquet and JSON exports written beside a run report."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from report_fixtures import make_summary

from kaizenflow.conformance.types import Deviation
from kaizenflow.reports.exports import (
    DEVIATIONS_SCHEMA,
    PATTERNS_SCHEMA,
    spreadsheet_safe,
    summary_record,
    write_exports,
)

DEVIATIONS = [
    Deviation("PO-1", "skipped", "Approve PO"),
    Deviation("PO-2", "sla_breach", "Pay on time", "paid 12 days late"),
]
FILES = ["deviations.csv", "deviations.parquet", "patterns.csv", "patterns.parquet", "summary.json"]


def export(tmp_path: Path, deviations: list[Deviation] = DEVIATIONS) -> dict[str, Path]:
    summary = make_summary()
    return write_exports(tmp_path, summary.run_id, deviations, summary.patterns, summary_record(summary))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def test_exports_lie_in_a_folder_per_process_and_run(tmp_path: Path) -> None:
    written = export(tmp_path)
    folder = tmp_path / "purchase-to-pay" / "2024-05-02T02-00-00Z"
    assert written == {name: folder / name for name in FILES}
    assert sorted(p.name for p in folder.iterdir()) == sorted(FILES)


def test_deviation_files_have_the_stable_columns_and_rows(tmp_path: Path) -> None:
    written = export(tmp_path)
    rows = read_csv(written["deviations.csv"])
    assert list(rows[0]) == ["case_id", "kind", "activity", "detail", "pattern"]
    assert rows[1] == {"case_id": "PO-2", "kind": "sla_breach", "activity": "Pay on time",
                       "detail": "paid 12 days late", "pattern": "sla_breach:Pay on time"}
    table = pq.read_table(written["deviations.parquet"])
    assert table.schema.equals(DEVIATIONS_SCHEMA) and table.column("case_id").to_pylist() == ["PO-1", "PO-2"]


def test_pattern_files_carry_figures_and_the_top_root_cause(tmp_path: Path) -> None:
    written = export(tmp_path)
    (row,) = pq.read_table(written["patterns.parquet"]).to_pylist()
    assert row["kind"] == "skipped" and row["activity"] == "Approve PO" and row["cases"] == 20
    assert row["share"] == 0.04 and row["extra_median_hours"] == 36.0 and row["extra_p90_hours"] == 72.0
    assert row["top_root_cause"] == "supplier = S-017" and row["top_root_cause_lift"] == 6.1
    assert row["example_case_ids"] == "PO-100231; PO-100877"
    (csv_row,) = read_csv(written["patterns.csv"])
    assert list(csv_row) == PATTERNS_SCHEMA.names and csv_row["top_root_cause_support"] == "0.82"


def test_an_empty_run_still_has_typed_columns(tmp_path: Path) -> None:
    written = write_exports(tmp_path, "r1", [], [], {"process": "P2P"})
    assert pq.read_table(written["deviations.parquet"]).schema.equals(DEVIATIONS_SCHEMA)
    assert pq.read_table(written["patterns.parquet"]).schema.equals(PATTERNS_SCHEMA)
    assert written["patterns.csv"].read_bytes() == (",".join(PATTERNS_SCHEMA.names) + "\r\n").encode()


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_formula_like_cells_are_quoted_for_spreadsheets(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell


def test_numbers_and_ordinary_text_are_left_alone() -> None:
    assert spreadsheet_safe(-1.5) == -1.5 and spreadsheet_safe("PO-1=2") == "PO-1=2"


def test_formula_injection_is_defused_in_the_csv_but_kept_in_parquet(tmp_path: Path) -> None:
    hostile = [Deviation("=cmd|' /C calc'!A0", "inserted", "@SUM(1+1)", "-2+3")]
    written = export(tmp_path, hostile)
    (row,) = read_csv(written["deviations.csv"])
    assert row["case_id"] == "'=cmd|' /C calc'!A0"
    assert row["activity"] == "'@SUM(1+1)" and row["detail"] == "'-2+3"
    assert pq.read_table(written["deviations.parquet"]).column("case_id").to_pylist() == [hostile[0].case_id]


def test_negative_numbers_in_the_csv_stay_numbers(tmp_path: Path) -> None:
    summary = make_summary()
    pattern = summary.patterns[0]
    slower = type(pattern)(**{**pattern.__dict__, "extra_throughput_median_hours": -3.5})
    written = write_exports(tmp_path, "r1", [], [slower], {"process": "P2P"})
    assert read_csv(written["patterns.csv"])[0]["extra_median_hours"] == "-3.5"


def test_summary_json_holds_the_headline_in_plain_json(tmp_path: Path) -> None:
    summary = json.loads(export(tmp_path)["summary.json"].read_text(encoding="utf-8"))
    assert summary["process"] == "Purchase to Pay" and summary["cases"] == 500
    assert summary["finished_at"] == "2024-05-02T02:14:00+00:00"
    assert summary["conforming_share"] == 0.824 and summary["task_changes"] == {"created": 1, "unchanged": 1}


def test_summary_json_writes_nan_as_null(tmp_path: Path) -> None:
    written = write_exports(tmp_path, "r1", [], [], {"process": "P2P", "fitness": math.nan})
    assert json.loads(written["summary.json"].read_text(encoding="utf-8"))["fitness"] is None


def test_the_process_name_is_required(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="process name"):
        write_exports(tmp_path, "r1", [], [], {})


def test_hostile_names_stay_inside_the_folder(tmp_path: Path) -> None:
    written = write_exports(tmp_path, "../../etc", [], [], {"process": "../../x"})
    assert all(path.resolve().is_relative_to(tmp_path.resolve()) for path in written.values())


def test_a_failed_write_keeps_the_previous_file_and_leaves_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = export(tmp_path)["summary.json"].read_text(encoding="utf-8")

    def broken_replace(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("kaizenflow.reports.archive.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_exports(tmp_path, make_summary().run_id, [], [], {"process": "Purchase to Pay", "cases": 1})
    folder = tmp_path / "purchase-to-pay" / "2024-05-02T02-00-00Z"
    assert (folder / "summary.json").read_text(encoding="utf-8") == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_deviations_carry_the_case_attributes_the_root_causes_name(tmp_path: Path) -> None:
    attributes = pd.DataFrame({"supplier": ["S-005", None], "plant": ["P-03", "P-06"], "kind": ["a", "b"]},
                              index=pd.Index(["PO-1", "PO-2"], name="case_id")).astype("string")
    summary = make_summary()
    written = write_exports(tmp_path, summary.run_id, DEVIATIONS, summary.patterns, summary_record(summary),
                            case_attributes=attributes)
    rows = read_csv(written["deviations.csv"])
    assert list(rows[0])[5:] == ["supplier", "plant", "case_kind"]  # never over a fixed column
    assert (rows[0]["supplier"], rows[0]["plant"], rows[1]["supplier"]) == ("S-005", "P-03", "")
    table = pq.read_table(written["deviations.parquet"])
    assert table.column("plant").to_pylist() == ["P-03", "P-06"]
    assert table.column("supplier").to_pylist() == ["S-005", None]
