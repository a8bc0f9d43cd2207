"""Public face of the purchase-to-pay simulator: generate, append_days, BPMN_PATH and the CLI."""

# The simulator writes ERP-like business tables, not an event log, so that kaizenflow extracts
# events with SQL as it would from a real system. Cases still running at the snapshot time are
# written only up to it; ``append_days`` moves "now" forward like a nightly extraction would see.

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import sqlalchemy as sa

from kaizenflow.sample_logs.cases import IdCounters, simulate
from kaizenflow.sample_logs.config import SCENARIOS, DeviationRates, Rate, SimulationConfig, SimulationStats
from kaizenflow.sample_logs.master import MasterData, build_master
from kaizenflow.sample_logs.schema import EVENT_TABLES, METADATA
from kaizenflow.sample_logs.store import (
    SimState,
    count_pending,
    load_state,
    move_pending,
    refuse_filled,
    save_state,
    settle_truth,
    write_batch,
    write_master,
)
from kaizenflow.sample_logs.worktime import DAY, ceil_work, unix_seconds

__all__ = [
    "BPMN_PATH",
    "DeviationRates",
    "Rate",
    "SCENARIOS",
    "SimulationConfig",
    "SimulationStats",
    "append_days",
    "generate",
]

BPMN_PATH = Path(__file__).with_name("purchase_to_pay.bpmn")
CASE_CHUNK = 100_000  # cases simulated and written together; bounds memory at any size
_START_STREAM = 0x5EED5  # random stream of arrival times, apart from the per-chunk streams
DEFAULT_CONFIG = SimulationConfig()


def generate(url: str, config: SimulationConfig = DEFAULT_CONFIG) -> SimulationStats:
    """Create the tables at ``url`` and fill them with ``config.cases`` cases up to ``config.end``.

    Refuses (ValueError) a database whose simulator tables already hold data, because mixing
    two simulations would corrupt the ground truth.
    """
    engine = sa.create_engine(url)
    try:
        refuse_filled(engine)
        METADATA.create_all(engine)
        master = build_master(config.seed)
        write_master(engine, master)
        now = unix_seconds(config.end)
        low, high = int(ceil_work(now - config.days * DAY)), int(ceil_work(now + 1))
        if high <= low:
            raise ValueError(f"the {config.days} days before {config.end} hold no working time")
        rng = np.random.default_rng([config.seed, 0, _START_STREAM])
        starts = np.sort(rng.integers(low, high, config.cases))
        ids = IdCounters()
        events, truth = _run_cases(engine, master, starts, 1, config.rates, config.seed, 0, ids, now)
        save_state(engine, SimState(
            seed=config.seed, now=config.end, next_case=config.cases + 1, ids=ids,
            arrivals_per_work_second=config.cases / (high - low), rates=config.rates, runs=1,
        ))
        return SimulationStats(
            cases=config.cases, events=events, ground_truth_rows=truth, ground_truth_removed=0,
            pending_events=count_pending(engine), now=config.end,
        )
    finally:
        engine.dispose()


