"""Accepted deviations: patterns a process owner has accepted stop counting until they expire."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from kaizenflow.conformance.types import ConformanceResult, Deviation


def set_aside_accepted(
    result: ConformanceResult,
    accepted: Sequence[Mapping[str, object]],
    case_attributes: pd.DataFrame,
) -> tuple[ConformanceResult, list[Deviation]]:
    """The result without accepted deviations (cases left with none conform), and those set aside.

    An acceptance names a pattern (``kind:activity``) and optionally a business object
    (``attribute=value``): then only the cases of that object are accepted.
    """
    if not accepted:
        return result, []
    rules: list[tuple[str, str | None, str | None]] = []
    for acceptance in accepted:
        scope = acceptance.get("business_object")
        attribute, _, value = str(scope).partition("=") if scope else (None, "", None)
        rules.append((str(acceptance["pattern_key"]), attribute, value))
    kept, set_aside = [], []
    for deviation in result.deviations:
        key = f"{deviation.kind}:{deviation.activity}"
        if any(key == pattern and _in_scope(deviation.case_id, attribute, value, case_attributes)
               for pattern, attribute, value in rules):
            set_aside.append(deviation)
        else:
            kept.append(deviation)
    newly_conforming = {d.case_id for d in set_aside} - {d.case_id for d in kept}
    adjusted = result.with_deviations(kept, conforming_cases=result.conforming_cases + len(newly_conforming))
    return adjusted, set_aside


def _in_scope(case_id: str, attribute: str | None, value: str | None, attributes: pd.DataFrame) -> bool:
    if attribute is None:
        return True
    if attribute not in attributes.columns or case_id not in attributes.index:
        return False
    return bool(attributes.at[case_id, attribute] == value)
