"""The safety pass every XML file gets before any other XML reader sees it: no DTD, no entity, no bomb.

XES and OCEL files come from outside (exports, e-mail attachments, downloads). XML that
declares a DTD can make a parser read local files or URLs into the document (XXE) or expand
a few bytes into gigabytes ("billion laughs"); process-mining logs never need a DTD, so any
DTD is refused outright, before its internal subset is read. The pass runs libxml2 (through
lxml) as a push parser with a target that receives nothing but the DOCTYPE: no tree is built
and no Python code runs per element, so the pass is linear and cheap, and it never resolves
an entity or touches the network (``resolve_entities``, ``no_network``, ``load_dtd`` all off).

It also enforces limits no legitimate log comes near, each refused in one line:

- ``MAX_TOKEN_BYTES``: one comment, attribute value, name or processing instruction longer than
  libxml2's 10,000,000-byte limit (a log whose 2 GB comment or 1 GB value would otherwise be
  buffered, and with expat re-scanned on every chunk: quadratic time);
- ``XmlLimits.max_inflated_bytes`` and ``max_inflation_ratio``: gzip data that inflates beyond
  an absolute size or far beyond what text compresses to (a "zip bomb").

The same pass proves the file well-formed, which the Rust XES reader does not: it silently
returns the events before a syntax error, or none. Readers that need element handlers
(``expat_pass``) run only after this pass accepted the file.
"""

from __future__ import annotations

import gzip
import re
import zlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn, Protocol
from xml.parsers import expat

from lxml import etree

from kaizenflow.sources.errors import SourceError

GZIP_MAGIC = b"\x1f\x8b"
_CHUNK = 4 << 20  # bytes a read: fewer calls into the parser and the gate
#: libxml2's limit on one token (text run, attribute value, comment, name) without XML_PARSE_HUGE.
MAX_TOKEN_BYTES = 10_000_000
_LIMIT_MESSAGES = re.compile(r"too big|limit exceeded|XML_PARSE_HUGE|too long|huge", re.IGNORECASE)
_POSITION = re.compile(r",? line \d+, column \d+.*$", re.DOTALL)

#: Installs element handlers on the expat parser of one pass (they may raise SourceError).
Install = Callable[[expat.XMLParserType], None]
#: Sees every uncompressed chunk of the file, in order, before the parser does.
Observe = Callable[[bytes], None]


@dataclass(frozen=True)
class XmlLimits:
    """Bounds on what one XML file may inflate to; the defaults are far above any real log."""

    #: uncompressed bytes of one file (gzip or plain): 16 GiB
    max_inflated_bytes: int = 16 << 30
    #: uncompressed bytes per compressed byte of gzip data ...
    max_inflation_ratio: int = 1000
    #: ... checked once this much is inflated (small files compress less predictably): 64 MiB
    ratio_checked_after: int = 64 << 20
    #: element nesting the handler-based reader accepts (XES nests lists and containers)
    max_depth: int = 64


DEFAULT_LIMITS = XmlLimits()


def is_gzip(path: Path) -> bool:
    try:
        with path.open("rb") as stream:
            return stream.read(2) == GZIP_MAGIC
    except OSError as error:
        raise SourceError(f"{path}: cannot read it ({error.strerror or error})") from None


class _Refused(Exception):
    """Raised inside libxml2's callback; lxml stops the parse and hands it back from feed()."""


class _DoctypeTarget:
    """The parser target: told only of a DOCTYPE (to refuse it); everything else costs nothing."""

    def __init__(self) -> None:
        self.doctype_name: str | None = None

    def doctype(self, name: str, public_id: str | None, system_url: str | None) -> None:
        self.doctype_name = name
        raise _Refused(name)

    def close(self) -> None:
        return None


