"""`kaizen doctor`: one line per store of a configuration's state (ok / damaged: why / what to do)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

ConfigOption = Annotated[Path, typer.Option("--config", "-c", help="pipeline configuration (YAML)")]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def doctor(config: ConfigOption, as_json: JsonOption = False) -> None:
    """Check the state database, event store, alignment cache, case ledger and case contributions;
    changes nothing.

    Exit code 1 when any store is damaged. A damaged derived store (cache, ledger) is set aside
    and rebuilt by the next night; a damaged state database or event store stops every night
    until it is restored.
    """
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.storage.health import check_state

    loaded = load_config(config)
    verdicts = check_state(loaded.state_directory, loaded.state_url, thorough=True)
    if as_json:
        typer.echo(json.dumps([verdict.as_dict() for verdict in verdicts], indent=2))
    else:
        for verdict in verdicts:
            typer.echo(verdict.line())
    if any(verdict.status == "damaged" for verdict in verdicts):
        raise typer.Exit(code=1)


def register(app: typer.Typer, reported: Any) -> None:
    app.command("doctor")(reported(doctor))
