"""kaizenflow: nightly process mining that turns deviations into owned, measured improvements.

The few verbs a notebook wants (``kaizenflow.api``), imported on first use so that importing the
package stays cheap::

    import kaizenflow as kf

    log = kf.read_log("receipt.xes.gz")
    result = kf.check(log, kf.load_model("receipt.bpmn"))
    print(result.fitness, [p.key for p in kf.patterns(log, result)])
    summaries = kf.run_night("kaizen.yaml")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from kaizenflow.api import check, load_model, patterns, read_log, run_night

__version__ = "0.1.0"
__all__ = ["__version__", "check", "load_model", "patterns", "read_log", "run_night"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from kaizenflow import api

        return getattr(api, name)
    raise AttributeError(f"module 'kaizenflow' has no attribute {name!r}")
