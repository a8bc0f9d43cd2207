"""How the CLI prints results as JSON: dataclasses, mappings and times as plain values."""

from __future__ import annotations

from dataclasses import asdict, is_dataclass
from typing import Any


def to_plain(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return {k: to_plain(v) for k, v in asdict(value).items()}
    if isinstance(value, dict):
        return {str(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(v) for v in value]
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return value
