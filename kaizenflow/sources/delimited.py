"""CSV files as canonical batches: encoding, delimiter detection, and errors at physical line numbers."""

from __future__ import annotations

import csv
import io
from _csv import Reader
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TextIO

import numpy as np
import pandas as pd
import pyarrow as pa

from kaizenflow.sources.mapping import EventMapping, SourceError
from kaizenflow.sources.tabular import UNNAMED, Layout, check_columns, recognise, to_batch

_DELIMITERS = ",;\t|"
_SAMPLE = 64 * 1024
_BLOCK_ROWS = 100_000


def read_csv_events(
    path: str | Path,
    mapping: EventMapping | None = None,
    *,
    process: str = "",
    delimiter: str | None = None,
    encoding: str | None = None,
    timestamp_format: str | None = None,
    timezone: str = "UTC",
    source: str | None = None,
) -> pd.DataFrame:
    """Canonical events of a CSV file; every error names the file, the physical line and the field.

    The delimiter is sniffed among , ; tab | unless given; the text must be UTF-8 (a BOM is
    fine) unless ``encoding`` says otherwise. Quoted fields may span lines; line numbers count
    physical lines, the header being line 1. Without a mapping, XES-style names
    (case:concept:name, concept:name, time:timestamp, org:resource) or common ones (case_id,
    activity, timestamp, resource) are recognised, a start_timestamp column is carried as the
    ``start_timestamp`` attribute, and every other column becomes an attribute; ``timezone``
    and ``source`` (default: the file name) apply to that recognised mapping only. Timestamps
    are detected as described in ``sources.timestamps``; ``timestamp_format`` overrides that.
    Nothing is dropped: a row the reader cannot take is an error, not a smaller log.
    """
    path = Path(path)
    where = str(path)
    try:
        with _open_text(where, path, encoding) as stream:
            return _read(where, path, stream, mapping, process, delimiter, timestamp_format, timezone, source)
    except UnicodeDecodeError:
        _decode(where, path.read_bytes(), encoding)  # raises the error naming line and byte offset
        raise


def _read(
    where: str, path: Path, stream: TextIO, mapping: EventMapping | None, process: str,
    delimiter: str | None, timestamp_format: str | None, timezone: str, source: str | None,
) -> pd.DataFrame:
    """The file read as a stream: memory follows its values, not its text and rows of Python objects."""
    sample = stream.read(_SAMPLE + 1)
    if not sample.strip() and not any(block.strip() for block in iter(lambda: stream.read(_SAMPLE), "")):
        raise SourceError(f"{where}: the file is empty")
    stream.seek(0)
    if stream.read(1) != "\ufeff":  # a byte-order mark in an encoding that keeps it
        stream.seek(0)
    reader = csv.reader(stream, delimiter=delimiter or _detect(sample.removeprefix("\ufeff")), strict=True)
    header, header_line = _header(where, reader)
    layout = (recognise(header, where, source or path.name, timezone, f"line {header_line} (header)")
              if mapping is None else Layout(mapping))
    check_columns(layout, header, where, f"line {header_line} (header)")
    table, lines = _records(where, reader, header)
    if table.empty:
        raise SourceError(f"{where}: no events: the file has a header (line {header_line}) and no rows")
    return to_batch(table, layout, process, where, lambda i: f"line {lines[i]}", timestamp_format)


@contextmanager
def _open_text(where: str, path: Path, encoding: str | None) -> Iterator[TextIO]:
    try:
        stream = open(path, encoding=encoding or "utf-8-sig", newline="")
    except LookupError:
        raise SourceError(f"{where}: unknown encoding {encoding!r}") from None
    except OSError as error:
        raise SourceError(f"{where}: cannot read it ({error.strerror or error})") from None
    with stream:
        yield stream


def _decode(where: str, raw: bytes, encoding: str | None) -> str:
    try:
        text = raw.decode(encoding or "utf-8-sig")
    except LookupError:
        raise SourceError(f"{where}: unknown encoding {encoding!r}") from None
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        hint = ("pass encoding= (for example 'cp1252' or 'latin-1') if the file is not UTF-8"
                if encoding is None else "is that the file's encoding?")
        raise SourceError(
            f"{where}: line {line} (byte offset {error.start}): the bytes "
            f"{raw[error.start:error.end + 3]!r} are not valid {encoding or 'UTF-8'}; {hint}"
        ) from None
    return text.removeprefix("\ufeff")


def _detect(text: str) -> str:
    """csv.Sniffer's choice when it parses the sample into rows of equal width, else the best that does.

    ``text`` is the file's beginning: up to one character more than the sample, to tell whether
    the file goes on after it.
    """
    sample = text[:_SAMPLE]
    if len(text) > _SAMPLE and "\n" in sample:
        sample = sample[: sample.rfind("\n") + 1]
    candidates: list[str] = []
    try:
        candidates.append(csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter)
    except csv.Error:
        pass
    first_line = sample.splitlines()[0] if sample else ""
    candidates += sorted(_DELIMITERS, key=lambda d: -first_line.count(d))
    for candidate in candidates:
        rows = list(csv.reader(io.StringIO(sample, newline=""), delimiter=candidate))[:-1] or [[]]
        widths = {len(row) for row in rows if row}
        if len(widths) == 1 and widths.pop() > 1:
            return candidate
    return candidates[0]


def _header(where: str, reader: Reader) -> tuple[list[str], int]:
    try:
        names = next(row for row in reader if row)
    except csv.Error as error:
        raise SourceError(f"{where}: line {reader.line_num}: the header cannot be read ({error})") from None
    header = [name.strip() or UNNAMED.format(i + 1) for i, name in enumerate(names)]
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise SourceError(f"{where}: line {reader.line_num} (header), field {name}: the column "
                              "name appears more than once")
        seen.add(name)
    return header, reader.line_num


def _records(where: str, reader: Reader, header: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    """The rows as text columns, with the physical line each starts on (a quoted field may hold
    line breaks). Values become Arrow text a block of rows at a time: the whole file held as
    rows of Python strings took many times its size (the ingestion benchmark's CSV peak)."""
    blocks: list[list[pa.Array]] = [[] for _ in header]
    values: list[list[str]] = [[] for _ in header]
    lines: list[np.ndarray] = []
    starts: list[int] = []
    last = reader.line_num
    width = len(header)

    def keep() -> None:
        for column, texts in zip(blocks, values, strict=True):
            column.append(pa.array(texts, type=pa.string()))
            texts.clear()
        lines.append(np.array(starts, dtype=np.int64))
        starts.clear()

    try:
        for record in reader:
            start, last = last + 1, reader.line_num
            if not record:
                continue
            if len(record) != width:
                raise SourceError(
                    f"{where}: line {start}: {len(record)} field(s) where the header has {width}; is "
                    f"{reader.dialect.delimiter!r} the delimiter, and are values holding it quoted?"
                )
            for texts, value in zip(values, record, strict=True):
                texts.append(value)
            starts.append(start)
            if len(starts) == _BLOCK_ROWS:
                keep()
    except csv.Error as error:
        raise SourceError(f"{where}: line {last + 1}: malformed CSV ({error}); a quote opened on "
                          "this line may never be closed") from None
    keep()
    table = pd.DataFrame({
        name: pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array(column, type=pa.string())))
        for name, column in zip(header, blocks, strict=True)
    })
    return table, np.concatenate(lines)
