"""Grouping cases by their activity sequence: exact, whatever the order events come in."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
import pytest

from kaizenflow.core import events as event_schema
from kaizenflow.core.events import case_sequences, case_variants


def _events(traces: dict[str, str]) -> pd.DataFrame:
    """One event per letter; timestamps only order the events of a case."""
    rows = [(case, activity, pd.Timestamp("2026-01-01", tz="UTC") + pd.Timedelta(minutes=i))
            for case, trace in traces.items() for i, activity in enumerate(trace)]
    return pd.DataFrame(rows, columns=["case_id", "activity", "timestamp"])


TRACES = {"c1": "abcd", "c2": "abdc", "c3": "abcd", "c4": "a", "c5": "abcd", "c6": "ba", "c7": "ab"}


def test_cases_with_the_same_sequence_share_a_variant_and_no_others_do() -> None:
    variants = case_variants(_events(TRACES))
    assert variants.case_ids.tolist() == sorted(TRACES)
    expected = [tuple(trace) for _, trace in sorted(TRACES.items())]
    assert [variants.sequences[code] for code in variants.codes] == expected
    assert len(variants.sequences) == len(set(TRACES.values()))
    assert Counter(variants.codes.tolist())[variants.codes[0]] == 3  # c1, c3, c5


def test_events_out_of_case_order_give_the_same_variants() -> None:
    ordered = _events(TRACES)
    shuffled = ordered.sample(frac=1, random_state=7).sort_values("timestamp", kind="stable")
    assert case_sequences(shuffled).equals(case_sequences(ordered))


def test_a_hash_collision_never_merges_two_variants(monkeypatch: pytest.MonkeyPatch) -> None:
    """With tiny moduli almost every sequence collides; the event-by-event comparison catches it."""
    rng = np.random.default_rng(3)
    traces = {f"case-{i:04d}": "".join(rng.choice(list("abcdef"), size=rng.integers(1, 8)))
              for i in range(2_000)}
    expected = case_sequences(_events(traces))
    monkeypatch.setattr(event_schema, "_MODULI", (3, 5))
    monkeypatch.setattr(event_schema, "_BASES", (2, 2))
    assert case_sequences(_events(traces)).equals(expected)
    assert expected.tolist() == [tuple(traces[case]) for case in expected.index]


def test_an_empty_log_has_no_variants() -> None:
    variants = case_variants(_events({}))
    assert len(variants.case_ids) == 0 and variants.sequences == [] and len(variants.codes) == 0


@pytest.mark.parametrize("colliding", [False, True], ids=["distinct hashes", "colliding hashes"])
def test_cases_are_grouped_alike_across_blocks_of_cases(
    monkeypatch: pytest.MonkeyPatch, colliding: bool,
) -> None:
    """Hashing and comparing go a block of cases at a time: blocks of 7 cases give the sequences
    of the cases themselves, and a variant's cases may lie in different blocks."""
    rng = np.random.default_rng(11)
    traces = {f"case-{i:04d}": "".join(rng.choice(list("abc"), size=rng.integers(1, 5))) for i in range(500)}
    monkeypatch.setattr(event_schema, "_CASES_AT_ONCE", 7)
    if colliding:
        monkeypatch.setattr(event_schema, "_MODULI", (3, 5))
        monkeypatch.setattr(event_schema, "_BASES", (2, 2))
    variants = case_variants(_events(traces))
    assert [variants.sequences[code] for code in variants.codes] == [tuple(traces[c]) for c in sorted(traces)]
    assert len(variants.sequences) == len(set(traces.values()))
