"""The bad-input corpus: every broken file is a SourceError naming file, line and field; edge files load."""

from __future__ import annotations

import http.server
import re
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

import kaizenflow.sources.xes
from kaizenflow.sources.files import read_csv_events, read_events_file, read_xes_events
from kaizenflow.sources.mapping import EventMapping, SourceError
from kaizenflow.sources.xes import read_xes

CORPUS = Path(__file__).resolve().parent / "bad_input"


def error_of(name: str, **options: Any) -> str:
    with pytest.raises(SourceError) as caught:
        read_events_file(CORPUS / name, **options)
    message = str(caught.value)
    assert str(CORPUS / name) in message  # every error names the file
    return message


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("truncated.xes.gz", r"gzip data is truncated"),
        ("corrupt.xes.gz", r"gzip data is corrupt"),
        ("empty.xes", r"the file is empty"),
        ("empty_log.xes", r"the log has no events"),
        ("malformed.xes", r"line 15, column 7: malformed XML"),
        ("wrong_attribute_type.xes", r"line 16, field time:timestamp: 'yesterday' is not an xs:dateTime"),
        ("empty.csv", r"the file is empty"),
        ("header_only.csv", r"no events: the file has a header \(line 1\) and no rows"),
        ("wrong_delimiter.csv", r"line 2: 1 field\(s\) where the header has 4; is ',' the delimiter"),
        ("mixed_dates.csv", r"line 4, field timestamp: '06/01/2024 09:00' does not match the format"),
        ("non_utf8.csv", r"line 3 \(byte offset 106\): the bytes b'\\xe9\\n' are not valid UTF-8"),
        ("embedded_newlines_bad_time.csv", r"line 5, field timestamp: 'not a time'"),
    ],
)
def test_a_broken_file_is_refused_naming_where(name: str, expected: str) -> None:
    assert re.search(expected, error_of(name))


def test_an_undeclared_prefix_is_refused_in_strict_mode_naming_line_and_field() -> None:
    message = error_of("undeclared_prefix.xes", strict=True)
    assert re.search(r"line 13, field cost:total: the prefix 'cost' is not declared", message)


def test_an_undeclared_prefix_loads_with_a_counted_warning() -> None:
    read = read_xes(CORPUS / "undeclared_prefix.xes")
    assert len(read.events) == 3
    assert [(w.code, w.count) for w in read.warnings] == [("undeclared-prefix", 1)]
    assert "cost:total" in read.warnings[0].message


def test_asking_for_a_classifier_of_a_log_without_classifiers_is_refused() -> None:
    message = error_of("missing_classifiers.xes", classifier="Activity classifier")
    assert "declares no classifiers" in message


def test_a_log_without_classifiers_still_loads_on_concept_name() -> None:
    batch = read_events_file(CORPUS / "missing_classifiers.xes")
    assert batch["activity"].tolist() == ["register", "approve", "register"]


def test_missing_mapped_columns_are_named() -> None:
    mapping = EventMapping(source="orders", case_id="order_id", timestamp="at", activity_column="step")
    with pytest.raises(SourceError, match=r"missing_mapped_columns\.csv: line 1 \(header\): mapped "
                                          r"column\(s\) 'order_id' not in the file"):
        read_csv_events(CORPUS / "missing_mapped_columns.csv", mapping)


@pytest.mark.parametrize("name", ["xxe_local_file.xes", "xxe_network.xes", "billion_laughs.xes",
                                  "xxe_local_file.xmlocel"])
def test_xml_declaring_a_dtd_is_refused(name: str) -> None:
    options = {"object_type": "Invoice"} if name.endswith(".xmlocel") else {}
    assert "refused: the XML declares a DTD" in error_of(name, **options)


def test_an_xxe_never_reads_the_referenced_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-4711")
    log = (CORPUS / "xxe_local_file.xes").read_text().replace("file:///etc/passwd", secret.as_uri())
    path = tmp_path / "xxe.xes"
    path.write_text(log)
    monkeypatch.setattr(kaizenflow.sources.xes, "_rust_frame",
                        lambda *a: pytest.fail("the Rust reader must not see it"))
    monkeypatch.setattr(kaizenflow.sources.xes, "stream_xes",
                        lambda *a: pytest.fail("the Python reader must not see it"))
    with pytest.raises(SourceError) as caught:
        read_xes_events(path)
    assert "TOP-SECRET-4711" not in str(caught.value)


