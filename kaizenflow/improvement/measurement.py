"""Measuring each task's KPI in a run: the share of finished cases in its scope with its pattern."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from kaizenflow.conformance.types import Deviation, deviation_table

if TYPE_CHECKING:  # imported where frames are used: the state store's light commands need none
    import pandas as pd


@dataclass(frozen=True)
class Measurement:
    """A task's KPI this run, and the same counted only on cases that started after its change."""

    affected: int
    in_scope: int
    after_affected: int = 0
    after_in_scope: int = 0
    window_complete: bool = False

    @property
    def value(self) -> float:
        return self.affected / self.in_scope if self.in_scope else 0.0


def split_pattern_key(pattern_key: str) -> tuple[str, str]:
    kind, _, activity = pattern_key.partition(":")
    return kind, activity


def cases_with_pattern(deviations: pd.DataFrame | Iterable[Deviation]) -> dict[str, set[str]]:
    """Pattern key -> the cases showing it; ``deviations`` is a deviation table or the objects."""
    import pandas as pd

    if not isinstance(deviations, pd.DataFrame):
        deviations = deviation_table(deviations)
    keys = deviations["kind"].astype(object) + ":" + deviations["activity"].astype(object)
    grouped = deviations["case_id"].astype(object).groupby(keys.to_numpy(), sort=False)
    return {str(key): set(cases.tolist()) for key, cases in grouped}


def in_scope(case_attributes: pd.DataFrame, business_object: str | None) -> pd.Index:
    """Case ids a task is about: all cases, or those whose attribute has the object's value."""
    if business_object is None:
        return case_attributes.index
    attribute, _, value = business_object.partition("=")
    if attribute not in case_attributes.columns:
        return case_attributes.index[:0]
    return case_attributes.index[(case_attributes[attribute] == value).fillna(False).to_numpy()]


def measure(
    pattern_key: str,
    business_object: str | None,
    pattern_cases: Mapping[str, set[str]],
    case_attributes: pd.DataFrame,
    case_starts: pd.Series,
    changed_at: datetime | None = None,
    window: timedelta = timedelta(days=30),
    latest: datetime | None = None,
) -> Measurement:
    """Counts over the cases of ``case_attributes``: the caller passes finished cases only, since a
    running case may not have reached the deviation yet.

    ``changed_at`` (process time, when the task was marked done) splits off the cases that
    started after the change; the window is complete once the log has run ``window`` past it.
    """
    from kaizenflow.core.events import member_of

    scope = in_scope(case_attributes, business_object)
    affected = member_of(scope, pattern_cases.get(pattern_key, ()))
    hit = int(affected.sum())
    if changed_at is None:
        return Measurement(affected=hit, in_scope=len(scope))
    starts = case_starts.reindex(scope)
    after = (starts.notna() & (starts >= changed_at)).to_numpy(dtype=bool)
    return Measurement(
        affected=hit, in_scope=len(scope),
        after_affected=int((affected & after).sum()), after_in_scope=int(after.sum()),
        window_complete=latest is not None and latest >= changed_at + window,
    )
