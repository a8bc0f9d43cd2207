"""Alignments are computed once per variant and model, and kept across runs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from eventlogs import log_from_rows, sequential_model

from kaizenflow.conformance.alignments import align_variants, cached_aligner
from kaizenflow.conformance.check import check_log
from kaizenflow.conformance.models import DesignedModel
from kaizenflow.conformance.types import VariantAlignment
from kaizenflow.storage.alignment_cache import AlignmentCacheFile

MODEL = sequential_model("a", "b", "c")
VARIANTS = [(("a", "b", "c"), 3), (("a", "c"), 2), (("c", "a", "b"), 1)]


class CountingCache(AlignmentCacheFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.stored = 0

    def put_many(self, model_hash: str, alignments: Sequence[VariantAlignment]) -> None:
        self.stored += len(alignments)
        super().put_many(model_hash, alignments)


def test_the_cache_returns_exactly_what_was_aligned(tmp_path: Path) -> None:
    cache = AlignmentCacheFile(tmp_path / "alignments.db")
    aligned = align_variants(MODEL, VARIANTS)
    cache.put_many(MODEL.model_hash, aligned)
    found = cache.get_many(MODEL.model_hash, [v for v, _ in VARIANTS])
    for alignment in aligned:
        cached = found[alignment.activities]
        assert (cached.cost, cached.fitness, cached.bwc, cached.moves) == (
            alignment.cost, alignment.fitness, alignment.bwc, alignment.moves)


def test_a_second_night_aligns_no_variant_it_has_seen(tmp_path: Path) -> None:
    chunks_aligned: list[int] = []

    def counting_map(model: DesignedModel, chunks):  # type: ignore[no-untyped-def]
        chunks_aligned.append(sum(len(c) for c in chunks))
        return [align_variants(model, chunk) for chunk in chunks]

    cache = CountingCache(tmp_path / "alignments.db")
    aligner = cached_aligner(cache, map_chunks=counting_map, chunk_size=1)
    first = aligner(MODEL, VARIANTS)
    again = aligner(MODEL, [(v, n + 10) for v, n in VARIANTS])
    assert chunks_aligned == [3]
    assert cache.stored == 3
    assert [a.moves for a in again] == [a.moves for a in first]
    assert [a.cases for a in again] == [13, 12, 11]


def test_a_changed_model_is_aligned_anew(tmp_path: Path) -> None:
    cache = CountingCache(tmp_path / "alignments.db")
    aligner = cached_aligner(cache)
    aligner(MODEL, VARIANTS)
    other = sequential_model("a", "c")
    other = DesignedModel(**{**other.__dict__, "model_hash": "other"})
    aligner(other, VARIANTS)
    assert cache.stored == 6


def test_checking_with_the_cache_gives_the_same_result_as_without(tmp_path: Path) -> None:
    rows = [(c, a, f"2024-01-01T{8 + i:02d}:00:00Z", "u")
            for c, seq in (("1", "a b c"), ("2", "a c"), ("3", "c a b"))
            for i, a in enumerate(seq.split())]
    log = log_from_rows(rows)
    plain = check_log(log, MODEL, open_case_horizon_days=1e-6)
    cache = AlignmentCacheFile(tmp_path / "alignments.db")
    cached = check_log(log, MODEL, open_case_horizon_days=1e-6, aligner=cached_aligner(cache))
    warm = check_log(log, MODEL, open_case_horizon_days=1e-6, aligner=cached_aligner(cache))
    assert plain.deviations == cached.deviations == warm.deviations
    assert plain.fitness == cached.fitness == warm.fitness
