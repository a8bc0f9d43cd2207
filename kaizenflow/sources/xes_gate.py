"""Byte-level facts about an XES file, gathered during the safety pass: may the Rust reader have it?

The Rust reader (r4pm) is fast but bends silently where it should not, and crashes the process
on some inputs: an int beyond 64 bits becomes 0, an impossible date or a +14:59 offset becomes
a missing or shifted time, an attribute without a key becomes a column ``column_0``, an unknown
element is skipped with a line on stdout, and about 4,000 nested lists or containers overflow
its stack (exit 139, no message). Running a handler per element to find these would cost more
than the Rust reader itself, so this gate looks at the bytes instead: regular expressions that
match any construct the Rust reader may get wrong, and a count of ``<event`` and ``<trace``
tags to check its result against. The patterns are first tried together in one pass of RE2
(Arrow's compute kernel, on the bytes in place), which matches everything they match and
more; only a chunk it flags is searched with the exact patterns. Any match sends the file to
the streaming Python reader, which handles each construct exactly and counts what it bends; a
false alarm (the pattern in a comment, say) costs speed, never correctness.

Lists and containers go to the Python reader too: it is the reader that bounds their nesting.
What the Rust reader reports (stderr), drops (fewer events than tags) or turns into odd columns
(``column_0``, all-null) is checked after it ran, in ``xes.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

#: Constructs the Rust reader gets silently wrong, each found by a pattern with a literal start,
#: searched in a chunk only when ``_ANY_SUSPECT`` flags it; what the reader reports on stderr,
#: drops, or turns into odd columns is checked after it ran.
_SUSPECTS = (
    re.compile(rb"<list[\s/>]"),  # nesting the Python reader bounds
    re.compile(rb"<container[\s/>]"),
    # an int that may not fit in 64 bits; a float that is nan, inf or overflows
    re.compile(rb"<int\s[^>]*value\s*=\s*[\"']\s*[+-]?\d{19}"),
    re.compile(rb"<float\s[^>]*value\s*=\s*[\"']\s*[+-]?(?:[^\"'0-9.\s]|[^\"']*[eE]\s*[+-]?\d{3})"),
    # a trace attribute after events; an empty event
    re.compile(rb"</event>\s*<(?:string|date|int|float|boolean|id)[\s/>]"),
    re.compile(rb"<event(?:\s*/>|\s*>\s*</event)"),
    # a UTC offset beyond +-14:00 or with more than 59 minutes
    re.compile(rb":\d\d(?:\.\d+)?[+-](?:1[5-9]|[2-9]\d|14:(?!00)|\d\d:[6-9])"),
)
#: All of ``_SUSPECTS`` in one RE2 pattern (Latin-1 on bytes) that matches whenever any of them
#: does: Python's ``\s`` spelled out (RE2's lacks ``\v``), the lookahead dropped (RE2 has none).
_WS = r"[\t\n\x0b\f\r ]"
_ANY_SUSPECT = "|".join((
    r"<list[\t\n\x0b\f\r />]",
    r"<container[\t\n\x0b\f\r />]",
    rf"<int{_WS}[^>]*value{_WS}*={_WS}*[\"']{_WS}*[+-]?[0-9]{{19}}",
    rf"<float{_WS}[^>]*value{_WS}*={_WS}*[\"']{_WS}*[+-]?"
    rf"(?:[^\"'0-9.\t\n\x0b\f\r ]|[^\"']*[eE]{_WS}*[+-]?[0-9]{{3}})",
    rf"</event>{_WS}*<(?:string|date|int|float|boolean|id)[\t\n\x0b\f\r />]",
    rf"<event(?:{_WS}*/>|{_WS}*>{_WS}*</event)",
    r":[0-9][0-9](?:\.[0-9]+)?[+-](?:1[5-9]|[2-9][0-9]|14:|[0-9][0-9]:[6-9])",
))
_TAIL = 4096  # bytes kept from the end of a chunk so that a tag split across chunks is still seen


@dataclass
class XesGate:
    """Fed every uncompressed chunk; afterwards says whether the Rust reader may read the file."""

    events: int = 0
    traces: int = 0
    suspect: bytes | None = None
    _tail: bytes = b""

    def __call__(self, chunk: bytes) -> None:
        tail = self._tail
        data = tail + chunk
        self.events += data.count(b"<event") - tail.count(b"<event")
        self.traces += data.count(b"<trace") - tail.count(b"<trace")
        # The last tag may be cut by the chunk's end: it is searched with the next chunk instead.
        cut = data.rfind(b"<")
        if cut < 0:
            cut = len(data)
        if self.suspect is None and _may_hold_suspect(data, cut):
            for pattern in _SUSPECTS:
                found = pattern.search(data, 0, cut)
                if found is not None:
                    self.suspect = data[found.start():found.start() + 120]
                    break
        if self.suspect is None and len(data) - cut > _TAIL:
            self.suspect = b"(a tag or comment longer than 4 KB across a chunk boundary)"
        self._tail = data[cut:][-_TAIL:]

    @property
    def rust_may_read(self) -> bool:
        return self.suspect is None and self.events > 0


def _may_hold_suspect(data: bytes, end: int) -> bool:
    """False only when no suspect pattern matches in ``data[:end]``: RE2 over the bytes in place."""
    offsets = pa.py_buffer(np.array([0, end], dtype=np.int64))
    text = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, pa.py_buffer(data)])
    # the system allocator: Arrow's default one reserves a gigabyte of address space on first use
    found = pc.match_substring_regex(text, _ANY_SUSPECT, memory_pool=pa.system_memory_pool())
    return bool(found[0].as_py())
