"""The nightly drift alarm on simulated purchase-to-pay histories: quiet on noise, quick on a change.

Each history comes straight from the simulator (tests/simulated_p2p.py), cut at a night's
snapshot, so the newest cases are running prefixes as a night reads them.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from simulated_p2p import history

from kaizenflow.mining.drift import newest_period_drift
from kaizenflow.sample_logs.config import DeviationRates, Rate

END = datetime(2026, 6, 30, 18, 0)


def test_a_history_without_change_stays_quiet_in_at_least_95_of_100_seeds() -> None:
    alarms = []
    for seed in range(100):
        found = newest_period_drift(history(seed, END, days=40, cases=400).night(END))
        assert found is not None and found.drift is not None
        assert found.drift.newest_cases >= 40 and found.drift.previous_cases >= 200
        if found.drifted:
            alarms.append(seed)
    assert len(alarms) <= 5, f"the alarm fired on seeds {alarms}"


def test_invoices_posted_before_the_order_from_one_day_on_fire_within_two_nights() -> None:
    change = END - timedelta(days=2)
    changed = replace(DeviationRates(), invoice_before_po=Rate(0.3))  # from 2 % of cases to 30 %
    for seed in range(10):
        simulated = history(seed, END, days=40, cases=1600, change_at=change, changed_rates=changed)
        before = newest_period_drift(simulated.night(change))
        assert before is not None and not before.drifted, f"seed {seed}: alarm before the change"
        nights = [newest_period_drift(simulated.night(change + timedelta(days=n))) for n in (1, 2)]
        fired = [n for n, found in zip((1, 2), nights, strict=True) if found is not None and found.drifted]
        assert fired, f"seed {seed}: no alarm in the two nights after the change"
        first = nights[fired[0] - 1]
        assert first is not None and any("variant mix shifted" in line for line in first.evidence)
