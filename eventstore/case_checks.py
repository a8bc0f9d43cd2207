"""The case ledger: what checking found for each case, kept between nights in a DuckDB file.

A night re-checks only the cases whose events changed (events are only ever added, so a case
whose event count is unchanged is unchanged), whose running status flipped, or that could not
be checked in time; every other case's result is read back from here. The ledger is derived
data: whatever happens to it, deleting it only makes the next night check every case again.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from contextlib import AbstractContextManager
from pathlib import Path

import duckdb
import pandas as pd

from conformance.types import CaseCheck, Deviation
from eventstore.store import open_duckdb

_SCHEMA = """
CREATE TABLE IF NOT EXISTS case_checks (
    process    VARCHAR NOT NULL,
    case_id    VARCHAR NOT NULL,
    events     BIGINT NOT NULL,
    variant    VARCHAR NOT NULL,
    running    BOOLEAN NOT NULL,
    deviations VARCHAR NOT NULL,
    pending    BOOLEAN NOT NULL,
    checked    BOOLEAN NOT NULL,
    cost       DOUBLE,
    bwc        DOUBLE,
    fitness    DOUBLE
);
CREATE TABLE IF NOT EXISTS ledger_fingerprints (
    process     VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL
);
"""
_COLUMNS = ["process", "case_id", "events", "variant", "running", "deviations", "pending", "checked",
            "cost", "bwc", "fitness"]


class CaseLedger:
    """Per-case checking results of every process, valid for one fingerprint (model, rules, ...)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return open_duckdb(self.path, _SCHEMA, "case ledger")

    def load(self, process: str, fingerprint: str) -> dict[str, tuple[int, CaseCheck]]:
        """Case id -> (event count, result); empty when the results were made under another fingerprint."""
        with self._connect() as connection:
            stored = connection.execute(
                "SELECT fingerprint FROM ledger_fingerprints WHERE process = ?", [process]
            ).fetchall()
            if stored != [(fingerprint,)]:
                return {}
            table = connection.sql(
                "SELECT * FROM case_checks WHERE process = ?", params=[process]
            ).to_arrow_table()
        columns = {name: table.column(name).to_pylist() for name in _COLUMNS[1:]}
        variants: dict[str, tuple[str, ...]] = {}
        found: dict[str, list[tuple[str, str, str]]] = {}  # many cases share the same deviations
        kept = {}
        rows = zip(*columns.values(), strict=True)
        for case_id, events, variant_text, running, deviation_text, pending, checked, *figures in rows:
            cost, bwc, fitness = figures
            variant = variants.get(variant_text)
            if variant is None:
                variant = variants[variant_text] = tuple(json.loads(variant_text))
            deviations: tuple[Deviation, ...] = ()
            if deviation_text != "[]":
                parsed = found.get(deviation_text)
                if parsed is None:
                    parsed = found[deviation_text] = [tuple(d) for d in json.loads(deviation_text)]
                deviations = tuple(Deviation(case_id, kind, activity, detail)
                                   for kind, activity, detail in parsed)
            kept[case_id] = (events, CaseCheck(
                case_id=case_id, variant=variant, running=running, deviations=deviations,
                pending=pending, checked=checked, cost=cost, bwc=bwc, fitness=fitness,
            ))
        return kept

    def save(
        self, process: str, fingerprint: str, updated: Sequence[tuple[int, CaseCheck]],
        keep: Collection[str],
    ) -> None:
        """Store tonight's results and forget cases outside ``keep`` (they left the window), at once."""
        frame = pd.DataFrame(
            [
                (process, check.case_id, events, json.dumps(list(check.variant)), check.running,
                 json.dumps([[d.kind, d.activity, d.detail] for d in check.deviations]),
                 check.pending, check.checked, check.cost, check.bwc, check.fitness)
                for events, check in updated
            ],
            columns=_COLUMNS,
        ).astype({"cost": "float64", "bwc": "float64", "fitness": "float64"})
        keeping = pd.DataFrame({"case_id": pd.Series(sorted(set(keep)), dtype="string")})
        with self._connect() as connection:
            connection.register("updated_checks", frame)
            connection.register("kept_cases", keeping)
            connection.execute("BEGIN TRANSACTION")
            try:
                stored = connection.execute(
                    "SELECT fingerprint FROM ledger_fingerprints WHERE process = ?", [process]
                ).fetchall()
                if stored != [(fingerprint,)]:
                    connection.execute("DELETE FROM case_checks WHERE process = ?", [process])
                    connection.execute("DELETE FROM ledger_fingerprints WHERE process = ?", [process])
                    connection.execute("INSERT INTO ledger_fingerprints VALUES (?, ?)",
                                       [process, fingerprint])
                connection.execute(
                    "DELETE FROM case_checks WHERE process = ? AND (case_id IN (SELECT case_id FROM "
                    "updated_checks) OR case_id NOT IN (SELECT case_id FROM kept_cases))", [process],
                )
                columns = ", ".join(_COLUMNS)
                connection.execute(f"INSERT INTO case_checks SELECT {columns} FROM updated_checks")
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            finally:
                connection.unregister("updated_checks")
                connection.unregister("kept_cases")
