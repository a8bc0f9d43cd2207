"""The alignment task: what the flow sends to its workers, in a module light enough to import there.

A process-pool or Dask worker imports the module of each task it runs; this one needs Prefect and
the alignment code only, not the whole nightly flow with its mining, reports and statistics.
"""

from __future__ import annotations

import os

from prefect import task
from prefect.cache_policies import NO_CACHE

from kaizenflow.conformance.alignments import ChunkMapper, Variants, align_variants
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import VariantAlignment


@task(cache_policy=NO_CACHE, task_run_name="align-{size}-variants")
def align_chunk(
    model: DesignedModel, chunk: Variants, timeout_seconds: float, size: int
) -> list[VariantAlignment]:
    os.environ["PM4PY_SHOW_PROGRESS_BAR"] = "false"  # pm4py's bars would flood the worker logs
    return align_variants(model, chunk, timeout_seconds)


def submit_chunks(timeout_seconds: float) -> ChunkMapper:
    """Alignment chunks as tasks on the flow's task runner (processes, threads or Dask)."""

    def run(model: DesignedModel, chunks: list[Variants]) -> list[list[VariantAlignment]]:
        futures = [align_chunk.submit(model, chunk, timeout_seconds, len(chunk)) for chunk in chunks]
        return [future.result() for future in futures]

    return run
