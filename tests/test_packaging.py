"""The dependency pins that keep Prefect's server importable, and the licence pm4py requires."""

import shutil
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import version
from pathlib import Path

from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent


def test_fastapi_stays_below_the_release_that_breaks_prefects_server() -> None:
    assert Version(version("fastapi")) < Version("0.151")
    from prefect.server.api.server import create_app  # fails with FastAPI >= 0.151

    assert callable(create_app)


def test_sqlalchemy_stays_below_the_release_that_stops_prefects_scheduler() -> None:
    # With SQLAlchemy 2.1, Prefect 3.8.8's scheduler fails on every loop ("Can't evaluate bulk DML
    # statement") and no scheduled night ever starts; tests/test_deploy.py schedules real nights.
    assert Version(version("sqlalchemy")) < Version("2.1")


def test_the_project_is_licensed_agpl_like_pm4py() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["license"] == "AGPL-3.0-or-later"
    assert "GNU AFFERO GENERAL PUBLIC LICENSE" in (ROOT / "LICENSE").read_text(encoding="utf-8")


def test_every_pinned_dependency_is_locked_in_the_constraints_file() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    locked = {
        line.split("==")[0].lower().replace("_", "-")
        for line in (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
        if "==" in line
    }
    for requirement in project["dependencies"]:
        name = requirement.split(">")[0].split("<")[0].split("[")[0].strip().lower()
        assert name in locked, f"{name} is not locked in constraints.txt"


def test_the_wheel_installs_one_top_level_package(tmp_path: Path) -> None:
    """Everything imports as kaizenflow.<layer>: a second top-level name would collide with others'."""
    source = tmp_path / "source"  # a copy: pip builds in the tree it is given
    source.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "kaizenflow", source / "kaizenflow", ignore=shutil.ignore_patterns("__pycache__"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path),
                    str(source)], check=True, capture_output=True, timeout=300)
    [wheel] = tmp_path.glob("kaizenflow-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    tops = {name.split("/")[0] for name in names} - {n.split("/")[0] for n in names if ".dist-info/" in n}
    assert tops == {"kaizenflow"}
    # the package data the installed night needs travels in the wheel
    assert "kaizenflow/sample_logs/purchase_to_pay.bpmn" in names
    assert "kaizenflow/reports/templates/run_report.html.j2" in names
