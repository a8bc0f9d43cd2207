"""The event store gives activities and resources as categories: every analysis must read them as
it reads text (a categorical counts its absent categories, sorts by its own order, refuses new names)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pandas as pd
import pytest

from kaizenflow.core.events import EventLog, cases_of
from kaizenflow.mining import bottlenecks, discovery, organisation, performance, profile, rework, variants
from kaizenflow.pipeline import stages
from kaizenflow.sources.files import read_events_file
from kaizenflow.storage import EventStore


@pytest.fixture(scope="module")
def stored_receipt(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> EventLog:
    batch = read_events_file(shared_data / "logs" / "receipt.xes.gz", process="receipt")
    store = EventStore(tmp_path_factory.mktemp("store") / "events.duckdb")
    store.append("receipt", "r1", batch, {batch["source"].iloc[0]: 0})
    return store.read_log("receipt")


def _as_text(log: EventLog) -> EventLog:
    events = log.events.copy()
    for column in ("activity", "resource"):
        events[column] = events[column].astype(object).where(events[column].notna(), pd.NA).astype("string")
    return dataclasses.replace(log, events=events)


def _analyses(log: EventLog) -> dict[str, object]:
    return {
        "process map": discovery.discover_process_map(log), "variants": discovery.discover_variants(log),
        "bottlenecks": bottlenecks.find_bottlenecks(log), "rework": rework.analyse_rework(log),
        "resources": organisation.resources_per_activity(log),
        "handovers": organisation.resource_handovers(log), "workload": organisation.workload(log),
        "performance": performance.analyse_performance(log), "profile": profile.profile_log(log),
        "variant groups": variants.group_variants(log), "drift": stages.drift(log),
    }


def test_the_store_gives_activities_and_resources_as_categories_in_text_order(
    stored_receipt: EventLog,
) -> None:
    for column in ("activity", "resource"):
        categories = stored_receipt.events[column].cat.categories
        assert list(categories) == sorted(categories)


@pytest.mark.parametrize("half", [False, True], ids=["whole log", "half of its cases"])
def test_analyses_of_categorical_columns_equal_those_of_text_columns(
    stored_receipt: EventLog, half: bool,
) -> None:
    log = stored_receipt
    if half:  # absent categories: a subset keeps all of the window's
        log = cases_of(log, pd.Index(log.case_attributes.index[::2]))
    categorical, text = _analyses(log), _analyses(_as_text(log))
    for name, found in categorical.items():
        assert repr(found) == repr(text[name]), name
