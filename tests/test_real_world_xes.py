"""Real-world XES loads as pm4py reads it, each bending counted; what must stay refused is one line."""

from __future__ import annotations

import gc
import gzip
import json
import os
import re
import subprocess
import sys
import warnings
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pm4py
import pytest
import r4pm.df
from typer.testing import CliRunner

from kaizenflow.cli.main import app
from kaizenflow.sources.files import events_to_log, load_events_file
from kaizenflow.sources.mapping import SourceError
from kaizenflow.sources.safe_xml import XmlLimits
from kaizenflow.sources.xes import read_xes, read_xes_log

CORPUS = Path(__file__).resolve().parent / "data" / "real_world"
LOADS = ["pm4py_export.xes", "prom_export.xes", "keyless_attribute.xes", "unknown_types.xes",
         "event_outside_trace.xes", "trace_attributes_last.xes", "empty_elements.xes",
         "extreme_numbers.xes", "nested_attributes.xes", "namespaced.xes"]
SHARED_LOGS = ["running-example.xes", "receipt.xes.gz", "helpdesk.xes.gz", "roadtraffic100traces.xes"]
KAIZEN = [sys.executable, "-c", "from kaizenflow.cli.main import main; main()"]


Figures = tuple[int, int, int]


def figures(cases: pd.Series, activities: pd.Series, times: pd.Series) -> Figures:
    """Cases, events and variants (activity sequences in time order, ties in file order)."""
    frame = pd.DataFrame({"case": cases.astype("string").to_numpy(),
                          "activity": activities.astype("string").to_numpy(),
                          "time": pd.to_datetime(times, utc=True).to_numpy()})
    frame = frame.sort_values(["case", "time"], kind="stable")
    variants = frame.groupby("case", sort=False)["activity"].agg(tuple).nunique()
    return frame["case"].nunique(), len(frame), variants


def kaizen_figures(path: Path) -> Figures:
    log = events_to_log(read_xes(path).events)
    times = log.events["timestamp"] if log.has_timestamps else pd.Series(pd.NaT, index=log.events.index)
    return figures(log.events["case_id"], log.events["activity"], times)


