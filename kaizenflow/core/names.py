"""Safe names made from data: a process's slug and a run's file stem. The report archive names its
folders and files with them, and the web app's report URLs (``sinks.pages``) follow the same names."""

from __future__ import annotations

import re
import unicodedata

_UNSAFE_IN_SLUG = re.compile(r"[^a-z0-9]+")
_UNSAFE_IN_NAME = re.compile(r"[^A-Za-z0-9._-]+")


def process_slug(process: str) -> str:
    """A folder name for a process: lower-case ASCII words joined by "-", never empty.

    Process names are data; they must not be able to climb out of the report folder
    ("../x") or produce names some file systems reject.
    """
    ascii_name = unicodedata.normalize("NFKD", process).encode("ascii", "ignore").decode()
    slug = _UNSAFE_IN_SLUG.sub("-", ascii_name.lower()).strip("-")
    return slug[:80].strip("-") or "process"


def run_file_stem(run_id: str) -> str:
    """A file name stem for a run id; usual ids (timestamps, UUIDs) come through unchanged."""
    stem = _UNSAFE_IN_NAME.sub("-", run_id).strip(".-")
    return stem[:120] or "run"
