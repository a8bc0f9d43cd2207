"""Grouping deviations into patterns, with their cost in time and the business objects behind them."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from conformance.types import ConformanceResult, Deviation, DeviationPattern, RootCause, deviation_table
from kaizenflow.events import member_of


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
    conforming_hours = throughput_hours.reindex(pd.Index(conforming_case_ids)).dropna()
    conforming_costs = (case_costs.reindex(pd.Index(conforming_case_ids)).dropna()
                        if case_costs is not None else None)
    overall = _value_counts(case_attributes)
    patterns = []
    for (kind, activity), group in frame.groupby(["kind", "activity"], sort=True):
        case_ids = sorted(group["case_id"].unique())
        hours = throughput_hours.reindex(case_ids).dropna()
        median_extra = p90_extra = None
        if len(hours) and len(conforming_hours):
            median_extra = float(hours.median() - conforming_hours.median())
            p90_extra = float(hours.quantile(0.9) - conforming_hours.quantile(0.9))
        patterns.append(
            DeviationPattern(
                kind=str(kind),
                activity=str(activity),
                cases=len(case_ids),
                share=len(case_ids) / total_cases,
                extra_throughput_median_hours=median_extra,
                extra_throughput_p90_hours=p90_extra,
                root_causes=tuple(
                    root_causes(case_ids, case_attributes, min_support, overall)[:max_root_causes]
                ),
                example_case_ids=tuple(case_ids[:examples]),
                **_extra_cost(case_ids, case_costs, conforming_costs),
            )
        )
    patterns.sort(key=lambda p: (-p.cases, p.kind, p.activity))
    return patterns


def _extra_cost(
    case_ids: Sequence[str], case_costs: pd.Series | None, conforming_costs: pd.Series | None
) -> dict[str, float | None]:
    """What the pattern's cases cost beyond conforming ones; nothing without costs on both sides."""
    if case_costs is None or conforming_costs is None or conforming_costs.empty:
        return {}
    costs = case_costs.reindex(list(case_ids)).dropna()
    if costs.empty:
        return {}
    baseline = float(conforming_costs.median())
    return {
        "extra_cost_median": float(costs.median()) - baseline,
        "extra_cost_p90": float(costs.quantile(0.9)) - float(conforming_costs.quantile(0.9)),
        "extra_cost_total": math.fsum((costs - baseline).tolist()),
    }


def _value_counts(case_attributes: pd.DataFrame) -> dict[str, dict[object, int]]:
    return {str(attribute): case_attributes[attribute].value_counts(dropna=True).to_dict()
            for attribute in case_attributes.columns}


def root_causes(
    case_ids: Sequence[str], case_attributes: pd.DataFrame, min_support: int = 5,
    value_counts: dict[str, dict[object, int]] | None = None,
) -> list[RootCause]:
    """Attribute values over-represented among ``case_ids``, by excess cases over expectation.

    ``value_counts`` are each attribute's counts over all cases, when the caller has them already.
    """
    if case_attributes.empty or not len(case_ids):
        return []
    if value_counts is None:
        value_counts = _value_counts(case_attributes)
    affected = case_attributes.reindex(list(case_ids))
    total = len(case_attributes)
    scored: list[tuple[float, RootCause]] = []
    for attribute in case_attributes.columns:
        overall = value_counts[str(attribute)]
        among: dict[object, int] = affected[attribute].value_counts(dropna=True).to_dict()
        for value, count in among.items():
            if count < min_support:
                continue
            base_share = overall[value] / total
            support = count / len(case_ids)
            lift = support / base_share
            if lift <= 1.0:
                continue
            excess = count - len(case_ids) * base_share
            scored.append(
                (excess, RootCause(attribute=str(attribute), value=str(value), cases=int(count),
                                   support=float(support), lift=float(lift)))
            )
    scored.sort(key=lambda item: (-item[0], item[1].attribute, item[1].value))
    return [cause for _, cause in scored]