def scan_xml(path: Path, observe: Observe | None = None, limits: XmlLimits = DEFAULT_LIMITS) -> None:
    """The safety pass over the whole file (gunzipped when it is gzip data); raises SourceError.

    ``observe`` sees each chunk, in order, while the parser reads it: readers gather cheap
    byte-level facts (counts, suspicious values) in the same read. It runs on a second thread,
    since libxml2 parses without holding the GIL; each chunk waits for both, and an exception
    of ``observe`` wins over the parser's, as if it had seen the chunk first.
    """
    target = _DoctypeTarget()
    parser = etree.XMLParser(target=target, resolve_entities=False, no_network=True, load_dtd=False,
                             huge_tree=False, remove_comments=True, remove_pis=True)
    consumed = 0
    with _opened(path, limits) as stream, ThreadPoolExecutor(max_workers=1) as beside:
        try:
            while chunk := stream.read(_CHUNK):
                consumed += len(chunk)
                observed = beside.submit(observe, chunk) if observe is not None else None
                try:
                    parser.feed(chunk)
                finally:
                    if observed is not None:
                        observed.result()
            if consumed == 0:
                raise SourceError(f"{path}: the file is empty")
            parser.close()
        except _Refused:
            _refuse_dtd(path, target.doctype_name or "?")
        except etree.XMLSyntaxError as error:
            if target.doctype_name is not None:
                _refuse_dtd(path, target.doctype_name)
            line, column = error.position if error.position else (error.lineno, 0)
            reason = _POSITION.sub("", str(error.msg or error)).strip()
            if _LIMIT_MESSAGES.search(reason):
                raise SourceError(
                    f"{path}: line {line}, column {column}: refused: one XML token (a comment, attribute "
                    f"value or name) is longer than {MAX_TOKEN_BYTES:,} bytes ({reason})"
                ) from None
            if "no element found" in reason or "Document is empty" in reason:
                raise SourceError(f"{path}: not XML: no element found") from None
            raise SourceError(f"{path}: line {line}, column {column}: malformed XML ({reason})") from None
        except EOFError:
            raise SourceError(
                f"{path}: the gzip data is truncated: it ends after {consumed} uncompressed bytes; "
                "the file was cut off while copying or exporting"
            ) from None
        except (gzip.BadGzipFile, zlib.error) as error:
            raise SourceError(
                f"{path}: the gzip data is corrupt after {consumed} uncompressed bytes: {error}"
            ) from None
        except OSError as error:
            raise SourceError(f"{path}: cannot read it ({error.strerror or error})") from None


def _refuse_dtd(path: Path, name: str) -> NoReturn:
    raise SourceError(
        f"{path}: refused: the XML declares a DTD (<!DOCTYPE {name}>); event logs never need one and it "
        "can make a parser read local files or URLs or expand without bound (XXE, billion laughs). "
        "Nothing was read or expanded."
    ) from None


def expat_pass(path: Path, install: Install, limits: XmlLimits = DEFAULT_LIMITS) -> None:
    """Parse a file that ``scan_xml`` accepted with expat and the handlers ``install`` sets.

    DTD handlers still refuse (defence in depth); tokens are bounded by the safety pass, so
    expat's re-scan of a token split across chunks stays linear.
    """
    parser = expat.ParserCreate()
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)

    def refuse(*args: object) -> NoReturn:
        raise SourceError(f"{path}: line {parser.CurrentLineNumber}: refused: the XML declares a DTD "
                          "or an entity")

    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    install(parser)
    with _opened(path, limits) as stream:
        try:
            while chunk := stream.read(_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
        except expat.ExpatError as error:
            reason = expat.errors.messages[error.code]
            raise SourceError(
                f"{path}: line {error.lineno}, column {error.offset + 1}: malformed XML ({reason})"
            ) from None
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as error:
            raise SourceError(f"{path}: cannot read it again ({error})") from None


class _Readable(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


class _Bounded:
    """A gzip stream that refuses to inflate past the limits (absolute size and ratio)."""

    def __init__(self, path: Path, stream: _Readable, compressed: int, limits: XmlLimits) -> None:
        self.path, self.stream, self.limits = path, stream, limits
        self.compressed = max(compressed, 1)
        self.inflated = 0

    def read(self, size: int = -1, /) -> bytes:
        chunk = self.stream.read(size)
        self.inflated += len(chunk)
        limits = self.limits
        if self.inflated > limits.max_inflated_bytes:
            raise SourceError(f"{self.path}: refused: it inflates past {limits.max_inflated_bytes:,} bytes, "
                              "the limit on one file")
        if self.inflated > limits.ratio_checked_after and \
                self.inflated > limits.max_inflation_ratio * self.compressed:
            raise SourceError(
                f"{self.path}: refused: {self.compressed:,} bytes of gzip data inflate past "
                f"{self.inflated:,} bytes, more than {limits.max_inflation_ratio}x (a compression bomb; "
                "real logs compress 10 to 50 times)"
            )
        return chunk


@contextmanager
def _opened(path: Path, limits: XmlLimits = DEFAULT_LIMITS) -> Iterator[_Readable]:
    compressed = is_gzip(path)
    if path.name.lower().endswith(".gz") and not compressed:
        raise SourceError(f"{path}: named .gz but it is not gzip data")
    try:
        if compressed:
            with gzip.open(path, "rb") as unpacked:
                yield _Bounded(path, unpacked, path.stat().st_size, limits)
        else:
            with path.open("rb") as plain:
                yield _Bounded(path, plain, path.stat().st_size, limits)
    except OSError as error:
        raise SourceError(f"{path}: cannot read it ({error.strerror or error})") from None
