"""Grouping of near-identical variants: sequences that differ only by repeated steps share a representative.

In a real log most variants are one-offs that differ from a main path only because a step was
done twice (``a b b c``) or a pair went back and forth (``a b c b c d``). Counting them apart
spreads one path over a long tail; grouping them under the collapsed sequence shows how many
cases really follow each path, while the members keep the detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from kaizenflow.core.events import EventLog
from kaizenflow.mining.discovery import case_throughput_hours, case_variants
from kaizenflow.mining.types import Variant


@dataclass(frozen=True)
class VariantGroup:
    """Cases whose variants collapse to ``representative``; ``members`` are those variants, largest first."""

    representative: tuple[str, ...]
    cases: int
    share: float
    median_throughput_hours: float | None
    members: tuple[Variant, ...]


def collapse_repeats(activities: Sequence[str], loops: bool = False) -> tuple[str, ...]:
    """``a b b c`` -> ``a b c``; with ``loops`` also ``a b c b c d`` -> ``a b c d``.

    A loop of length two is a pair repeated back to back (``x y x y``); it collapses to one
    pass, left to right, so ``b a b a b`` becomes ``b a b``. Collapsing twice changes nothing.
    """
    collapsed: list[str] = []
    for activity in activities:
        if collapsed and collapsed[-1] == activity:
            continue
        collapsed.append(activity)
        if loops and len(collapsed) >= 4 and collapsed[-2:] == collapsed[-4:-2]:
            del collapsed[-2:]
    return tuple(collapsed)


def group_variants(log: EventLog, loops: bool = False) -> list[VariantGroup]:
    """Variants grouped by their collapsed sequence, largest group first, with median throughput.

    The median is over the cases of the group, not a median of the members' medians.
    """
    sequences = case_variants(log)
    total = len(sequences)
    if not total:
        return []
    variant_codes, unique_variants = pd.factorize(sequences)
    variants: list[tuple[str, ...]] = list(unique_variants)
    group_codes, unique_groups = pd.factorize(
        pd.Series([collapse_repeats(v, loops) for v in variants], dtype="object")
    )
    groups: list[tuple[str, ...]] = list(unique_groups)
    group_of_variant: list[int] = group_codes.tolist()
    hours = case_throughput_hours(log)
    frame = pd.DataFrame({
        "variant": variant_codes, "group": group_codes[variant_codes],
        "hours": hours.reindex(sequences.index).to_numpy() if len(hours) else np.nan,
    })
    by_group = frame.groupby("group")["hours"].agg(["size", "median"])
    by_variant = frame.groupby("variant")["hours"].agg(["size", "median"])
    members: dict[int, list[Variant]] = {}
    for code, cases, median in by_variant.itertuples(name=None):
        members.setdefault(group_of_variant[code], []).append(Variant(
            activities=variants[code], cases=int(cases), share=int(cases) / total,
            median_throughput_hours=_hours(median, log),
        ))
    found = [
        VariantGroup(
            representative=groups[code], cases=int(cases), share=int(cases) / total,
            median_throughput_hours=_hours(median, log),
            members=tuple(sorted(members[int(code)], key=lambda v: (-v.cases, v.activities))),
        )
        for code, cases, median in by_group.itertuples(name=None)
    ]
    return sorted(found, key=lambda g: (-g.cases, g.representative))


def _hours(value: float, log: EventLog) -> float | None:
    return None if not log.has_timestamps or pd.isna(value) else float(value)
