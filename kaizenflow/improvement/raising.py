"""Turning deviation patterns into task proposals: identity, scope, owner, KPI and target."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import pandas as pd

from kaizenflow.conformance.patterns import root_causes
from kaizenflow.conformance.types import (
    INSERTED,
    REPEATED,
    SEGREGATION_OF_DUTIES,
    SKIPPED,
    SLA_BREACH,
    WRONG_ORDER,
    DeviationPattern,
)
from kaizenflow.core.events import member_of
from kaizenflow.improvement.types import TaskProposal

_TITLES = {
    SKIPPED: "Stop skipping '{activity}'",
    INSERTED: "Remove the unplanned step '{activity}'",
    WRONG_ORDER: "Do '{activity}' at its designed point in the process",
    REPEATED: "Stop the rework: '{activity}' done more than once",
    SLA_BREACH: "Meet the service level '{activity}'",
    SEGREGATION_OF_DUTIES: "Enforce segregation of duties: '{activity}'",
}


@dataclass(frozen=True)
class RaisingPolicy:
    """Thresholds a pattern must pass, the attributes a task may be scoped to, and owners."""

    min_cases: int = 5
    min_share: float = 0.01
    target_reduction: float = 0.5
    scope_attributes: Sequence[str] = ()
    min_scope_support: float = 0.4
    min_scope_lift: float = 2.0
    default_owner: str = "process-owner"
    owners_by_attribute: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def fingerprint(process: str, pattern_key: str, business_object: str | None) -> str:
    """A task's stable identity: the same pattern in the same scope is always the same task."""
    text = "\x1f".join([process, pattern_key, business_object or ""])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:20]


def propose_tasks(
    process: str,
    patterns: Sequence[DeviationPattern],
    pattern_cases: Mapping[str, Sequence[str]],
    case_attributes: pd.DataFrame,
    total_cases: int,
    policy: RaisingPolicy,
    min_support: int = 5,
) -> list[TaskProposal]:
    """One proposal per pattern that passes the thresholds, scoped to its main root cause.

    A scoped task's evidence (cases, share, example cases, root causes) is that of its scope
    only: an owner of plant P-03 opening the task must not be shown a case of plant P-06.
    The extra throughput and cost stay the pattern's, process-wide, as their keys say.
    """
    proposals = []
    for pattern in patterns:
        if pattern.cases < policy.min_cases or pattern.share < policy.min_share:
            continue
        scope = _scope(pattern, policy)
        affected = list(pattern_cases.get(pattern.key, ()))
        examples = list(pattern.example_case_ids)
        causes = [{"attribute": c.attribute, "value": c.value, "cases": c.cases, "support": c.support,
                   "lift": c.lift} for c in pattern.root_causes[:3]]
        if scope is None:
            in_scope, affected_in_scope = total_cases, len(affected)
            business_object = None
        else:
            attribute, value = scope
            column = case_attributes[attribute]
            is_scope = (column == value).fillna(False).to_numpy(dtype=bool)
            in_scope = int(is_scope.sum())
            scoped = sorted(str(c) for c in column.index[is_scope & member_of(column.index, affected)])
            affected_in_scope = len(scoped)
            business_object = f"{attribute}={value}"
            examples = scoped[:len(pattern.example_case_ids) or 5]
            within = root_causes(scoped, case_attributes.loc[is_scope], min_support=min_support)
            causes = [{"attribute": c.attribute, "value": c.value, "cases": c.cases, "support": c.support,
                       "lift": c.lift} for c in within[:3]]
        kpi_value = affected_in_scope / in_scope if in_scope else 0.0
        scope_words = f" for {scope[0]} {scope[1]}" if scope else ""
        proposals.append(
            TaskProposal(
                fingerprint=fingerprint(process, pattern.key, business_object),
                process=process,
                pattern_key=pattern.key,
                title=_TITLES.get(pattern.kind, "Address '{activity}'").format(
                    activity=pattern.activity
                ) + scope_words,
                business_object=business_object,
                owner=_owner(scope, policy),
                kpi_name=f"share of cases with {pattern.kind.replace('_', ' ')} "
                         f"'{pattern.activity}'{scope_words}",
                kpi_value=kpi_value,
                target_value=kpi_value * (1 - policy.target_reduction),
                cases=affected_in_scope,
                cases_in_scope=in_scope,
                evidence={
                    "pattern": pattern.key,
                    **({"scope": business_object} if business_object else {}),
                    "cases": affected_in_scope,
                    "share": kpi_value,
                    "pattern_cases": pattern.cases,
                    "pattern_share": pattern.share,
                    "extra_throughput_median_hours": pattern.extra_throughput_median_hours,
                    **({"extra_cost_median": pattern.extra_cost_median,
                        "extra_cost_total": pattern.extra_cost_total}
                       if pattern.extra_cost_median is not None else {}),
                    "example_case_ids": examples,
                    "root_causes": causes,
                },
            )
        )
    return proposals


def _scope(pattern: DeviationPattern, policy: RaisingPolicy) -> tuple[str, str] | None:
    for cause in pattern.root_causes:
        if (
            cause.attribute in policy.scope_attributes
            and cause.support >= policy.min_scope_support
            and cause.lift >= policy.min_scope_lift
        ):
            return cause.attribute, cause.value
    return None


def _owner(scope: tuple[str, str] | None, policy: RaisingPolicy) -> str:
    if scope is not None:
        by_value = policy.owners_by_attribute.get(scope[0], {})
        owner = by_value.get(scope[1]) or by_value.get("*")
        if owner:
            return owner
    return policy.default_owner
