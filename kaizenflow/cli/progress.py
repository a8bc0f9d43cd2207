"""A line per stage of the night on the terminal, so that a long night is not silent minutes."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from rich.console import Console

T = TypeVar("T")


class StageProgress:
    """A ``StageRunner`` that shows the running stage with a spinner and, once it is done, a
    line with its time. It writes to standard error, so ``--json`` output stays clean."""

    def __init__(self, console: Console | None = None) -> None:
        self.console = console or Console(stderr=True, highlight=False)

    def __call__(self, name: str, stage: Callable[..., T], /, *args: Any) -> T:
        label = name.replace(":", " ")
        started = time.perf_counter()
        with self.console.status(f"{label} …"):
            result = stage(*args)
        self.console.print(f"  [green]✓[/green] {label:<28} {time.perf_counter() - started:7.1f} s")
        return result
