"""Grouping deviations into patterns, with their cost in time and the business objects behind them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pandas.api.types import is_string_dtype

from kaizenflow.conformance.types import (
    ConformanceResult,
    Deviation,
    DeviationPattern,
    RootCause,
    deviation_table,
)
from kaizenflow.core.events import member_of, positions_in


def result_patterns(
    result: ConformanceResult, case_attributes: pd.DataFrame, throughput_hours: pd.Series,
    min_support: int = 5, case_costs: pd.Series | None = None,
) -> list[DeviationPattern]:
    """The patterns of a checking result; conforming are the cases with no deviation."""
    all_cases = case_attributes.index.astype(str)
    conforming = all_cases[~member_of(all_cases, result.deviation_table["case_id"].unique())]
    return deviation_patterns(result.deviation_table, result.cases, conforming, throughput_hours,
                              case_attributes, min_support=min_support, case_costs=case_costs)


def deviation_patterns(
    deviations: pd.DataFrame | Sequence[Deviation],
    total_cases: int,
    conforming_case_ids: Sequence[str] | pd.Index,
    throughput_hours: pd.Series,
    case_attributes: pd.DataFrame,
    min_support: int = 5,
    max_root_causes: int = 5,
    examples: int = 5,
    case_costs: pd.Series | None = None,
) -> list[DeviationPattern]:
    """One pattern per (kind, activity or rule), largest first.

    Extra throughput compares the pattern's cases with conforming cases (median and 90th
    percentile). Root causes rank attribute values by how many more of the pattern's cases
    carry them than their share of all cases predicts, so that a rare value with a lucky
    lift does not outrank the supplier that causes most of the pattern. ``deviations`` is a
    deviation table (``conformance.types.DEVIATION_COLUMNS``) or the deviation objects.
    ``case_costs`` (cost per case, NaN where unknown) adds the same comparison in money.
    """
    table = deviations if isinstance(deviations, pd.DataFrame) else deviation_table(deviations)
    if table.empty or total_cases == 0:
        return []
    frame = table[["case_id", "kind", "activity"]].astype(object).drop_duplicates()
    # every pattern's cases are looked up by position among the deviating cases, found once:
    # a lookup by case id per pattern hashed the window's 166,666 ids a dozen times a night
    case_codes, deviating = pd.factorize(frame["case_id"], sort=True)  # numbered in id order
    hours = _values_at(throughput_hours, deviating)
    costs = _values_at(case_costs, deviating) if case_costs is not None else None
    conforming = pd.Index(conforming_case_ids)
    conforming_hours = _known(_values_at(throughput_hours, conforming))
    conforming_costs = _known(_values_at(case_costs, conforming)) if case_costs is not None else None
    attributes = _CaseAttributes(case_attributes, deviating)
    frame = frame.assign(code=case_codes)
    patterns = []
    for (kind, activity), group in frame.groupby(["kind", "activity"], sort=True):
        codes = np.sort(group["code"].to_numpy())  # by case id; once each, as the frame has no duplicates
        case_ids = deviating.take(codes).tolist()
        pattern_hours = _known(hours[codes])
        median_extra = p90_extra = None
        if len(pattern_hours) and len(conforming_hours):
            median_extra = float(pattern_hours.median() - conforming_hours.median())
            p90_extra = float(pattern_hours.quantile(0.9) - conforming_hours.quantile(0.9))
        patterns.append(
            DeviationPattern(
                kind=str(kind),
                activity=str(activity),
                cases=len(case_ids),
                share=len(case_ids) / total_cases,
                extra_throughput_median_hours=median_extra,
                extra_throughput_p90_hours=p90_extra,
                root_causes=tuple(attributes.causes(codes, min_support)[:max_root_causes]),
                example_case_ids=tuple(case_ids[:examples]),
                **_extra_cost(_known(costs[codes]) if costs is not None else None, conforming_costs),
            )
        )
    patterns.sort(key=lambda p: (-p.cases, p.kind, p.activity))
    return patterns


def _values_at(series: pd.Series, cases: pd.Index) -> np.ndarray:
    """``series`` at each of ``cases`` as floats, NaN where it has no value (as ``reindex``)."""
    positions = _positions(cases, series.index)
    values = series.to_numpy(dtype=float, na_value=np.nan)
    found = np.full(len(cases), np.nan)
    found[positions >= 0] = values[positions[positions >= 0]]
    return found


def _positions(cases: pd.Index, index: pd.Index) -> np.ndarray:
    """Where each of ``cases`` is in ``index``, -1 where it is not; string ids through Arrow, whose
    lookup takes a tenth of pandas' on Arrow-backed strings."""
    if is_string_dtype(cases) and is_string_dtype(index):  # object columns: by their values
        return positions_in(cases, index)
    return np.asarray(index.get_indexer(cases), dtype=np.int64)


