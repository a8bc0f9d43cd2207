"""A run's acceptances for its summary: the ones in force, what each set aside, the headline's move."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from kaizenflow.conformance.types import ConformanceResult, Deviation
from kaizenflow.improvement.acceptance import AcceptanceEffect, AcceptanceNote, describe_acceptances
from kaizenflow.pipeline.config import Process
from kaizenflow.pipeline.resources import Resources


def acceptance_summary(
    resources: Resources, process: Process, case_attributes: pd.DataFrame, result: ConformanceResult,
    set_aside: Sequence[Deviation],
) -> tuple[list[AcceptanceNote], AcceptanceEffect | None]:
    """``result`` is the night's result with accepted deviations set aside, ``set_aside`` those."""
    in_force = resources.state.accepted(process.name)
    if not in_force:
        return [], None
    return describe_acceptances(result, set_aside, in_force, case_attributes)
