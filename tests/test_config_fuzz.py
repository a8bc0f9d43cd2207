"""A mutated kaizen.yaml is loaded or refused in one line (ConfigError), never a crash or a hang.

Mutations start from the sample configuration: keys removed, renamed or duplicated, values
replaced by hostile ones (infinities, huge numbers, wrong types, control characters, URLs with
secrets), and the text itself cut, repeated or sprinkled with bytes.
"""

from __future__ import annotations

import resource
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kaizenflow.pipeline.config import ConfigError, KaizenConfig, load_config

EXAMPLE = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"
TEXT = EXAMPLE.read_text(encoding="utf-8")
DATA = yaml.safe_load(TEXT)
#: Each example must finish within this (hypothesis fails a slower one), the whole run within
#: the second bound, and memory may not grow past the third.
EXAMPLE_SECONDS = 10
TOTAL_SECONDS = 240
MEMORY_GROWTH_MB = 300

HOSTILE_VALUES: st.SearchStrategy[Any] = st.one_of(
    st.sampled_from([
        float("inf"), float("-inf"), float("nan"), 1e300, -1e300, 10**20, -(10**20), 0, -1, "", None,
        [], {}, [[[]]], True, "1e20", ".inf", "/proc/self", "/dev/null", "../../../etc",
        "postgresql://u:pw@h:notaport/db", "postgresql://u@h/db?password=pw", " sqlite:///x.db",
        "postgresql://u@h/db", "mysql://u@h/db", "sqlite:///p2p.db", "\x00", "a\nb", "é" * 300,
        "Europe/Atlantis", "*/0 * * * *", "0 2 * * *", {"url_env": "NOPE"}, {"type": "vibes"},
    ]),
    st.integers(), st.floats(), st.text(max_size=40), st.booleans(),
)


def paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path of the parsed sample (each mapping key, each list position)."""
    found = [prefix] if prefix else []
    if isinstance(node, dict):
        for key, value in node.items():
            found += paths(value, (*prefix, key))
    elif isinstance(node, list):
        for position, value in enumerate(node):
            found += paths(value, (*prefix, position))
    return found


PATHS = paths(DATA)


def copied(node: Any) -> Any:
    return yaml.safe_load(yaml.safe_dump(node))


@st.composite
def structural(draw: st.DrawFn) -> str:
    """The sample with up to three keys replaced, removed, renamed or added."""
    data = copied(DATA)
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(PATHS))
        parent = data
        try:
            for part in path[:-1]:
                parent = parent[part]
            last = path[-1]
            action = draw(st.sampled_from(["replace", "delete", "rename", "add"]))
            if action == "replace":
                parent[last] = draw(HOSTILE_VALUES)
            elif action == "delete":
                del parent[last]
            elif action == "rename" and isinstance(parent, dict):
                parent[draw(st.text(max_size=12)) or "x"] = parent.pop(last)
            elif isinstance(parent, dict):
                key = draw(st.sampled_from(["colour", "base_dir", "config_hash", "url", "file", "type"]))
                parent[key] = draw(HOSTILE_VALUES)
        except (KeyError, IndexError, TypeError):
            continue  # an earlier mutation removed the way there
    return yaml.safe_dump(data, allow_unicode=True)


@st.composite
def textual(draw: st.DrawFn) -> str:
    """The sample's text cut, repeated, or with characters inserted."""
    lines = TEXT.splitlines(keepends=True)
    for _ in range(draw(st.integers(1, 3))):
        if not lines:
            break
        position = draw(st.integers(0, len(lines) - 1))
        action = draw(st.sampled_from(["delete", "duplicate", "insert", "truncate", "indent"]))
        if action == "delete" and len(lines) > 1:
            del lines[position]
        elif action == "duplicate":
            lines.insert(position, lines[position])
        elif action == "insert":
            lines.insert(position, draw(st.text(max_size=30)) + "\n")
        elif action == "truncate":
            lines = lines[:position]
        else:
            lines[position] = "  " + lines[position]
    return "".join(lines)


def loads_or_refuses_in_one_line(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        config = load_config(path)
    except ConfigError as error:
        message = str(error)
        assert "\n" not in message and "\r" not in message, message
        assert message.startswith(f"{path}: "), message
        assert len(message) < 4000
        return
    assert isinstance(config, KaizenConfig)


#: When the first example ran, and the peak memory then (the bounds count from there).
FIRST: dict[str, float] = {}


@settings(max_examples=200, deadline=timedelta(seconds=EXAMPLE_SECONDS),
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=st.one_of(structural(), textual()))
def test_a_mutated_configuration_loads_or_is_refused_in_one_line(tmp_path: Path, text: str) -> None:
    FIRST.setdefault("time", time.monotonic())
    FIRST.setdefault("memory", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    loads_or_refuses_in_one_line(tmp_path / "kaizen.yaml", text)
    assert time.monotonic() - FIRST["time"] < TOTAL_SECONDS
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - FIRST["memory"]) / 1024
    assert grown_mb < MEMORY_GROWTH_MB
