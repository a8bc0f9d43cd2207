"""Mutated XES and CSV files: every outcome is a load or a one-line error, never a crash or a hang.

Hypothesis mutates a valid file (byte flips, truncation, swapped and duplicated tags or lines,
deep nesting, gzip) and a worker process reads each mutant under a memory limit (RLIMIT_AS)
and a time limit per file: a traceback, a segfault (the worker dies), a hang or memory
exhaustion is a finding. The worker is started once, so the whole test takes seconds.
"""

from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import select
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

REPOSITORY = Path(__file__).resolve().parent.parent
CORPUS = REPOSITORY / "tests" / "data" / "real_world"
MEMORY_LIMIT = 2 << 30  # bytes of address space for the reader
SECONDS_PER_FILE = 60  # generous: the machine is shared; a hang runs forever
WORKER = f"""
import json, resource, sys, traceback
resource.setrlimit(resource.RLIMIT_AS, ({MEMORY_LIMIT}, {MEMORY_LIMIT}))
from kaizenflow.sources.files import read_events_file
from kaizenflow.sources.mapping import SourceError
for line in sys.stdin:
    try:
        answer = {{"outcome": "load", "events": len(read_events_file(line.strip()))}}
    except SourceError as error:
        answer = {{"outcome": "error", "message": str(error)}}
    except BaseException:
        answer = {{"outcome": "crash", "message": traceback.format_exc()}}
    print(json.dumps(answer), flush=True)
"""
SETTINGS = settings(max_examples=40, derandomize=True, database=None, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_TAG = re.compile(rb"<[^<>]+>")


class Worker:
    """One reader process; restarted after a finding so that later examples still run."""

    def __init__(self) -> None:
        self.stderr = tempfile.TemporaryFile()
        self.process = self._start()

    def _start(self) -> subprocess.Popen[str]:
        environment = {**os.environ, "PYTHONPATH": str(REPOSITORY), "PM4PY_SHOW_PROGRESS_BAR": "false"}
        return subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=self.stderr, text=True, env=environment)

    def read(self, path: Path) -> dict[str, object]:
        process = self.process
        assert process.stdin is not None and process.stdout is not None
        try:
            process.stdin.write(f"{path}\n")
            process.stdin.flush()
        except BrokenPipeError:
            ready, line = True, ""
        else:
            ready = bool(select.select([process.stdout], [], [], SECONDS_PER_FILE)[0])
            line = process.stdout.readline() if ready else ""
        if line:
            answer: dict[str, object] = json.loads(line)
            return answer
        finding = (f"hang: no answer within {SECONDS_PER_FILE} s" if not ready
                   else f"the reader process died (exit {process.poll()})")
        self._stop(process)
        self.process = self._start()
        return {"outcome": "crash", "message": finding}

    @staticmethod
    def _stop(process: subprocess.Popen[str]) -> None:
        process.kill()
        process.wait()
        for stream in (process.stdin, process.stdout):
            if stream is not None:
                with contextlib.suppress(BrokenPipeError):
                    stream.close()

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(timeout=30)
        if self.process.stdout is not None:
            self.process.stdout.close()
        self.stderr.close()


@pytest.fixture(scope="module")
def worker() -> Iterator[Worker]:
    reader = Worker()
    yield reader
    reader.close()


def assert_load_or_one_line(answer: dict[str, object], path: Path) -> None:
    assert answer["outcome"] in ("load", "error"), answer["message"]
    if answer["outcome"] == "error":
        message = str(answer["message"])
        assert "\n" not in message and "Traceback" not in message, message
        assert str(path) in message, message
    else:
        assert int(str(answer["events"])) > 0


# --- mutations --------------------------------------------------------------------------------


