"""The newest night's findings of each process, kept with a digest of the inputs they came from.

A night that loads nothing new, under the same model, rules, settings, acceptances and code, would
compute the same findings again: on a large history that is most of a night's cost for nothing.
Such a night repeats the kept findings instead (``pipeline.repeat``). The findings are derived
data: a missing or unreadable row only makes the next night compute them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from kaizenflow.storage.schema import night_findings


@dataclass(frozen=True)
class KeptFindings:
    """A process's newest findings: the run that found them, its inputs' digest, its summary."""

    run_id: str
    inputs: str
    summary_json: str


def keep(connection: sa.Connection, process: str, findings: KeptFindings) -> None:
    """In the transaction that records or reports their run, in place of the process's earlier
    findings: a run is never left without them."""
    connection.execute(night_findings.delete().where(night_findings.c.process == process))
    connection.execute(night_findings.insert().values(
        process=process, run_id=findings.run_id, inputs=findings.inputs,
        summary_json=findings.summary_json, kept_at=datetime.now(UTC),
    ))


def kept(engine: sa.Engine, process: str) -> KeptFindings | None:
    with engine.connect() as connection:
        row = connection.execute(
            sa.select(night_findings.c.run_id, night_findings.c.inputs, night_findings.c.summary_json)
            .where(night_findings.c.process == process)
        ).first()
    return None if row is None else KeptFindings(str(row.run_id), str(row.inputs), str(row.summary_json))


def forget(engine: sa.Engine, process: str) -> None:
    """The findings no longer stand (a repeat could not read them): the next night computes them."""
    with engine.begin() as connection:
        connection.execute(night_findings.delete().where(night_findings.c.process == process))
