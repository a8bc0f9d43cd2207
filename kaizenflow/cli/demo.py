"""The self-contained demo: a simulated purchase-to-pay database, its model and a configuration."""

from __future__ import annotations

import shutil
from importlib.resources import files
from pathlib import Path

DEMO_DATABASE = "p2p.db"
DEMO_CONFIG = "kaizen.yaml"
DEMO_MODEL = "purchase_to_pay.bpmn"


def prepare_demo(workdir: Path, cases: int = 2000, seed: int = 7, days: int = 180) -> tuple[Path, bool]:
    """Everything the demo needs inside ``workdir``; the database is generated only if absent.

    Returns the configuration path and whether the database was created now.
    """
    from kaizenflow.sample_logs import SimulationConfig, generate

    workdir.mkdir(parents=True, exist_ok=True)
    package = files("kaizenflow.sample_logs")
    for name, resource in ((DEMO_CONFIG, "purchase_to_pay.yaml"), (DEMO_MODEL, DEMO_MODEL)):
        target = workdir / name
        if not target.exists():
            with package.joinpath(resource).open("rb") as source, target.open("wb") as out:
                shutil.copyfileobj(source, out)
    database = workdir / DEMO_DATABASE
    created = not database.exists()
    if created:
        partial = workdir / (DEMO_DATABASE + ".partial")
        partial.unlink(missing_ok=True)
        generate(f"sqlite:///{partial}", SimulationConfig(cases=cases, seed=seed, days=days))
        partial.rename(database)
    return workdir / DEMO_CONFIG, created