@st.composite
def flipped(draw: st.DrawFn, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(draw(st.integers(1, 8))):
        out[draw(st.integers(0, len(out) - 1))] ^= draw(st.integers(1, 255))
    return bytes(out)


@st.composite
def truncated(draw: st.DrawFn, data: bytes) -> bytes:
    return data[: draw(st.integers(0, len(data) - 1))]


def _spans(data: bytes, pattern: re.Pattern[bytes]) -> list[tuple[int, int]]:
    return [m.span() for m in pattern.finditer(data)]


@st.composite
def swapped(draw: st.DrawFn, data: bytes, pattern: re.Pattern[bytes] = _TAG) -> bytes:
    spans = _spans(data, pattern)
    i, j = sorted(draw(st.lists(st.integers(0, len(spans) - 1), min_size=2, max_size=2, unique=True)))
    (a, b), (c, d) = spans[i], spans[j]
    return data[:a] + data[c:d] + data[b:c] + data[a:b] + data[d:]


@st.composite
def duplicated(draw: st.DrawFn, data: bytes, pattern: re.Pattern[bytes] = _TAG) -> bytes:
    spans = _spans(data, pattern)
    a, b = spans[draw(st.integers(0, len(spans) - 1))]
    at = spans[draw(st.integers(0, len(spans) - 1))][0]
    return data[:at] + data[a:b] + data[at:]


@st.composite
def nested(draw: st.DrawFn, data: bytes) -> bytes:
    """Nested containers inside an event: around the limit, and far beyond what crashes r4pm."""
    depth = draw(st.sampled_from([1, 10, 59, 60, 61, 200, 5000]))
    kind = draw(st.sampled_from([b"container", b"list", b"string"]))
    opening = b'<' + kind + b' key="k"' + (b' value="v"' if kind == b"string" else b"") + b">"
    ends = [m.end() for m in re.finditer(rb"<event>", data)]
    at = ends[draw(st.integers(0, len(ends) - 1))]
    return data[:at] + opening * depth + (b"</" + kind + b">") * depth + data[at:]


def mutants(seed: bytes, line_pattern: re.Pattern[bytes] | None = None) -> st.SearchStrategy[bytes]:
    unit = line_pattern or _TAG
    choices = [flipped(seed), truncated(seed), swapped(seed, unit), duplicated(seed, unit)]
    if line_pattern is None:
        choices.append(nested(seed))
    return st.one_of(*choices)


XES_SEEDS = [(CORPUS / "prom_export.xes").read_bytes(), (CORPUS / "pm4py_export.xes").read_bytes()]
CSV_SEED = (b"case_id,activity,timestamp,resource,amount\n"
            b"c1,register,2024-01-05T09:00:00+01:00,ann,12.5\n"
            b"c1,approve,2024-01-05T10:30:00+01:00,bob,\n"
            b'c2,register,2024-01-06T09:00:00+01:00,"Zo\xc3\xab, K.",7\n'
            b"c2,reject,2024-01-06T11:00:00+01:00,ann,1e3\n")
_LINE = re.compile(rb"[^\n]*\n")


@SETTINGS
@given(seed=st.sampled_from(range(len(XES_SEEDS))), data=st.data(), packed=st.booleans())
def test_a_mutated_xes_loads_or_is_refused_in_one_line(
    worker: Worker, tmp_path_factory: pytest.TempPathFactory, seed: int, data: st.DataObject, packed: bool
) -> None:
    mutant = data.draw(mutants(XES_SEEDS[seed]))
    folder = tmp_path_factory.mktemp("xes")
    path = folder / ("mutant.xes.gz" if packed else "mutant.xes")
    path.write_bytes(gzip.compress(mutant, mtime=0) if packed else mutant)
    assert_load_or_one_line(worker.read(path), path)


@SETTINGS
@given(data=st.data())
def test_a_mutated_csv_loads_or_is_refused_in_one_line(
    worker: Worker, tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    mutant = data.draw(mutants(CSV_SEED, _LINE))
    path = tmp_path_factory.mktemp("csv") / "mutant.csv"
    path.write_bytes(mutant)
    assert_load_or_one_line(worker.read(path), path)


def test_the_harness_reports_a_dead_reader_and_goes_on(worker: Worker, tmp_path: Path) -> None:
    path = tmp_path / "ok.xes"
    path.write_bytes(XES_SEEDS[0])
    worker.process.kill()
    worker.process.wait()
    answer = worker.read(path)
    assert answer["outcome"] == "crash" and "died" in str(answer["message"])
    assert worker.read(path)["outcome"] == "load"
