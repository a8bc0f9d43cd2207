"""Running one contender in a fresh Python process and reading its wall time and peak memory."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

DOCS = Path(__file__).resolve().parent.parent / "docs" / "benchmarks.md"
#: The hand-written commentary that closes docs/benchmarks.md: sections go before it.
COMMENTARY = "## What these figures say"


@dataclass(frozen=True)
class Measurement:
    name: str
    seconds: float
    peak_mib: float
    result: dict[str, object]


def run_contender(module: str, name: str, *arguments: str, timeout: float = 3600) -> Measurement:
    """``python -m module name args...`` must print one JSON line: {"seconds": .., "result": ..}.

    Peak memory is the child's own high-water mark (VmHWM): ``ru_maxrss`` would not do, since
    Linux carries it across ``exec`` from the parent that started the child.
    """
    environment = {**os.environ, "PM4PY_SHOW_PROGRESS_BAR": "false", "PYTHONWARNINGS": "ignore"}
    completed = subprocess.run(
        [sys.executable, "-c", _WRAPPER, module, name, *arguments],
        capture_output=True, text=True, timeout=timeout, env=environment, check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module} {name} failed:\n{completed.stderr[-4000:]}")
    payload = json.loads(completed.stdout.strip().splitlines()[-1])
    return Measurement(name=name, seconds=payload["seconds"], peak_mib=payload["peak_kib"] / 1024,
                       result=payload["result"])


def median_run(runs: list[Measurement]) -> Measurement:
    """The run of median wall time (its own peak memory with it): on this machine single runs of
    a few hundred milliseconds vary by half."""
    return sorted(runs, key=lambda run: run.seconds)[len(runs) // 2]


_WRAPPER = """
import importlib, json, sys, time
module = importlib.import_module(sys.argv[1])
started = time.perf_counter()
result = module.CONTENDERS[sys.argv[2]](*sys.argv[3:])
seconds = time.perf_counter() - started
status = open("/proc/self/status").read().split("VmHWM:")[1]
peak = int(status.split()[0])
print(json.dumps({"seconds": seconds, "peak_kib": peak, "result": result}))
"""


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        kib = int(meminfo.read_text().split("\n")[0].split()[1])
        memory = f", {kib / 1024 / 1024:.0f} GiB RAM"
    system = f"{platform.system()} {platform.release()}"
    return f"{platform.machine()}, {cpus} cores{memory}, {system}, Python {platform.python_version()}"


def replace_section(heading: str, lines: list[str], docs: Path = DOCS) -> None:
    """Put one section, measured alone (``python -m benchmarks.SECTION``), into docs/benchmarks.md:
    in place of its previous run, else before the commentary."""
    text = docs.read_text(encoding="utf-8") if docs.exists() else "# Benchmarks\n"
    block = "\n".join([f"## {heading}", "", *lines]) + "\n"
    start = text.find(f"## {heading}")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        text = text[:start] + block + ("\n" + text[end + 1:] if end >= 0 else "")
    elif COMMENTARY in text:
        before, _, after = text.partition(COMMENTARY)
        text = before.rstrip("\n") + "\n\n" + block + "\n" + COMMENTARY + after
    else:
        text = text.rstrip("\n") + "\n\n" + block
    docs.write_text(text, encoding="utf-8")
