"""Aligning cold variants on every core: chunks of variants in a pool of worker processes.

The alignment cache leaves a night only its new variants to align; on a hard model (much
concurrency, loops) a few thousand of them take minutes in one process. ``pool_chunks`` gives
``cached_aligner`` a chunk mapper that aligns them in worker processes, the longest variants
first (they take longest, and a late long one would leave the other workers idle at the end),
in chunks small enough to keep every worker busy. Workers are started by the ``forkserver``
method: the parent may run threads (Prefect's, DuckDB's), which ``fork`` would copy mid-flight.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

from kaizenflow.conformance.alignments import ChunkMapper, Variants, align_variants
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import VariantAlignment


def usable_cores() -> int:
    """The cores this process may run on (its affinity), not merely the machine's."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def pool_chunks(
    workers: int | None = None, timeout_seconds: float | None = None, chunk_size: int = 16,
) -> ChunkMapper:
    """A chunk mapper aligning in ``workers`` processes (default: every usable core).

    The chunks it is given are pooled and cut again longest variants first into chunks of
    ``chunk_size``; results come back in the order of the chunks given. One worker, or fewer
    variants than a chunk, align in this process (a pool would only add its start-up time).
    """

    def run(model: DesignedModel, chunks: list[Variants]) -> list[list[VariantAlignment]]:
        variants = [v for chunk in chunks for v in chunk]
        count = workers or usable_cores()
        if count < 2 or len(variants) <= chunk_size:
            aligned = {a.activities: a for a in align_variants(model, variants, timeout_seconds)}
            return [[aligned[activities] for activities, _ in chunk] for chunk in chunks]
        ordered = sorted(variants, key=lambda item: (-len(item[0]), item[0]))
        pieces = [ordered[i:i + chunk_size] for i in range(0, len(ordered), chunk_size)]
        context = multiprocessing.get_context("forkserver")
        with ProcessPoolExecutor(max_workers=min(count, len(pieces)), mp_context=context) as pool:
            futures = [pool.submit(align_variants, model, piece, timeout_seconds) for piece in pieces]
            aligned = {a.activities: a for future in futures for a in future.result()}
        return [[aligned[activities] for activities, _ in chunk] for chunk in chunks]

    return run