def test_the_passwd_xxe_leaks_nothing_of_etc_passwd() -> None:
    message = error_of("xxe_local_file.xes")
    passwd = Path("/etc/passwd")
    lines = [line for line in passwd.read_text().splitlines() if line] if passwd.exists() else ["root:"]
    assert not any(line in message for line in lines)


@pytest.fixture
def listener() -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server recording every request path; an XXE must never call it."""
    requests: list[str] = []

    class Record(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            requests.append(self.path)
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"LEAKED")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Record)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/collect", requests
    finally:
        server.shutdown()
        server.server_close()


def test_a_network_xxe_makes_no_request(tmp_path: Path, listener: tuple[str, list[str]]) -> None:
    url, requests = listener
    path = tmp_path / "xxe.xes"
    path.write_text((CORPUS / "xxe_network.xes").read_text().replace(
        "http://attacker.example/collect?log=1", url))
    with pytest.raises(SourceError) as caught:
        read_xes_events(path)
    assert requests == []
    assert "LEAKED" not in str(caught.value)


@pytest.mark.parametrize(("stamp", "expected"), [
    ("2024-01-05T09:00:00+14:59", r"line 3, field timestamp: '2024-01-05T09:00:00\+14:59' has a UTC offset"),
    ("2024-01-05T09:00:00-03:75", r"line 3, field timestamp: '2024-01-05T09:00:00-03:75' has a UTC offset"),
    ("2024-13-45T09:00:00+01:00", r"line 3, field timestamp: '2024-13-45T09:00:00\+01:00' is not a valid"),
])
def test_a_csv_timestamp_no_calendar_or_zone_has_is_refused(
    tmp_path: Path, stamp: str, expected: str
) -> None:
    path = tmp_path / "times.csv"
    path.write_text(f"case_id,activity,timestamp\nc1,a,2024-01-05T08:00:00+01:00\nc1,b,{stamp}\n")
    with pytest.raises(SourceError, match=expected):
        read_events_file(path)


def test_embedded_newlines_in_quoted_fields_load() -> None:
    batch = read_events_file(CORPUS / "embedded_newlines.csv")
    assert len(batch) == 3
    assert batch["attributes"].iloc[0] == '{"comment": "first line\\nsecond line"}'


def test_a_bom_is_not_part_of_the_first_column_name() -> None:
    batch = read_events_file(CORPUS / "bom.csv")
    assert batch["case_id"].tolist() == ["c1", "c1"]
    assert batch["resource"].tolist() == ["Zoë", "Björn"]


def test_non_utf8_text_loads_with_its_encoding() -> None:
    batch = read_events_file(CORPUS / "non_utf8.csv", encoding="cp1252")
    assert batch["resource"].tolist() == ["ann", "René"]


@pytest.mark.parametrize("name", ["long_activity.csv", "long_activity.xes"])
def test_activity_names_of_ten_thousand_characters_load(name: str) -> None:
    batch = read_events_file(CORPUS / name)
    assert batch["activity"].str.len().max() == 10_000
    assert batch["activity"].nunique() == 2


def test_a_single_case_of_100000_events_loads_in_seconds(tmp_path: Path) -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    rows = (f"c1,step {i % 7},{(start + timedelta(seconds=i)).isoformat()},r{i % 5}" for i in range(100_000))
    path = tmp_path / "one_case.csv"
    path.write_text("case_id,activity,timestamp,resource\n" + "\n".join(rows) + "\n")
    began = time.perf_counter()
    batch = read_events_file(path)
    elapsed = time.perf_counter() - began
    assert (len(batch), batch["case_id"].nunique(), batch["event_id"].nunique()) == (100_000, 1, 100_000)
    assert elapsed < 15, f"took {elapsed:.1f} s"
