"""An XES file's safety pass and gate, which a command may start early, on a thread of its own.

A one-off command (``kaizen inspect``) spends its first moments importing pandas and the Rust
reader, while libxml2 (the safety pass) parses without holding the GIL: ``start`` begins the
pass then, and the reader takes its verdict, or its SourceError, from ``scanned``. A pass that
was not started, or whose file has changed since (size, modification time), runs in ``scanned``.
This module imports no pandas, so that the pass can start before pandas is imported.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import Future
from pathlib import Path

from kaizenflow.sources.safe_xml import DEFAULT_LIMITS, XmlLimits, scan_xml
from kaizenflow.sources.xes_gate import XesGate

_Key = tuple[str, int, int, XmlLimits]
_started: dict[_Key, Future[XesGate]] = {}
_lock = threading.Lock()


def start(path: Path, limits: XmlLimits = DEFAULT_LIMITS) -> None:
    """Begin the safety pass of ``path`` on a daemon thread (nothing when it cannot be stat'ed)."""
    key = _key(path, limits)
    if key is None:
        return  # the reader names the problem
    future: Future[XesGate] = Future()
    with _lock:
        if key in _started:
            return
        _started[key] = future
    threading.Thread(target=_run, args=(path, limits, future), name="xes-safety-pass", daemon=True).start()


def scanned(path: Path, limits: XmlLimits = DEFAULT_LIMITS) -> XesGate:
    """The gate of ``path``'s safety pass: the one ``start`` began, else a pass run now."""
    key = _key(path, limits)
    with _lock:
        future = _started.pop(key, None) if key is not None else None
    if future is None:
        return _scan(path, limits)
    return future.result()


def _run(path: Path, limits: XmlLimits, future: Future[XesGate]) -> None:
    future.set_running_or_notify_cancel()
    try:
        future.set_result(_scan(path, limits))
    except BaseException as error:  # raised again by ``scanned``, in the reader's thread
        future.set_exception(error)


def _scan(path: Path, limits: XmlLimits) -> XesGate:
    gate = XesGate()
    scan_xml(path, gate, limits)
    return gate


def _key(path: Path, limits: XmlLimits) -> _Key | None:
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns, limits
