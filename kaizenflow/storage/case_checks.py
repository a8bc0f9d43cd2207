"""The case ledger: what checking found for each case, kept between nights in a DuckDB file.

A night re-checks only the cases whose events changed (events are only ever added, so a case
whose event count is unchanged is unchanged), whose running status flipped, or that could not
be checked in time; every other case's result is read back from here. The ledger is derived
data: whatever happens to it, deleting it only makes the next night check every case again.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from kaizenflow.conformance.types import CASE_CHECK_COLUMNS, DEVIATION_COLUMNS, CaseChecks
from kaizenflow.core.events import tuples_array
from kaizenflow.storage.aside import set_aside
from kaizenflow.storage.event_store import EventStoreError, open_duckdb

_SCHEMA = """
DROP TABLE IF EXISTS case_checks;  -- the first layout (one JSON list of deviations a case)
DROP TABLE IF EXISTS case_results;  -- the second (each case its variant's text)
CREATE TABLE IF NOT EXISTS ledger_variants (
    process    VARCHAR NOT NULL,
    variant_id BIGINT NOT NULL,
    variant    VARCHAR NOT NULL  -- a JSON list of the activities
);
CREATE TABLE IF NOT EXISTS ledger_cases (
    process    VARCHAR NOT NULL,
    case_id    VARCHAR NOT NULL,
    events     BIGINT NOT NULL,
    variant_id BIGINT NOT NULL,
    running    BOOLEAN NOT NULL,
    pending    BOOLEAN NOT NULL,
    checked    BOOLEAN NOT NULL,
    cost       DOUBLE,
    bwc        DOUBLE,
    fitness    DOUBLE
);
CREATE TABLE IF NOT EXISTS case_deviations (
    process    VARCHAR NOT NULL,
    case_id    VARCHAR NOT NULL,
    kind       VARCHAR NOT NULL,
    activity   VARCHAR NOT NULL,
    detail     VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS ledger_fingerprints (
    process     VARCHAR NOT NULL,
    fingerprint VARCHAR NOT NULL
);
"""
_FIGURES = {"cost": "float64", "bwc": "float64", "fitness": "float64"}


class CaseLedger:
    """Per-case checking results of every process, valid for one fingerprint (model, rules, ...)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]:
        return open_duckdb(self.path, _SCHEMA, "case ledger")

    def load(self, process: str, fingerprint: str) -> tuple[pd.Series, CaseChecks]:
        """Each kept case's event count and result, in case id order; none when they were made under
        another fingerprint.

        A ledger that cannot be read is set aside (renamed, with a warning): nothing is kept, so
        the night checks every case again and writes a new one.
        """
        try:
            return self._load(process, fingerprint)
        except (duckdb.Error, EventStoreError) as error:
            if not _damaged(error):
                raise
            set_aside(self.path, "case ledger", str(error).splitlines()[0])
            return _nothing_kept()

    def _load(self, process: str, fingerprint: str) -> tuple[pd.Series, CaseChecks]:
        with self._connect() as connection:
            stored = connection.execute(
                "SELECT fingerprint FROM ledger_fingerprints WHERE process = ?", [process]
            ).fetchall()
            if stored != [(fingerprint,)]:
                return _nothing_kept()
            cases = connection.sql(
                "SELECT * EXCLUDE (process) FROM ledger_cases WHERE process = ? ORDER BY case_id",
                params=[process],
            ).to_arrow_table().to_pandas()
            variants = connection.sql(
                "SELECT variant_id, variant FROM ledger_variants WHERE process = ?", params=[process]
            ).to_arrow_table().to_pandas()
            deviations = connection.sql(
                f"SELECT {', '.join(DEVIATION_COLUMNS)} FROM case_deviations WHERE process = ?",
                params=[process],
            ).to_arrow_table().to_pandas()
        cases = cases.set_index(pd.Index(cases.pop("case_id").astype(object), name="case_id"))
        positions = pd.Index(variants["variant_id"]).get_indexer(cases.pop("variant_id"))
        if (positions < 0).any():  # derived data, damaged: the night checks every case again
            return _nothing_kept()
        cases["variant"] = tuples_array(tuple(json.loads(text)) for text in variants["variant"])[positions]
        events = cases.pop("events").astype("int64")
        return events, CaseChecks(cases[list(CASE_CHECK_COLUMNS)].astype(_FIGURES),
                                  deviations.astype(object))

    def save(
        self, process: str, fingerprint: str, events: pd.Series, updated: CaseChecks, left: pd.Index,
    ) -> None:
        """Store tonight's results and forget the cases that ``left`` the window, at once.

        ``events`` holds the event count of each updated case.
        """
        codes, distinct = pd.factorize(updated.cases["variant"])
        variants = pd.DataFrame({
            "code": np.arange(len(distinct), dtype=np.int64),
            "variant": pd.Series([json.dumps(list(variant)) for variant in distinct], dtype=object),
        })
        results = updated.cases.drop(columns="variant").assign(
            code=codes.astype(np.int64), events=events.reindex(updated.cases.index).astype("int64"),
        ).rename_axis("case_id").reset_index()
        deviations = updated.deviations.assign(process=process)
        leaving = pd.DataFrame({"case_id": pd.Series(left.unique(), dtype="string")})
        try:
            self._save(process, fingerprint, variants, results, deviations, leaving)
        except (duckdb.Error, EventStoreError) as error:
            if not _damaged(error) or not self.path.exists():
                raise
            set_aside(self.path, "case ledger", str(error).splitlines()[0])
            # a new ledger whose fingerprint matches nothing: the next night checks every case
            self._save(process, "set aside", variants, results, deviations, leaving)

    def _save(self, process: str, fingerprint: str, variants: pd.DataFrame, results: pd.DataFrame,
              deviations: pd.DataFrame, leaving: pd.DataFrame) -> None:
        with self._connect() as connection:
            connection.register("updated_variants", variants)
            connection.register("updated_results", results)
            connection.register("updated_deviations", deviations)
            connection.register("left_cases", leaving)
            connection.execute("BEGIN TRANSACTION")
            try:
                stored = connection.execute(
                    "SELECT fingerprint FROM ledger_fingerprints WHERE process = ?", [process]
                ).fetchall()
                if stored != [(fingerprint,)]:
                    for table in ("ledger_cases", "ledger_variants", "case_deviations",
                                  "ledger_fingerprints"):
                        connection.execute(f"DELETE FROM {table} WHERE process = ?", [process])
                    connection.execute("INSERT INTO ledger_fingerprints VALUES (?, ?)",
                                       [process, fingerprint])
                for table in ("ledger_cases", "case_deviations"):
                    connection.execute(
                        f"DELETE FROM {table} WHERE process = ? AND case_id IN (SELECT case_id FROM "
                        "updated_results UNION ALL SELECT case_id FROM left_cases)", [process],
                    )
                # each variant's text once (a case holds its number): variants new tonight get the
                # next numbers, and those no case has any more are forgotten
                connection.execute(
                    "INSERT INTO ledger_variants SELECT $process, "
                    "(SELECT coalesce(max(variant_id), 0) FROM ledger_variants WHERE process = $process) "
                    "+ row_number() OVER (ORDER BY code), variant FROM updated_variants "
                    "WHERE variant NOT IN (SELECT variant FROM ledger_variants WHERE process = $process)",
                    {"process": process},
                )
                connection.execute(
                    "INSERT INTO ledger_cases SELECT $process, r.case_id, r.events, v.variant_id, r.running, "
                    "r.pending, r.checked, r.cost, r.bwc, r.fitness FROM updated_results AS r "
                    "JOIN updated_variants AS u USING (code) "
                    "JOIN ledger_variants AS v ON v.process = $process AND v.variant = u.variant",
                    {"process": process},
                )
                connection.execute(
                    "DELETE FROM ledger_variants WHERE process = $process AND variant_id NOT IN "
                    "(SELECT variant_id FROM ledger_cases WHERE process = $process)",
                    {"process": process},
                )
                connection.execute(
                    f"INSERT INTO case_deviations SELECT process, {', '.join(DEVIATION_COLUMNS)} "
                    "FROM updated_deviations"
                )
                connection.execute("COMMIT")
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            finally:
                for view in ("updated_variants", "updated_results", "updated_deviations", "left_cases"):
                    connection.unregister(view)


def _damaged(error: BaseException) -> bool:
    """Whether the ledger file itself is the problem (not a lock held by another run, nor an
    interrupted query)."""
    return not isinstance(error, duckdb.InterruptException) and "lock" not in str(error).lower()


def _nothing_kept() -> tuple[pd.Series, CaseChecks]:
    return pd.Series(dtype="int64", index=pd.Index([], dtype=object, name="case_id")), CaseChecks.empty()
