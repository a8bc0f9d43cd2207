"""The stores a night works on, opened once and handed to every stage (Dagster's resources).

A stage never builds a store from the configuration itself: the night opens them here, hands
the same objects to extraction, loading, checking and recording, and closes them once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from types import TracebackType

from kaizenflow.pipeline.config import KaizenConfig
from kaizenflow.storage import EventStore
from kaizenflow.storage.alignment_cache import AlignmentCacheFile
from kaizenflow.storage.case_checks import CaseLedger
from kaizenflow.storage.case_contributions import FILE_NAME as CONTRIBUTIONS_FILE
from kaizenflow.storage.case_contributions import ContributionStore
from kaizenflow.storage.state import StateStore


@dataclass
class Resources:
    """The configuration with its event store, state database, case ledger, case contributions,
    alignment cache and staging folder. The state database's engine and the alignment cache's
    file are opened on first use, so a stage that needs neither (a night's extraction) does not
    pay for them."""

    config: KaizenConfig

    @classmethod
    def open(cls, config: KaizenConfig) -> Resources:
        return cls(config)

    @cached_property
    def events(self) -> EventStore:
        return EventStore(self.config.state_directory / "events.duckdb")

    @cached_property
    def state(self) -> StateStore:
        self.config.state_directory.mkdir(parents=True, exist_ok=True)
        return StateStore(self.config.state_url)

    @cached_property
    def ledger(self) -> CaseLedger:
        return CaseLedger(self.config.state_directory / "case_checks.duckdb")

    @cached_property
    def contributions(self) -> ContributionStore:
        """Each window case's contribution to discovery, kept beside the case ledger."""
        return ContributionStore(self.config.state_directory / CONTRIBUTIONS_FILE)

    @cached_property
    def alignments(self) -> AlignmentCacheFile:
        return AlignmentCacheFile(self.config.state_directory / "alignments.db")

    @property
    def staging(self) -> Path:
        """Where extracted events wait, owner-only, until the load has stored them."""
        return self.config.state_directory / "staging"

    def close(self) -> None:
        """Release the state database's connections; the file-based stores hold none between calls."""
        if "state" in self.__dict__:
            self.state.dispose()
            del self.__dict__["state"]

    def __enter__(self) -> Resources:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()
