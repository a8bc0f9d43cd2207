"""Tests of the designed model drawing with deviations laid over it, and of the counts behind it."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from report_fixtures import BACKSLASHES, HOSTILE, IMG, SCRIPT, SVG_NS, designed_model, svg_texts

from kaizenflow.conformance.types import (
    INSERTED,
    REPEATED,
    SEGREGATION_OF_DUTIES,
    SKIPPED,
    WRONG_ORDER,
    Deviation,
    Move,
    VariantAlignment,
)
from kaizenflow.reports.model_overlay import (
    build_model_digraph,
    designed_model_svg,
    deviation_counts,
    html_text,
    move_counts,
)

ACTIVITIES = ("Create PO", "Approve PO", "Receive Goods", "Pay Invoice")


def alignment(cases: int, *moves: tuple[str | None, str | None], checked: bool = True) -> VariantAlignment:
    activities = tuple(log for log, _ in moves if log is not None)
    return VariantAlignment(activities, cases, 0.0, 1.0, tuple(Move(log, model) for log, model in moves),
                            checked=checked)


def test_move_counts_weigh_each_move_by_the_cases_of_its_variant() -> None:
    alignments = [
        alignment(30, ("Create PO", "Create PO"), (None, "Approve PO"), ("Pay Invoice", "Pay Invoice")),
        alignment(5, ("Create PO", "Create PO"), (None, "Approve PO"), ("Fax", None), ("Fax", None)),
        alignment(100, ("Create PO", "Create PO"), ("Approve PO", "Approve PO")),
    ]
    assert move_counts(alignments) == ({"Approve PO": 35}, {"Fax": 10})


def test_move_counts_ignore_unchecked_variants() -> None:
    unchecked = VariantAlignment(("A",), 50, None, None, checked=False)
    assert move_counts([unchecked]) == ({}, {})


def test_deviation_counts_count_cases_and_read_wrong_order_as_both() -> None:
    deviations = [
        Deviation("c1", SKIPPED, "Approve PO"),
        Deviation("c2", SKIPPED, "Approve PO"),
        Deviation("c2", INSERTED, "Fax"),
        Deviation("c2", INSERTED, "Fax"),  # twice in one case: still one case
        Deviation("c3", REPEATED, "Approve PO"),
        Deviation("c4", WRONG_ORDER, "Pay Invoice"),
        Deviation("c5", SEGREGATION_OF_DUTIES, "Four eyes"),  # a rule, not an activity of the net
    ]
    skipped, inserted = deviation_counts(deviations)
    assert skipped == {"Approve PO": 2, "Pay Invoice": 1}
    assert inserted == {"Approve PO": 1, "Fax": 1, "Pay Invoice": 1}


@pytest.fixture(scope="module")
def overlay() -> str:
    return designed_model_svg(designed_model(ACTIVITIES), {"Approve PO": 20}, {"Pay Invoice": 7, "Fax": 3})


def test_overlay_is_inlineable_svg_with_every_activity(overlay: str) -> None:
    assert overlay.startswith("<svg") and "<?xml" not in overlay and "DOCTYPE" not in overlay
    assert set(ACTIVITIES) <= set(svg_texts(overlay))


def test_overlay_badges_say_how_many_skipped_or_inserted(overlay: str) -> None:
    badges = sorted(text for text in svg_texts(overlay) if text.startswith(("skipped", "inserted")))
    assert badges == ["inserted 3", "inserted 7", "skipped 20"]  # no "0" badge for the others


def test_overlay_puts_activities_unknown_to_the_model_in_their_own_box(overlay: str) -> None:
    root = ET.fromstring(overlay)
    clusters = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "cluster"]
    assert len(clusters) == 1
    cluster_texts = [t.text for t in clusters[0].iter(f"{SVG_NS}text")]
    assert cluster_texts == ["Done, but not in the model"]
    assert "Fax" in svg_texts(overlay) and "inserted 3" in svg_texts(overlay)


def test_overlay_draws_places_as_circles_and_silent_steps_as_bars() -> None:
    source = build_model_digraph(designed_model(ACTIVITIES), {}, {}).source
    places = re.findall(r"^\s*p\d+ \[.*shape=(\w+)", source, re.M)
    assert sorted(places) == ["circle"] * 4 + ["doublecircle"]  # the end place has a double ring
    bars = re.findall(r"^\s*t\d+ \[.*width=0\.08", source, re.M)
    assert len(bars) == 1  # the one silent step that skips Approve PO


def test_overlay_deviated_activities_are_outlined_red() -> None:
    source = build_model_digraph(designed_model(ACTIVITIES), {"Approve PO": 2}, {}).source
    red = [line for line in source.splitlines() if 'color="#b91c1c"' in line and "fillcolor" in line]
    assert len(red) == 1 and "Approve PO" in red[0]


def test_overlay_node_ids_are_synthetic_not_the_nets_names() -> None:
    source = build_model_digraph(designed_model(ACTIVITIES), {}, {}).source
    assert "place0" not in source and "task0" not in source


def test_overlay_escapes_hostile_activity_names() -> None:
    svg = designed_model_svg(designed_model(HOSTILE), {IMG: 1}, {SCRIPT + "x": 2})
    assert "<script" not in svg.lower() and "<img" not in svg
    assert set(HOSTILE) <= set(svg_texts(svg)) and SCRIPT + "x" in svg_texts(svg)


@pytest.mark.parametrize(
    "name",
    ["\\N", "a\\Gb", "\\L\\E", BACKSLASHES, "trailing\\", "<b>x</b>", "R&amp;D", "x &#60;y", "Prüfung"],
)
def test_overlay_labels_stay_literal(name: str) -> None:
    activities = (name, "B", "C", "D")
    assert name in svg_texts(designed_model_svg(designed_model(activities), {name: 1}, {}))


def test_control_characters_become_spaces_instead_of_breaking_dot() -> None:
    assert html_text("tab\there\nand\x01\x7fend") == "tab here and  end"
    name = "bell\x07name"
    assert "bell name" in svg_texts(designed_model_svg(designed_model((name, "B", "C", "D")), {}, {}))