def pm4py_figures(path: Path) -> Figures:
    """pm4py's figures, counting the events it reads with an activity (a case is its events)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)  # pm4py leaves the file open when it refuses
        try:
            frame = pm4py.read_xes(str(path), variant="iterparse", show_progress_bar=False)
        finally:
            gc.collect()
    frame = frame[frame["concept:name"].notna()]
    times = frame["time:timestamp"] if "time:timestamp" in frame else pd.Series(pd.NaT, index=frame.index)
    return figures(frame["case:concept:name"], frame["concept:name"], times)


def warnings_of(name: str) -> dict[str, Any]:
    return {w.code: w for w in read_xes(CORPUS / name).warnings}


def refusal(path: Path, **options: Any) -> str:
    with pytest.raises(SourceError) as caught:
        read_xes(path, **options)
    message = str(caught.value)
    assert str(path) in message and "\n" not in message
    return message


# --- the corpus loads, with pm4py's figures -------------------------------------------------


@pytest.mark.parametrize("name", LOADS)
def test_a_real_world_file_has_the_figures_pm4py_reads(name: str) -> None:
    path = CORPUS / name
    try:
        expected = pm4py_figures(path)
    except Exception as error:  # pm4py refuses some of what ProM reads: then only ours is checked
        pytest.skip(f"pm4py does not read {name}: {error}")
    assert kaizen_figures(path) == expected


def test_pm4py_exports_without_extensions_load_with_one_warning_per_undeclared_prefix() -> None:
    read = read_xes(CORPUS / "pm4py_export.xes")
    assert (len(read.events), read.events["case_id"].nunique()) == (7, 3)
    assert [(w.code, w.count) for w in read.warnings] == [("undeclared-prefix", 4)]


def test_a_plain_prom_export_loads_with_the_rust_reader_and_no_warning() -> None:
    read = read_xes(CORPUS / "prom_export.xes")
    assert (read.reader, read.warnings) == ("r4pm", ())


def test_an_attribute_without_a_key_is_skipped_and_counted_with_its_line() -> None:
    warning = warnings_of("keyless_attribute.xes")["attribute-without-key"]
    assert (warning.count, warning.first_line) == (1, 16)
    assert "<float>" in warning.message


def test_unknown_attribute_types_are_skipped_and_counted() -> None:
    warning = warnings_of("unknown_types.xes")["unknown-element"]
    assert warning.count == 2 and "<decimal>" in warning.message


def test_an_event_outside_any_trace_is_skipped_and_counted() -> None:
    read = read_xes(CORPUS / "event_outside_trace.xes")
    assert "stray" not in set(read.events["activity"])
    assert {w.code: w.count for w in read.warnings} == {"misplaced-event": 1}


def test_trace_attributes_after_the_events_still_name_the_case() -> None:
    read = read_xes(CORPUS / "trace_attributes_last.xes")
    assert read.events["case_id"].tolist() == ["c1", "c1", "c2"]
    assert {w.code for w in read.warnings} == {"trace-attribute-after-events"}


def test_empty_traces_and_events_are_skipped_and_counted() -> None:
    read = read_xes(CORPUS / "empty_elements.xes")
    assert read.events["activity"].tolist() == ["register", "approve"]
    assert {w.code: w.count for w in read.warnings} == {"trace-without-events": 2, "empty-event": 1}


def test_an_int_beyond_64_bits_is_kept_exactly_and_nan_is_not_dropped() -> None:
    read = read_xes(CORPUS / "extreme_numbers.xes")
    first = json.loads(read.events["attributes"].iloc[0])
    assert first["reference"] == "99999999999999999999999999999"
    assert first["score"] == "NaN"
    assert {w.code for w in read.warnings} == {"non-finite-number"}


def test_lists_and_containers_keep_their_values_as_json() -> None:
    first = json.loads(read_xes(CORPUS / "nested_attributes.xes").events["attributes"].iloc[0])
    assert json.loads(first["approvers"]) == ["kim", "lee"]
    assert json.loads(first["address"]) == [{"city": "Ghent"}, {"geo": [{"lat": 51.05}]}]


def test_the_python_reader_and_the_rust_reader_give_the_same_batch(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    path = CORPUS / "prom_export.xes"
    fast = read_xes(path)
    monkeypatch.setattr(r4pm.df, "import_xes", lambda *a, **k: (_ for _ in ()).throw(RuntimeError("off")))
    slow = read_xes(path)
    assert (fast.reader, slow.reader) == ("r4pm", "python")
    pd.testing.assert_frame_equal(fast.events, slow.events)


def test_what_the_rust_reader_reports_on_stderr_sends_the_file_to_the_python_reader(
    monkeypatch: pytest.MonkeyPatch
) -> None:
    real = r4pm.df.import_xes

    def grumbling(path: str, *args: Any, **kwargs: Any) -> Any:
        os.write(2, b"Could not parse integer\n")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(r4pm.df, "import_xes", grumbling)
    assert read_xes(CORPUS / "prom_export.xes").reader == "python"


# --- strict mode keeps the refusals ---------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), [
    ("pm4py_export.xes", r"line 1, field \S+: the prefix '\w+' is not declared by an <extension>"),
    ("keyless_attribute.xes", r"line 16, <float> attribute without a key \(refused in strict mode"),
    ("unknown_types.xes", r"line 16, element <decimal> is not part of XES"),
    ("event_outside_trace.xes", r"line 10, an <event> outside any trace"),
    ("empty_elements.xes", r"line 10, a <trace> without events"),
])
def test_strict_mode_refuses_the_first_bending_in_one_line(name: str, expected: str) -> None:
    assert re.search(expected, refusal(CORPUS / name, strict=True))


def test_the_warnings_travel_with_the_loaded_file() -> None:
    loaded = load_events_file(CORPUS / "keyless_attribute.xes")
    assert len(loaded.events) == 5
    assert [w.code for w in loaded.warnings] == ["attribute-without-key"]


# --- refused in one line --------------------------------------------------------------------


def test_an_impossible_date_is_an_invalid_timestamp_not_a_missing_one() -> None:
    message = refusal(CORPUS / "impossible_date.xes")
    expected = "line 19, field time:timestamp: '2024-13-45T10:00:00.000+01:00' is not a valid timestamp"
    assert expected in message
    assert "no time" not in message


def test_a_utc_offset_beyond_fourteen_hours_is_refused() -> None:
    assert "the UTC offset +14:59 is beyond +-14:00" in refusal(CORPUS / "offset_beyond_14h.xes")


def deep_containers(path: Path, depth: int) -> Path:
    path.write_text('<?xml version="1.0"?><log><trace><string key="concept:name" value="c"/><event>'
                    '<string key="concept:name" value="a"/>' + '<container key="c">' * depth
                    + "</container>" * depth + "</event></trace></log>")
    return path


def test_4000_nested_containers_are_refused_in_one_line_without_crashing(tmp_path: Path) -> None:
    """r4pm dies with a segfault (exit 139) on this file: it must never see it. Run as a user would."""
    path = deep_containers(tmp_path / "deep.xes", 4000)
    done = subprocess.run([*KAIZEN, "inspect", str(path)], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0
    assert "nested 65 levels deep, beyond the limit of 64" in done.stderr


def test_nesting_within_the_limit_loads(tmp_path: Path) -> None:
    assert len(read_xes(deep_containers(tmp_path / "ok.xes", 50)).events) == 1


def gzip_stream(path: Path, head: bytes, body: bytes, repeat: int, tail: bytes) -> Path:
    packer = zlib.compressobj(9, zlib.DEFLATED, 31)
    with path.open("wb") as out:
        out.write(packer.compress(head))
        for _ in range(repeat):
            out.write(packer.compress(body))
        out.write(packer.compress(tail) + packer.flush())
    return path


def test_a_small_gzip_inflating_to_one_huge_comment_is_refused_as_a_bomb(tmp_path: Path) -> None:
    path = gzip_stream(tmp_path / "comment.xes.gz", b"<log><!--", b"x" * (1 << 20), 80, b"--></log>")
    assert path.stat().st_size < 200_000
    assert "more than 1000x (a compression bomb" in refusal(path)


def test_a_gzip_holding_one_huge_attribute_value_is_refused(tmp_path: Path) -> None:
    path = gzip_stream(tmp_path / "value.xes.gz", b'<log><trace><string key="concept:name" value="',
                       b"y" * (1 << 20), 32, b'"/></trace></log>')
    assert "longer than 10,000,000 bytes" in refusal(path)


def test_gzip_inflating_beyond_the_ratio_limit_is_refused(tmp_path: Path) -> None:
    path = gzip_stream(tmp_path / "bomb.xes.gz", b"<log>", b" " * (1 << 20), 8, b"</log>")
    limits = XmlLimits(max_inflation_ratio=50, ratio_checked_after=1 << 20)
    assert "a compression bomb" in refusal(path, limits=limits)


def test_gzip_inflating_beyond_the_size_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.xes.gz"
    path.write_bytes(gzip.compress(b"<log>" + b" " * (4 << 20) + b"</log>"))
    assert "inflates past 1,048,576 bytes" in refusal(path, limits=XmlLimits(max_inflated_bytes=1 << 20))


# --- the shared logs, as pm4py writes them ---------------------------------------------------


@pytest.fixture(scope="session")
def pm4py_written(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, Path]]:
    """Each shared log read by pm4py and written back with pm4py.write_xes (no extensions declared)."""
    folder = tmp_path_factory.mktemp("pm4py_written")
    written = {}
    for name in SHARED_LOGS:
        frame = pm4py.read_xes(str(shared_data / "logs" / name), variant="iterparse", show_progress_bar=False)
        target = folder / name.replace(".gz", "")
        for column in frame.select_dtypes(include=["datetimetz"]).columns:
            frame[column] = frame[column].astype("datetime64[ns, UTC]")  # what write_xes recognises
        pm4py.write_xes(frame, str(target), case_id_key="case:concept:name")
        written[name] = target
    yield written


@pytest.mark.parametrize("name", SHARED_LOGS)
def test_a_shared_log_written_by_pm4py_loads_with_pm4py_figures(
    name: str, pm4py_written: dict[str, Path]
) -> None:
    path = pm4py_written[name]
    read = read_xes(path)
    assert kaizen_figures(path) == pm4py_figures(path)
    assert [w.code for w in read.warnings] == ["undeclared-prefix"]


# --- what the commands show -----------------------------------------------------------------

runner = CliRunner()


def test_inspect_lists_each_read_warning_with_its_count() -> None:
    result = runner.invoke(app, ["inspect", str(CORPUS / "empty_elements.xes")])
    assert result.exit_code == 0, result.output
    assert "read warning (trace-without-events): a <trace> without events: skipped" in result.stdout
    assert "(2x, first at line 10)" in result.stdout


def test_inspect_json_carries_the_read_warnings() -> None:
    result = runner.invoke(app, ["inspect", str(CORPUS / "keyless_attribute.xes"), "--json"])
    assert result.exit_code == 0, result.output
    [warning] = json.loads(result.stdout)["read_warnings"]
    assert (warning["code"], warning["count"], warning["first_line"]) == ("attribute-without-key", 1, 16)


def test_inspect_strict_refuses_in_one_line() -> None:
    result = runner.invoke(app, ["inspect", str(CORPUS / "event_outside_trace.xes"), "--strict"])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "line 10, an <event> outside any trace (refused in strict mode" in result.stderr


def test_check_of_a_pm4py_export_reports_the_undeclared_prefixes(
    shared_data: Path, pm4py_written: dict[str, Path]
) -> None:
    model = shared_data / "models" / "running-example.pnml"
    result = runner.invoke(app, ["check", "--log", str(pm4py_written["running-example.xes"]),
                                 "--model", str(model), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    assert (figures["cases"], figures["events"]) == (6, 42)
    assert [w["code"] for w in figures["read_warnings"]] == ["undeclared-prefix"]
    strict = runner.invoke(app, ["check", "--log", str(pm4py_written["running-example.xes"]),
                                 "--model", str(model), "--strict"])
    assert strict.exit_code == 1 and "is not declared by an <extension> element" in strict.stderr


# --- the one-off commands' log equals the store's ---------------------------------------------


def assert_same_log(path: Path) -> None:
    log, _ = read_xes_log(path)
    expected = events_to_log(read_xes(path).events)
    pd.testing.assert_frame_equal(log.events, expected.events)
    pd.testing.assert_frame_equal(log.case_attributes, expected.case_attributes)
    assert log.has_timestamps == expected.has_timestamps


@pytest.mark.parametrize("name", LOADS)
def test_the_log_read_for_inspect_equals_the_log_of_the_batch(name: str) -> None:
    assert_same_log(CORPUS / name)


@pytest.mark.parametrize("name", ["receipt.xes.gz", "reviewing.xes", "a22f0n05.xes.gz"])
def test_the_log_read_for_inspect_equals_the_log_of_the_batch_on_shared_logs(
    shared_data: Path, name: str
) -> None:
    assert_same_log(shared_data / "logs" / name)


def test_the_log_read_for_inspect_keeps_case_dates_and_drops_blank_values(tmp_path: Path) -> None:
    path = tmp_path / "dates.xes"
    path.write_text(
        '<log><trace><string key="concept:name" value="c1"/>'
        '<date key="REG_DATE" value="2024-01-05T09:00:00.5Z"/>'
        '<event><string key="concept:name" value="a"/><string key="note" value=" "/>'
        '<date key="time:timestamp" value="2024-01-05T10:00:00+01:00"/></event>'
        '<event><string key="concept:name" value="b"/><string key="note" value="x"/>'
        '<date key="time:timestamp" value="2024-01-05T11:00:00+01:00"/></event></trace>'
        '<trace><string key="concept:name" value="c2"/>'
        '<event><string key="concept:name" value="a"/>'
        '<date key="time:timestamp" value="2024-01-06T10:00:00Z"/>'
        "</event></trace></log>")
    assert_same_log(path)
    log, _ = read_xes_log(path)
    assert log.case_attributes.loc["c1", "case:REG_DATE"] == "2024-01-05T09:00:00.500000+00:00"
    assert log.case_attributes.loc["c1", "note"] == "x"
