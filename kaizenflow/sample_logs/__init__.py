"""Sample data for kaizenflow: a purchase-to-pay ERP simulator with known, injected deviations."""

# Names are re-exported lazily from ``kaizenflow.sample_logs.p2p`` so that ``python -m
# kaizenflow.sample_logs.p2p`` does not import the module twice
# (runpy warns when a package pre-imports its __main__).

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaizenflow.sample_logs.p2p import (
        BPMN_PATH,
        SCENARIOS,
        DeviationRates,
        Rate,
        SimulationConfig,
        SimulationStats,
        append_days,
        generate,
    )

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


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kaizenflow.sample_logs import p2p

        return getattr(p2p, name)
    raise AttributeError(f"module 'sample_logs' has no attribute {name!r}")
