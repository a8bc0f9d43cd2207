"""Accepted deviations: patterns a process owner has accepted stop counting until they expire, and
what each acceptance did to a run (who, why, until when, and the headline's move)."""

from __future__ import annotations

import difflib
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, cast

from kaizenflow.conformance.types import DEVIATION_KINDS, ConformanceResult, Deviation
from kaizenflow.improvement.lifecycle import TransitionError

if TYPE_CHECKING:  # frames are only passed in: the state store's light commands need no pandas
    import pandas as pd


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


def check_pattern_format(pattern_key: str, business_object: str | None = None) -> None:
    """The key must name a deviation kind and an activity or rule, and an object must be
    attribute=value: a mistyped one would be stored and then match nothing, silently."""
    kind, _, activity = pattern_key.partition(":")
    if kind not in DEVIATION_KINDS or not activity:
        raise TransitionError(
            f"pattern {pattern_key!r} is not kind:activity with a kind of {', '.join(DEVIATION_KINDS)}"
            " (the report and `kaizen deviations` show the keys)"
        )
    if business_object is not None:
        attribute, equals, value = business_object.partition("=")
        if not (attribute.strip() and equals and value.strip()):
            raise TransitionError(
                f"object {business_object!r} is not attribute=value (for example plant=P-03)"
            )


class UnknownPatternError(TransitionError):
    """An acceptance names a pattern the latest run did not see; the message names close ones."""


def check_known_pattern(pattern_key: str, known: Collection[str], process: str) -> None:
    """Refuse a pattern key no run has seen, naming the closest known keys (a typo is the rule:
    ``Receive-Invoice`` for ``Receive Invoice``); an accepted typo would match nothing, silently."""
    if pattern_key in known:
        return
    close = difflib.get_close_matches(pattern_key, sorted(known), n=3, cutoff=0.6)
    hint = f"; did you mean {', '.join(repr(k) for k in close)}?" if close else ""
    listing = "" if close else (f"; known: {', '.join(sorted(known)[:8])}" if known else "")
    raise UnknownPatternError(
        f"pattern {pattern_key!r} was not found in the latest run of {process}{hint}{listing} "
        "(`kaizen deviations` lists the patterns as kind:activity)"
    )


@dataclass(frozen=True)
class AcceptanceNote:
    """One acceptance in force during a run: who accepted what, why, until when, and what it did.

    ``cases`` had a deviation it set aside; ``conforming_cases`` conform only because of
    acceptances (they had no other deviation) and this one set aside one of theirs.
    """

    acceptance_id: int
    pattern_key: str
    business_object: str | None
    reason: str
    accepted_by: str
    accepted_at: datetime
    expires_at: datetime
    cases: int
    conforming_cases: int


@dataclass(frozen=True)
class AcceptanceEffect:
    """How far acceptances moved the headline: conforming cases with and without them."""

    cases: int
    conforming_cases: int
    conforming_without_acceptances: int

    @property
    def gained(self) -> int:
        return self.conforming_cases - self.conforming_without_acceptances

    @property
    def share_points(self) -> float:
        """Percentage points of conformance that acceptances added."""
        return 100 * self.gained / self.cases if self.cases else 0.0

    def describe(self) -> str:
        if not self.gained:
            return "acceptances changed no case's conformance"
        without = self.conforming_without_acceptances / self.cases if self.cases else 0.0
        return (f"{self.gained:,} cases conform only because of accepted deviations: conformance "
                f"{without:.1%} without acceptances, {self.share_points:+.1f} points with them")


def describe_acceptances(
    result: ConformanceResult,
    set_aside: Sequence[Deviation],
    accepted: Sequence[Mapping[str, object]],
    case_attributes: pd.DataFrame,
) -> tuple[list[AcceptanceNote], AcceptanceEffect]:
    """What each acceptance in force did this run, and the headline's move: ``result`` is the
    checking result with accepted deviations already set aside (:func:`set_aside_accepted`)."""
    still_deviating = set(result.deviation_table["case_id"].astype(str).tolist())
    only_accepted = {d.case_id for d in set_aside} - still_deviating
    notes = []
    for acceptance in accepted:
        scope = acceptance.get("business_object")
        attribute, _, value = str(scope).partition("=") if scope else (None, "", None)
        key = str(acceptance["pattern_key"])
        cases = {d.case_id for d in set_aside if f"{d.kind}:{d.activity}" == key
                 and _in_scope(d.case_id, attribute, value, case_attributes)}
        notes.append(AcceptanceNote(
            acceptance_id=int(cast(int, acceptance["id"])), pattern_key=key,
            business_object=str(scope) if scope else None, reason=str(acceptance["reason"]),
            accepted_by=str(acceptance["accepted_by"]),
            accepted_at=_utc(cast(datetime, acceptance["accepted_at"])),
            expires_at=_utc(cast(datetime, acceptance["expires_at"])),
            cases=len(cases), conforming_cases=len(cases & only_accepted),
        ))
    effect = AcceptanceEffect(cases=result.cases, conforming_cases=result.conforming_cases,
                              conforming_without_acceptances=result.conforming_cases - len(only_accepted))
    return notes, effect


def _utc(moment: datetime) -> datetime:
    """The state database gives naive UTC back on SQLite."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
