"""OCEL 2.0 logs (JSON, XML, SQLite) read with pm4py and flattened on one object type into a batch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from kaizenflow.sources.batch import assemble, relocated
from kaizenflow.sources.mapping import EventMapping, SourceError
from kaizenflow.sources.safe_xml import scan_xml

_KINDS = {".jsonocel": "json", ".json": "json", ".xmlocel": "xml", ".xml": "xml",
          ".sqlite": "sqlite", ".sqlite3": "sqlite", ".db": "sqlite"}
#: Suffixes read as OCEL 2.0.
OCEL_SUFFIXES = tuple(_KINDS)
_SQLITE_MAGIC = b"SQLite format 3\x00"
_KEY = "\x00ocel_key"


def ocel_object_types(path: str | Path) -> list[str]:
    """The object types of an OCEL 2.0 log, sorted: what ``read_ocel_events`` can flatten on."""
    return _object_types(_load(Path(path)))


def read_ocel_events(
    path: str | Path,
    object_type: str,
    *,
    process: str = "",
    source: str | None = None,
    timezone: str = "UTC",
) -> pd.DataFrame:
    """Canonical events of an OCEL 2.0 log flattened on ``object_type`` (``pm4py.ocel_flattening``).

    Each object of that type is a case; an event related to two such objects belongs to both
    cases, so its id is derived from the OCEL event id and the object id. Times without an
    offset are read in ``timezone`` (UTC by default: pm4py drops the offset of JSON and XML
    times). An XML file passes the same DTD-refusing safety check as XES before pm4py sees it.
    """
    import pm4py

    path = Path(path)
    ocel = _load(path)
    types = _object_types(ocel)
    if object_type not in types:
        raise SourceError(f"{path}: no object type {object_type!r}; the log has "
                          f"{', '.join(map(repr, types)) or 'no objects'}")
    flat = pm4py.ocel_flattening(ocel, object_type).reset_index(drop=True)
    if flat.empty:
        raise SourceError(f"{path}: no event relates to an object of type {object_type!r}")
    rows = flat.copy()
    rows[_KEY] = rows["ocel:eid"].astype("string") + "\x1f" + rows["case:concept:name"].astype("string")
    used = {"case:concept:name", "concept:name", "time:timestamp", "org:resource", _KEY}
    mapping = EventMapping(
        source=source or path.name, case_id="case:concept:name", timestamp="time:timestamp",
        activity_column="concept:name", resource="org:resource" if "org:resource" in rows else None,
        event_id=_KEY, attributes=tuple(c for c in rows.columns if c not in used), timezone=timezone,
    )
    eids, objects = rows["ocel:eid"].tolist(), rows["case:concept:name"].tolist()
    try:
        return assemble(rows, mapping, process)
    except SourceError as error:
        raise relocated(error, str(path), lambda i: f"event {eids[i]} (object {objects[i]})") from None


def _load(path: Path) -> Any:
    import pm4py

    kind = _KINDS.get(path.suffix.lower())
    if kind is None:
        raise SourceError(f"{path}: not an OCEL 2.0 file name (expected {', '.join(OCEL_SUFFIXES)})")
    if not path.is_file():
        raise SourceError(f"{path}: no such file")
    if kind == "xml":
        scan_xml(path)
    if kind == "sqlite":
        with path.open("rb") as stream:
            if stream.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                raise SourceError(f"{path}: not an SQLite database")
    reader = {"json": pm4py.read_ocel2_json, "xml": pm4py.read_ocel2_xml,
              "sqlite": pm4py.read_ocel2_sqlite}[kind]
    try:
        return reader(str(path))
    except Exception as error:  # pm4py raises whatever its parser raised: all mean "unreadable"
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise SourceError(f"{path}: not a readable OCEL 2.0 {kind} log ({reason})") from None


def _object_types(ocel: Any) -> list[str]:
    return sorted(str(t) for t in ocel.objects["ocel:type"].dropna().unique())
