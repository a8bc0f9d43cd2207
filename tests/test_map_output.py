"""`kaizen map --out` to a place it cannot write: one line, exit 1, no temporary file anywhere."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from kaizenflow.cli.main import app


@pytest.fixture
def log(tmp_path: Path) -> Path:
    path = tmp_path / "log.csv"
    path.write_text("case_id,activity,timestamp\n"
                    "1,Order,2024-01-01 10:00\n1,Pay,2024-01-02 10:00\n"
                    "2,Order,2024-01-01 11:00\n2,Pay,2024-01-03 10:00\n", encoding="utf-8")
    return path


def leftovers(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if ".partial" in path.name or path.name.endswith(".tmp")]


def test_a_map_is_written_where_asked(tmp_path: Path, log: Path) -> None:
    result = CliRunner().invoke(app, ["map", str(log), "--out", str(tmp_path / "map.svg")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "map.svg").read_text(encoding="utf-8").startswith("<svg")
    assert leftovers(tmp_path) == []


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_a_map_to_a_place_it_cannot_write_is_one_line_and_leaves_nothing(
    tmp_path: Path, log: Path, where: str
) -> None:
    out = tmp_path / "nowhere" / "map.svg" if where == "missing folder" else tmp_path / "maps"
    if where == "a folder":
        out.mkdir()
    result = CliRunner().invoke(app, ["map", str(log), "--out", str(out)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kaizen: error: --out ")
    assert ("does not exist" if where == "missing folder" else "is a folder") in lines[0]
    assert leftovers(tmp_path) == []
    assert not (tmp_path / "nowhere").exists()
