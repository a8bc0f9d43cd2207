"""What a person at the terminal waits for: `kaizen run` of a night with nothing new, end to end
(interpreter start, imports, the night, the report), and `kaizen tasks list`.

`kaizen run` runs the night in its own process unless Prefect is configured; `--prefect` runs it
as the flow on Prefect's temporary server, as every manual run did before. Each command runs as a
person runs it, in a fresh process; the figure is the median of three runs.
`python -m benchmarks.startup` measures this section alone and puts it into docs/benchmarks.md.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

TITLE = "Starting a night by hand: `kaizen run` and `kaizen tasks list` end to end"


@dataclass(frozen=True)
class Timed:
    command: str
    seconds: list[float]

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _timed(arguments: list[str], rounds: int, environment: dict[str, str]) -> list[float]:
    seconds = []
    for _ in range(rounds):
        started = time.perf_counter()
        subprocess.run(arguments, check=True, capture_output=True, timeout=900, env=environment)
        seconds.append(time.perf_counter() - started)
    return seconds


def measure(scratch: Path, rounds: int = 3) -> list[Timed]:
    """The demo's first night is run once (not measured); then every measured night is unchanged."""
    kaizen = str(Path(sys.executable).with_name("kaizen"))
    shutil.rmtree(scratch, ignore_errors=True)
    environment = {name: value for name, value in os.environ.items() if not name.startswith("PREFECT_")}
    subprocess.run([kaizen, "demo", "--workdir", str(scratch)], check=True, capture_output=True,
                   timeout=900, env=environment)
    config = str(scratch / "kaizen.yaml")
    return [
        Timed("kaizen run (nothing new)", _timed([kaizen, "run", "--config", config], rounds, environment)),
        Timed("kaizen run --prefect (nothing new, Prefect's temporary server)",
              _timed([kaizen, "run", "--prefect", "--config", config], rounds, environment)),
        Timed("kaizen tasks list",
              _timed([kaizen, "tasks", "list", "--config", config], rounds, environment)),
    ]


def section(scratch: Path) -> list[str]:
    before = os.getloadavg()[0]
    timed = measure(scratch)
    after = os.getloadavg()[0]
    return [
        "The 2,000-case demo of `make demo` after its first night, so each measured night finds nothing "
        "new; wall time of the command in a fresh process, as a person runs it (three runs each). "
        f"Load average (1 min) {before:.1f} before and {after:.1f} after: other work shared the two cores.",
        "",
        "| command | median | runs |",
        "|---|---:|---|",
        *[f"| `{t.command}` | {t.median:.2f} s | {', '.join(f'{s:.2f}' for s in t.seconds)} |"
          for t in timed],
    ]


if __name__ == "__main__":
    from datetime import UTC, datetime

    from benchmarks.measure import machine, replace_section

    replace_section(TITLE, [*section(Path("/tmp/kaizen-bench/startup")), "",
                            f"Machine: {machine()}. Run {datetime.now(UTC):%Y-%m-%d %H:%M} UTC with "
                            "`python -m benchmarks.startup` (this section alone)."])