def append_days(
    url: str, days: int, rates: DeviationRates | None = None, seed: int | None = None
) -> SimulationStats:
    """Advance the snapshot by ``days``: release the events of running cases that now happened,
    and add cases started in the new window at the original arrival rate.

    ``rates`` applies to the new cases only (e.g. a scenario switched off to show that an
    improvement worked); it defaults to the rates of the previous run. ``seed`` defaults to the
    original seed; either way the result is reproducible.
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    if seed is not None and seed < 0:
        raise ValueError(f"seed must be non-negative, got {seed}")
    engine = sa.create_engine(url)
    try:
        state = load_state(engine)
        new_now = state.now + timedelta(days=days)
        events = move_pending(engine, new_now)
        appeared, retracted = settle_truth(engine, state.now, new_now)
        low = int(ceil_work(unix_seconds(state.now) + 1))
        high = int(ceil_work(unix_seconds(new_now) + 1))
        count = round(state.arrivals_per_work_second * (high - low))
        stream = state.seed if seed is None else seed
        rng = np.random.default_rng([stream, state.runs, _START_STREAM])
        starts = np.sort(rng.integers(low, max(high, low + 1), count))
        new_rates = state.rates if rates is None else rates
        master = build_master(state.seed)
        added, truth = _run_cases(
            engine, master, starts, state.next_case, new_rates, stream, state.runs, state.ids,
            unix_seconds(new_now),
        )
        state.now, state.next_case, state.rates = new_now, state.next_case + count, new_rates
        state.runs += 1
        save_state(engine, state)
        return SimulationStats(
            cases=count,
            events={name: events[name] + added[name] for name in events},
            ground_truth_rows=appeared + truth,
            ground_truth_removed=retracted,
            pending_events=count_pending(engine),
            now=new_now,
        )
    finally:
        engine.dispose()


def _run_cases(
    engine: sa.Engine, master: MasterData, starts: np.ndarray, first_case: int,
    rates: DeviationRates, seed: int, run: int, ids: IdCounters, now: int,
) -> tuple[dict[str, int], int]:
    """Simulate and write cases chunk by chunk; each chunk has its own reproducible stream."""
    events = {table.name: 0 for table in EVENT_TABLES}
    truth = 0
    for chunk, low in enumerate(range(0, len(starts), CASE_CHUNK)):
        rng = np.random.default_rng([seed, run, chunk])
        batch = simulate(first_case + low, starts[low : low + CASE_CHUNK], master, rates, rng, ids)
        written, shown = write_batch(engine, batch, now)
        for name, rows in written.items():
            events[name] += rows
        truth += shown
    return events, truth


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m kaizenflow.sample_logs.p2p",
        description="Simulate a purchase-to-pay ERP database with injected, known deviations.",
    )
    parser.add_argument("--url", default="sqlite:///p2p.db", help="SQLAlchemy database URL")
    parser.add_argument("--cases", type=int, default=SimulationConfig.cases)
    parser.add_argument("--seed", type=int, default=None, help="random seed (default 7)")
    parser.add_argument("--days", type=int, default=SimulationConfig.days)
    parser.add_argument(
        "--end", type=datetime.fromisoformat, default=SimulationConfig.end,
        help="snapshot time, naive UTC, e.g. 2026-06-30T18:00",
    )
    parser.add_argument(
        "--append-days", type=int, default=None,
        help="extend an existing simulation by this many days instead of generating",
    )
    parser.add_argument(
        "--disable", action="append", default=[], choices=SCENARIOS, metavar="SCENARIO",
        help="switch a deviation scenario off (repeatable); with --append-days, for new cases",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse(argv)
    try:
        if args.append_days is not None:
            rates = None
            if args.disable:
                rates = load_rates(args.url).without(*args.disable)
            stats = append_days(args.url, args.append_days, rates=rates, seed=args.seed)
        else:
            config = SimulationConfig(
                cases=args.cases, seed=7 if args.seed is None else args.seed, days=args.days,
                end=args.end, rates=DeviationRates().without(*args.disable),
            )
            stats = generate(args.url, config)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"snapshot {stats.now:%Y-%m-%d %H:%M} UTC: {stats.cases} new cases, "
          f"{stats.total_events} events, {stats.ground_truth_rows} ground-truth rows added, "
          f"{stats.ground_truth_removed} retracted, {stats.pending_events} events pending")
    for table, rows in stats.events.items():
        print(f"  {table:<24}{rows:>10}")
    return 0


def load_rates(url: str) -> DeviationRates:
    """The deviation rates the last run at ``url`` used."""
    engine = sa.create_engine(url)
    try:
        return load_state(engine).rates
    finally:
        engine.dispose()


if __name__ == "__main__":
    sys.exit(main())