def _known(values: np.ndarray) -> pd.Series:
    return pd.Series(values[~np.isnan(values)], dtype=float)


def _extra_cost(costs: pd.Series | None, conforming_costs: pd.Series | None) -> dict[str, float | None]:
    """What the pattern's cases cost (``costs``, the known ones) beyond conforming ones; nothing
    without costs on both sides."""
    if costs is None or conforming_costs is None or conforming_costs.empty:
        return {}
    if costs.empty:
        return {}
    baseline = float(conforming_costs.median())
    return {
        "extra_cost_median": float(costs.median()) - baseline,
        "extra_cost_p90": float(costs.quantile(0.9)) - float(conforming_costs.quantile(0.9)),
        "extra_cost_total": math.fsum((costs - baseline).tolist()),
    }


def root_causes(
    case_ids: Sequence[str], case_attributes: pd.DataFrame, min_support: int = 5
) -> list[RootCause]:
    """Attribute values over-represented among ``case_ids``, by excess cases over expectation."""
    cases = pd.Index(list(case_ids))
    return _CaseAttributes(case_attributes, cases).causes(np.arange(len(cases)), min_support)


class _CaseAttributes:
    """The case attributes as numbers: each attribute's values coded once over all cases, and
    where each of a given set of cases (``cases``) is among them."""

    def __init__(self, case_attributes: pd.DataFrame, cases: pd.Index) -> None:
        self.total = len(case_attributes)
        positions = _positions(cases, case_attributes.index) if self.total else np.full(len(cases), -1)
        self.columns: list[tuple[str, pd.Index, np.ndarray, np.ndarray]] = []
        for attribute in case_attributes.columns:
            codes, values = pd.factorize(case_attributes[attribute])  # NaN and None: -1
            overall = np.bincount(codes[codes >= 0], minlength=len(values))
            # each of ``cases``: its value's code, -1 where it has none or is not a case here
            at_cases = np.where(positions >= 0, codes[np.maximum(positions, 0)], -1) if len(codes) \
                else np.full(len(cases), -1)
            self.columns.append((str(attribute), values, overall, at_cases))

    def causes(self, selected: np.ndarray, min_support: int) -> list[RootCause]:
        """Root causes of the cases at positions ``selected`` of ``cases``."""
        if not self.total or not len(selected):
            return []
        scored: list[tuple[float, RootCause]] = []
        for attribute, values, overall, at_cases in self.columns:
            codes = at_cases[selected]
            among = np.bincount(codes[codes >= 0], minlength=len(values))
            for code in np.flatnonzero(among >= max(min_support, 1)).tolist():
                count = int(among[code])
                base_share = int(overall[code]) / self.total
                support = count / len(selected)
                lift = support / base_share
                if lift <= 1.0:
                    continue
                excess = count - len(selected) * base_share
                scored.append((excess, RootCause(attribute=attribute, value=str(values[code]), cases=count,
                                                 support=float(support), lift=float(lift))))
        scored.sort(key=lambda item: (-item[0], item[1].attribute, item[1].value))
        return [cause for _, cause in scored]
