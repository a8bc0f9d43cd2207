"""A task's life: which status changes are allowed, and whether a finished improvement worked."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from kaizenflow.improvement.types import (
    ACKNOWLEDGED,
    CLOSED,
    DISMISSED,
    DONE,
    IN_PROGRESS,
    NOT_EFFECTIVE,
    OPEN,
    VERIFIED_EFFECTIVE,
    Task,
)

#: What a person may do to a task in each status (runs move done tasks to a verdict).
MANUAL_TRANSITIONS: dict[str, frozenset[str]] = {
    OPEN: frozenset({ACKNOWLEDGED, IN_PROGRESS, DONE, DISMISSED}),
    ACKNOWLEDGED: frozenset({IN_PROGRESS, DONE, DISMISSED}),
    IN_PROGRESS: frozenset({DONE, DISMISSED}),
    DONE: frozenset({IN_PROGRESS, DISMISSED}),
    VERIFIED_EFFECTIVE: frozenset({CLOSED}),
    NOT_EFFECTIVE: frozenset({IN_PROGRESS, DISMISSED, CLOSED}),
    CLOSED: frozenset({OPEN}),
    DISMISSED: frozenset({OPEN}),
}

#: Statuses in which a run keeps the task's figures up to date and may close it when its
#: pattern has gone away.
ACTIVE = frozenset({OPEN, ACKNOWLEDGED, IN_PROGRESS})
#: Statuses a returning pattern reopens: the improvement did not last.
REOPENABLE = frozenset({VERIFIED_EFFECTIVE, CLOSED})


def measured_since(task: Task) -> datetime | None:
    """When a task's after-change figures start: the change of a done task, and of a verified or
    closed one, whose reopening rests on the same cases as its verdict."""
    if task.status == DONE or task.status in REOPENABLE:
        return task.changed_at
    return None


class TransitionError(ValueError):
    """A status change that the lifecycle does not allow; the message says what is allowed."""


def check_transition(current: str, wanted: str, reason: str | None = None) -> None:
    allowed = MANUAL_TRANSITIONS.get(current, frozenset())
    if wanted not in allowed:
        options = ", ".join(sorted(allowed)) or "none"
        raise TransitionError(f"a task that is {current} cannot become {wanted} (allowed: {options})")
    if wanted == DISMISSED and not (reason and reason.strip()):
        raise TransitionError("dismissing a task needs a reason")


@dataclass(frozen=True)
class EffectCheck:
    """The KPI after the change against the frozen baseline, and what it means.

    ``verdict`` is ``effective``, ``not_effective`` or ``not_enough_data``; ``p_value`` is that
    of a one-sided two-proportion z-test (after < baseline).
    """

    verdict: str
    baseline: float
    baseline_cases: int
    after: float | None
    after_cases: int
    p_value: float | None
    window_complete: bool

    def describe(self) -> str:
        if self.after is None:
            return f"not enough data yet: {self.after_cases} finished cases since the change"
        p = "n/a" if self.p_value is None else f"{self.p_value:.3g}"
        return (f"{self.verdict.replace('_', ' ')}: {self.after:.1%} of {self.after_cases} cases "
                f"after the change vs {self.baseline:.1%} of {self.baseline_cases} before (p = {p})")


def effect_of_change(
    baseline_affected: int,
    baseline_cases: int,
    after_affected: int,
    after_cases: int,
    window_complete: bool,
    min_cases: int = 30,
    alpha: float = 0.05,
) -> EffectCheck:
    """Did the share of affected cases fall after the change?

    Effective as soon as the drop is significant with enough cases; not effective only once
    the evaluation window is over without a significant drop; otherwise wait for more data.
    """
    baseline = baseline_affected / baseline_cases if baseline_cases else 0.0
    if after_cases < min_cases or baseline_cases < min_cases:
        return EffectCheck("not_enough_data", baseline, baseline_cases, None, after_cases, None,
                           window_complete)
    after = after_affected / after_cases
    p_value = _one_sided_two_proportion_p(baseline_affected, baseline_cases, after_affected, after_cases)
    if after < baseline and p_value < alpha:
        verdict = "effective"
    elif window_complete:
        verdict = "not_effective"
    else:
        verdict = "not_enough_data"
    return EffectCheck(verdict, baseline, baseline_cases, after, after_cases, p_value, window_complete)


def _one_sided_two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """P(a drop at least this large | no change), pooled normal approximation."""
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0 if x2 / n2 >= x1 / n1 else 0.0
    z = (x1 / n1 - x2 / n2) / spread
    return 0.5 * math.erfc(z / math.sqrt(2))


@dataclass(frozen=True)
class Recurrence:
    """Whether a verified task's pattern is back, judged on the cases started since its change.

    The cases that started before the change stay in the window for weeks and still show the
    pattern; counting them reopened a verified task the night after its verdict.
    """

    back: bool
    affected: int
    cases: int
    since: datetime
    baseline: float
    p_value: float | None

    @property
    def share(self) -> float:
        return self.affected / self.cases if self.cases else 0.0

    def describe(self) -> str:
        p = "n/a" if self.p_value is None else f"{self.p_value:.3g}"
        return (f"the pattern is back: {self.affected} of {self.cases} cases started since the change on "
                f"{self.since:%Y-%m-%d} ({self.share:.1%}, baseline {self.baseline:.1%}, p = {p})")


def recurrence(
    baseline_affected: int,
    baseline_cases: int,
    after_affected: int,
    after_cases: int,
    target: float,
    since: datetime,
    min_cases: int = 30,
    alpha: float = 0.05,
) -> Recurrence:
    """Is the pattern back among the cases started since the change?

    Back when there are enough of them, their share is above the task's target, and it is no
    longer significantly below the baseline: the evidence that made the task verified effective
    is gone. Both conditions together keep a verdict from flapping on one unlucky night.
    """
    baseline = baseline_affected / baseline_cases if baseline_cases else 0.0
    if after_cases < min_cases or baseline_cases < min_cases:
        return Recurrence(False, after_affected, after_cases, since, baseline, None)
    p_value = _one_sided_two_proportion_p(baseline_affected, baseline_cases, after_affected, after_cases)
    back = after_affected / after_cases > target and p_value >= alpha
    return Recurrence(back, after_affected, after_cases, since, baseline, p_value)
