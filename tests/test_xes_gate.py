"""The XES gate and its safety pass: the RE2 screen misses nothing; a pass begun early answers the reader."""

from __future__ import annotations

import shutil
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kaizenflow.sources.mapping import SourceError
from kaizenflow.sources.xes import read_xes
from kaizenflow.sources.xes_gate import _SUSPECTS, XesGate
from kaizenflow.sources.xes_scan import start

CORPUS = Path(__file__).resolve().parent / "data" / "real_world"

#: Between the parts of a construct: the whitespace, none, and bytes (Latin-1, UTF-8) where the
#: RE2 pattern and Python's could differ.
SPACE = st.sampled_from([b"", b"", b" ", b"\t", b"\n", b"\x0b", b"\x0c", b"\r", b"\xff", b"\xc3\xa9"])
TAG = st.sampled_from([b"list", b"container", b"int", b"float", b"event", b"string", b"date", b"id",
                       b"boolean", b"trace", b"lists"])
NUMBER = st.sampled_from([b"1234567890123456789", b"123456789012345678", b"1.5", b"1e308", b"1E+400",
                          b"1e-12", b"NaN", b".5", b"x", b""])


def _joined(*parts: st.SearchStrategy[bytes]) -> st.SearchStrategy[bytes]:
    return st.tuples(*parts).map(b"".join)


def _one(*choices: bytes) -> st.SearchStrategy[bytes]:
    return st.sampled_from(choices)


#: The constructs the suspect patterns look for, each with near misses: tags, typed values,
#: attributes after events, empty events and UTC offsets after a time.
CONSTRUCT = st.one_of(
    _joined(_one(b"<", b"</"), TAG, SPACE, _one(b"", b"/>", b">", b"a")),
    _joined(_one(b"<int", b"<float", b"<string"), SPACE, _one(b"", b'key="k" ', b">"), _one(b"value", b"v"),
            SPACE, _one(b"=", b""), SPACE, _one(b'"', b"'", b""), SPACE, _one(b"", b"+", b"-"), NUMBER),
    _joined(_one(b"</event>", b"</event", b"<event>"), SPACE, _one(b"<", b""), TAG, SPACE,
            _one(b"", b"/", b">")),
    _joined(_one(b"<event", b"<events"), SPACE, _one(b"/>", b">", b"/"), SPACE,
            _one(b"</event", b"</even", b"")),
    _joined(_one(b":59", b":5", b"T10:30"), _one(b"", b".5", b".", b".123"), _one(b"+", b"-", b""),
            _one(b"14", b"15", b"13", b"20", b"09", b"1"),
            _one(b"", b":", b":00", b":0", b":01", b":59", b":60"), _one(b"", b"0", b"x")),
)


@settings(max_examples=1000, derandomize=True, database=None, deadline=None)
@given(st.lists(CONSTRUCT, min_size=1, max_size=3))
def test_the_gate_finds_a_suspect_exactly_where_a_suspect_pattern_matches(constructs: list[bytes]) -> None:
    data = b"".join(constructs)
    gate = XesGate()
    gate(data + b"<")  # the chunk's last tag is kept for the next chunk: all of ``data`` is searched
    assert (gate.suspect is not None) == any(pattern.search(data) for pattern in _SUSPECTS)


def test_a_plain_chunk_of_events_passes_the_gate() -> None:
    gate = XesGate()
    gate(b'<trace><string key="concept:name" value="1"/><event><string key="concept:name" value="a"/>'
         b'<date key="time:timestamp" value="2011-10-01T00:37:00.000+14:00"/></event></trace>')
    assert (gate.suspect, gate.events, gate.traces, gate.rust_may_read) == (None, 1, 1, True)


def test_a_refusal_of_a_pass_begun_early_is_the_readers_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "doctype.xes"
    path.write_text('<?xml version="1.0"?><!DOCTYPE log [<!ENTITY x "y">]><log><trace/></log>')
    start(path)
    with pytest.raises(SourceError, match=r"doctype\.xes: refused: the XML declares a DTD"):
        read_xes(path)


def test_a_file_replaced_after_its_pass_began_gets_a_pass_of_its_own(tmp_path: Path) -> None:
    path = tmp_path / "log.xes"
    shutil.copy(CORPUS / "prom_export.xes", path)
    start(path)
    for thread in threading.enumerate():
        if thread.name == "xes-safety-pass":
            thread.join()  # the pass of the plain file has finished
    path.write_text('<?xml version="1.0"?><!DOCTYPE log><log><trace/></log>')
    with pytest.raises(SourceError, match=r"declares a DTD \(<!DOCTYPE log>\); event logs never need one"):
        read_xes(path)
