"""`kaizen tasks list` answers at once: it imports none of the night's heavy libraries."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

CONFIG_PATH = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.yaml"

LISTING = """
import sys
sys.argv = ["kaizen", "tasks", "list", "-c", sys.argv[1]]
from kaizenflow.cli.main import app
try:
    app()
except SystemExit:
    pass
heavy = sorted(name for name in ("pm4py", "prefect", "pandas", "duckdb", "scipy") if name in sys.modules)
print("imported:", ",".join(heavy))
"""


def test_listing_tasks_imports_neither_pm4py_nor_prefect_nor_pandas(tmp_path: Path) -> None:
    config = tmp_path / "kaizen.yaml"
    shutil.copy(CONFIG_PATH, config)  # the demo's configuration, its state folder beside it
    done = subprocess.run([sys.executable, "-c", LISTING, str(config)], capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    assert "no tasks" in done.stdout
    assert done.stdout.strip().splitlines()[-1] == "imported:"
