"""The canonical event schema that every stage speaks, and the in-memory event log it fills."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

EVENT_ID = "event_id"
CASE_ID = "case_id"
ACTIVITY = "activity"
TIMESTAMP = "timestamp"
RESOURCE = "resource"
SOURCE = "source"
ATTRIBUTES = "attributes"

#: Columns of an extracted batch, as the sources produce it and the event store appends it.
BATCH_COLUMNS = [EVENT_ID, CASE_ID, ACTIVITY, TIMESTAMP, RESOURCE, SOURCE, ATTRIBUTES]

#: Columns of the events frame handed to mining and conformance, in this order. Event ids stay
#: in the store (``EventStore.stored_events``): no analysis needs them.
LOG_COLUMNS = [CASE_ID, ACTIVITY, TIMESTAMP, RESOURCE]


@dataclass(frozen=True)
class EventLog:
    """Events of one process, ordered by case and time, plus one row of business attributes a case.

    ``events`` has the columns of ``LOG_COLUMNS``; ``timestamp`` is tz-aware UTC, or all NaT
    when the source only knows the order of events (``has_timestamps`` is then False and timing
    figures are reported as unavailable, never invented). ``activity`` and ``resource`` are text,
    or categories in text order as the event store gives them (a few names repeated a million
    times), so analyses must not count absent categories. ``case_attributes`` is indexed by
    case id, one string column per business attribute (supplier, plant, ...).
    """

    events: pd.DataFrame
    case_attributes: pd.DataFrame
    has_timestamps: bool = True
    #: Each case's cost (float, NaN where nothing says), when the process names a cost attribute.
    case_costs: pd.Series | None = None

    @property
    def case_count(self) -> int:
        return int(self.events[CASE_ID].nunique())

    @property
    def event_count(self) -> int:
        return len(self.events)


@dataclass(frozen=True)
class CaseCost:
    """Where a case's cost comes from: a numeric attribute summed over the case's events (such as
    the cost of each step), or read once per case (``per="case"``: its first value, like every
    case attribute). Values that are not numbers count as unknown."""

    attribute: str
    per: Literal["event", "case"] = "event"


@dataclass(frozen=True)
class CaseVariants:
    """Each case's variant, as a number: a night has hundreds of variants and many thousand cases.

    ``case_ids`` are sorted; ``codes[i]`` is the number of case ``case_ids[i]``'s activity sequence
    in ``sequences`` (distinct sequences, in the order their first case comes).
    """

    case_ids: pd.Index
    codes: np.ndarray
    sequences: list[tuple[str, ...]]


def case_variants(events: pd.DataFrame) -> CaseVariants:
    """Cases grouped by activity sequence, without building one sequence per case."""
    case_ids, starts, activity_codes, activities = _cases_in_order(events)
    if not len(case_ids):
        return CaseVariants(case_ids, np.zeros(0, dtype=np.int64), [])
    lengths = np.diff(np.append(starts, len(activity_codes)))
    codes = _group_equal_sequences(activity_codes, starts, lengths)
    first_case = np.unique(codes, return_index=True)[1]  # codes are numbered in first-seen order
    labels = np.asarray(activities, dtype=object)
    sequences = [tuple(labels[activity_codes[starts[c]:starts[c] + lengths[c]]].tolist()) for c in first_case]
    return CaseVariants(case_ids, codes, sequences)


class UnknownAttributeError(ValueError):
    """A configured attribute that no event carries."""


def require_attribute(cost: CaseCost, known: Iterable[str], where: str, empty: bool = False) -> None:
    """A cost attribute no event carries is a mistake in the configuration, not a cost of zero."""
    names = [str(name) for name in known]
    if not empty and cost.attribute not in names:
        raise UnknownAttributeError(f"cost attribute {cost.attribute!r}: no event of {where} carries it "
                         f"(attributes: {', '.join(names) or 'none'})")


def numbers(values: pd.Series) -> pd.Series:
    """Text values as numbers; what is not a number becomes NaN (unknown), never zero."""
    return pd.to_numeric(values.astype(object), errors="coerce").astype("float64")


def value_counts(values: pd.Series) -> pd.Series:
    """How often each value occurs (unsorted), counting only values that do occur: a categorical
    column (activities, resources from the event store) would count its absent categories too."""
    counts = values.value_counts(sort=False)
    return counts[counts > 0]


def member_of(ids: pd.Index | pd.Series, values: Iterable[str]) -> np.ndarray:
    """Which of the (string) ``ids`` are among ``values``, as a boolean array.

    Through Arrow: pandas 3 checks Arrow-backed strings against a large collection one scalar at a
    time, about 25 times slower (benchmarks/micro.py, docs/benchmarks.md).
    """
    wanted = values if isinstance(values, (pd.Index, pd.Series, np.ndarray)) else list(values)
    left, right = (pa.array(side).cast(pa.large_string()) for side in (ids, wanted))
    return np.asarray(pc.is_in(left, value_set=right).to_numpy(zero_copy_only=False), dtype=bool)


def case_codes(events: pd.DataFrame) -> tuple[np.ndarray, pd.Index]:
    """Each event's case as a number and the case ids by number, in first-seen order (as
    ``pd.factorize`` numbers them). A log in case order (as the event store gives it) is numbered
    where the case changes, without hashing its text (a hash table over every event's case id was
    part of the night's peak memory); other logs are hashed by Arrow."""
    cases = _case_text(events)
    return _case_codes(cases, _in_case_order(cases))


def _case_codes(cases: pa.Array, in_case_order: bool) -> tuple[np.ndarray, pd.Index]:
    if in_case_order:
        starts = _case_starts(cases)
        codes = np.repeat(np.arange(len(starts), dtype=np.int64), np.diff(np.append(starts, len(cases))))
        ids = cases.take(pa.array(starts))
    else:
        encoded = pc.dictionary_encode(cases)
        codes = np.asarray(encoded.indices.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)
        ids = encoded.dictionary
    return codes, _labels(ids)


def case_times(events: pd.DataFrame) -> pd.DataFrame:
    """Each case's first and last event time (columns ``first``, ``last``), indexed by case id in text
    order, as grouping on the case column gives them. A log in case and time order (as the event
    store gives it) has them where each case starts and ends; others are grouped on case numbers.
    Grouping on the text itself was part of the night's peak memory."""
    cases, times = _case_text(events), events[TIMESTAMP]
    in_case_order = _in_case_order(cases)
    if len(cases) and in_case_order and bool(times.notna().all()):
        starts = _case_starts(cases)
        moments = pa.array(times)
        later = pc.less_equal(moments[:-1], moments[1:]).to_numpy(zero_copy_only=False, writable=True)
        later[starts[1:] - 1] = True  # a new case may start earlier than the last one ended
        if later.all():
            ends = np.append(starts[1:], len(cases)) - 1
            return pd.DataFrame({"first": times.iloc[starts].array, "last": times.iloc[ends].array},
                                index=_labels(cases.take(pa.array(starts))))
    codes, ids = _case_codes(cases, in_case_order)
    known = codes >= 0
    spans = times[known].groupby(codes[known]).agg(["min", "max"])
    spans.index = pd.Index(ids.take(spans.index.to_numpy()), name=CASE_ID)
    spans.columns = ["first", "last"]
    return spans if spans.index.is_monotonic_increasing else spans.sort_index()


def case_event_counts(events: pd.DataFrame) -> pd.Series:
    """How many events each case has, indexed by case id in text order (as ``case_times``)."""
    codes, ids = case_codes(events)
    counts = pd.Series(np.bincount(codes[codes >= 0], minlength=len(ids)), index=ids, name="events")
    return counts if counts.index.is_monotonic_increasing else counts.sort_index()


def _labels(ids: pa.Array) -> pd.Index:
    labels: pd.Index = pd.Index(ids.cast(pa.large_string()).to_pandas(), dtype="string", name=CASE_ID)
    return labels


def positions_in(ids: pd.Index, index: pd.Index) -> np.ndarray:
    """Where each of ``ids`` is in ``index`` (-1 where it is not), through Arrow as ``member_of``."""
    left, right = (pa.array(side).cast(pa.large_string()) for side in (ids, index))
    found = pc.index_in(left, value_set=right)
    return np.asarray(found.fill_null(-1).to_numpy(zero_copy_only=False), dtype=np.int64)


def same_ids(ids: pd.Index, other: pd.Index) -> bool:
    """Whether two indexes of case ids hold the same ids in the same order, compared through Arrow."""
    if len(ids) != len(other):
        return False
    left, right = (pa.array(side).cast(pa.large_string()) for side in (ids, other))
    return bool(pc.all(pc.equal(left, right)).as_py() is not False)


def kept_positions(ids: pd.Index, kept: pd.Index) -> np.ndarray:
    """Where each of ``ids`` is among ``kept`` (-1 where it is not), as ``positions_in``; when
    the kept ids are the first of ``ids`` in the same order (a night added cases after all the
    others, as ids that grow with time do), without looking each one up."""
    count = len(kept)
    if 0 < count <= len(ids) and same_ids(ids[:count], kept):
        added = np.full(len(ids) - count, -1, dtype=np.int64)
        return np.concatenate([np.arange(count, dtype=np.int64), added])
    return positions_in(ids, kept)


def cases_of(log: EventLog, cases: pd.Index) -> EventLog:
    """The events and attributes of the given cases only, in the log's order.

    The attribute columns stay the log's: a night's few changed cases may all lack one that the
    window has, and a rule on it must still find it.
    """
    events = log.events.loc[member_of(log.events[CASE_ID], cases)].reset_index(drop=True)
    attributes = log.case_attributes.loc[member_of(log.case_attributes.index, cases)]
    costs = log.case_costs[member_of(log.case_costs.index, cases)] if log.case_costs is not None else None
    return EventLog(events=events, case_attributes=attributes, has_timestamps=log.has_timestamps,
                    case_costs=costs)


def tuples_array(items: Iterable[tuple[str, ...]]) -> np.ndarray:
    """An object array with one tuple per element, to be indexed by codes.

    Filled one by one: ``np.array`` would read tuples of equal length as rows of a 2-D array.
    """
    listed = list(items)
    array = np.empty(len(listed), dtype=object)
    for position, item in enumerate(listed):
        array[position] = item
    return array


def case_sequences(events: pd.DataFrame) -> pd.Series:
    """The activity sequence of each case as a tuple (hashable), indexed by case id, sorted."""
    variants = case_variants(events)
    sequences = tuples_array(variants.sequences)[variants.codes]
    return pd.Series(sequences, index=variants.case_ids, dtype="object")


def _cases_in_order(events: pd.DataFrame) -> tuple[pd.Index, np.ndarray, np.ndarray, pd.Index]:
    """Sorted case ids, where each case's events start, and the activity codes of events in that order.

    Logs come ordered by case (the event store sorts them): then finding where the case changes is
    enough. Otherwise events are put in case order first, keeping each case's events in order.
    """
    activity_codes, activities = pd.factorize(events[ACTIVITY])
    cases = _case_text(events)
    if not _in_case_order(cases):
        case_codes, _ = pd.factorize(events[CASE_ID], sort=True)
        order = np.argsort(case_codes, kind="stable")
        cases = cases.take(pa.array(order))
        activity_codes = activity_codes[order]
    if not len(cases):
        return pd.Index([], dtype=object, name=CASE_ID), np.zeros(0, np.int64), activity_codes, activities
    starts = _case_starts(cases)
    case_ids = pd.Index(cases.take(pa.array(starts)).to_pylist(), dtype=object, name=CASE_ID)
    return case_ids, starts, activity_codes, activities


def _case_text(events: pd.DataFrame) -> pa.Array:
    cases = pa.array(events[CASE_ID].astype("string"))
    return cases.combine_chunks() if isinstance(cases, pa.ChunkedArray) else cases


def _in_case_order(cases: pa.Array) -> bool:
    """Whether each case's events come together, the cases in text order."""
    return len(cases) < 2 or (
        cases.null_count == 0 and pc.all(pc.less_equal(cases[:-1], cases[1:])).as_py() is True)


def _case_starts(cases: pa.Array) -> np.ndarray:
    """Where each case's events start, in events in case order."""
    if not len(cases):
        return np.zeros(0, dtype=np.int64)
    changes = pc.not_equal(cases[1:], cases[:-1]).to_numpy(zero_copy_only=False)
    return np.concatenate([[0], np.flatnonzero(changes) + 1]).astype(np.int64)


_MODULI = (2_147_483_647, 2_147_483_629)  # primes below 2**31: no product leaves int64
_BASES = (1_000_003, 999_983)


def _group_equal_sequences(activity_codes: np.ndarray, starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """A number per case, equal for cases with equal activity sequences, in first-seen order.

    Cases are grouped by two polynomial hashes of their sequence, then every case is compared
    event by event with its group's first case, so a hash collision can never merge two variants
    (should one ever happen, the cases are grouped by their sequences one by one instead). Both
    go a block of cases at a time: over a whole million-event log, each of their temporary
    arrays took 8 MB (the night's peak memory).
    """
    longest = int(lengths.max())
    powers = []
    for modulus, base in zip(_MODULI, _BASES, strict=True):
        power = np.ones(longest, dtype=np.int64)
        for i in range(1, longest):
            power[i] = power[i - 1] * base % modulus
        powers.append(power)
    hashes = [np.empty(len(starts), dtype=np.int64) for _ in _MODULI]
    for cases, events, block_starts, offsets in _case_blocks(starts, lengths):
        values = activity_codes[events].astype(np.int64) + 1
        for found, power, modulus in zip(hashes, powers, _MODULI, strict=True):
            found[cases] = np.add.reduceat(values * power[offsets] % modulus, block_starts) % modulus
    codes = np.asarray(pd.factorize(hashes[0] * (1 << 31) + hashes[1])[0], dtype=np.int64)
    representative = np.unique(codes, return_index=True)[1][codes]
    same = bool((lengths[representative] == lengths).all())
    if same:
        for cases, events, _, offsets in _case_blocks(starts, lengths):
            compared = activity_codes[np.repeat(starts[representative[cases]], lengths[cases]) + offsets]
            if not (activity_codes[events] == compared).all():
                same = False
                break
    if same:
        return codes
    numbering: dict[bytes, int] = {}
    return np.fromiter((numbering.setdefault(activity_codes[a:a + n].tobytes(), len(numbering))
                        for a, n in zip(starts.tolist(), lengths.tolist(), strict=True)),
                       dtype=np.int64, count=len(starts))


_CASES_AT_ONCE = 20_000


def _case_blocks(
    starts: np.ndarray, lengths: np.ndarray
) -> Iterator[tuple[slice, slice, np.ndarray, np.ndarray]]:
    """Consecutive blocks of cases: which cases, which events, where each case starts within the
    block's events, and each event's position within its case."""
    for first in range(0, len(starts), _CASES_AT_ONCE):
        cases = slice(first, first + _CASES_AT_ONCE)
        block_lengths = lengths[cases]
        begin = int(starts[first])
        block_starts = starts[cases] - begin
        offsets = np.arange(int(block_lengths.sum()), dtype=np.int64) - np.repeat(block_starts, block_lengths)
        yield cases, slice(begin, begin + len(offsets)), block_starts, offsets
