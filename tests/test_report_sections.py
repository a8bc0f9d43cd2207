"""Tests of the report's newer sections: model overlay, example alignments and the two map views."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from report_fixtures import (
    IMG,
    SCRIPT,
    example_alignment,
    hostile_summary,
    make_summary,
    many_variants,
    parse,
)

from kaizenflow.conformance.types import Move, VariantAlignment
from kaizenflow.mining.types import Variant
from kaizenflow.reports.case_alignments import MAX_STEPS, alignments_by_case, case_steps, steps_of
from kaizenflow.reports.html import render_run_report
from kaizenflow.reports.process_map import build_digraph, main_path, top_variants_map

ACTIVITIES = ("Create PO", "Approve PO", "Receive Goods", "Pay Invoice")
MODEL_SVG = '<svg class="test-model"><text>model drawing</text></svg>'


def pattern_body(html: str) -> str:
    details = re.search(r"<details class=\"pattern\">(.*?)</details>", html, re.S)
    assert details is not None
    return details.group(1).split("</summary>", 1)[1]


# --------------------------------------------------------------------------- alignments of examples


def test_steps_mark_sync_skipped_and_inserted_and_drop_silent_steps() -> None:
    steps = steps_of([("A", "A"), (None, "B"), ("X", None), (None, None), ("C", "C")])
    assert [(s.activity, s.kind) for s in steps] == [
        ("A", "sync"), ("B", "skipped"), ("X", "inserted"), ("C", "sync"),
    ]


def test_case_steps_keep_the_patterns_order_and_skip_cases_without_alignment() -> None:
    found = case_steps(("c2", "missing", "c1"), {"c1": [("A", "A")], "c2": [("B", "B")]})
    assert [case.case_id for case in found] == ["c2", "c1"]


def test_case_steps_cut_very_long_cases_and_say_how_many_are_hidden() -> None:
    (case,) = case_steps(("c1",), {"c1": [("A", "A")] * (MAX_STEPS + 7)})
    assert len(case.steps) == MAX_STEPS and case.hidden == 7


def test_alignments_by_case_use_the_alignment_of_the_cases_variant() -> None:
    moves = (Move("A", "A"), Move(None, "B"))
    alignments = [
        VariantAlignment(("A",), 2, 1.0, 0.5, moves),
        VariantAlignment(("A", "C"), 1, None, None, checked=False),
    ]
    found = alignments_by_case(["c1", "c2", "c3"], {"c1": ["A"], "c2": ("A", "C")}, alignments)
    assert found == {"c1": [("A", "A"), (None, "B")]}  # c2 timed out, c3 is unknown


def test_examples_with_an_alignment_show_their_steps() -> None:
    alignments = {"PO-100231": example_alignment(ACTIVITIES, "Fax order")}
    body = pattern_body(render_run_report(make_summary(), case_alignments=alignments))
    assert '<del class="step skipped" title="Skipped' in body and ">Approve PO</del>" in body
    assert '<ins class="step inserted" title="Inserted' in body and ">Fax order</ins>" in body
    assert body.count('<span class="step sync"') == 3 + 1  # three steps in step, one in the legend


def test_examples_without_an_alignment_stay_plain_chips() -> None:
    alignments = {"PO-100231": example_alignment(ACTIVITIES, "Fax order")}
    body = pattern_body(render_run_report(make_summary(), case_alignments=alignments))
    chips = re.findall(r'<span class="chip case">([^<]*)</span>', body)
    assert chips == ["PO-100231", "PO-100877"]  # the first leads its steps, the second stands alone
    assert body.count('<ol class="steps"') == 1


def test_without_alignments_the_examples_are_chips_only() -> None:
    body = pattern_body(render_run_report(make_summary()))
    assert 'class="steps"' not in body and "PO-100231" in body


def test_hostile_alignment_steps_are_text() -> None:
    summary = hostile_summary()
    activities = summary.variants[0].activities
    html = render_run_report(summary, case_alignments={SCRIPT: example_alignment(activities, IMG)})
    page = parse(html)
    assert "script" not in page.tags and "img" not in page.tags
    assert html.count("&lt;img src=x onerror=&#34;alert(2)&#34;&gt;</ins>") == 1


# --------------------------------------------------------------------------- designed model section


def test_model_section_appears_with_the_drawing() -> None:
    html = render_run_report(make_summary(), model_svg=MODEL_SVG)
    section = html.split('id="designed-model"', 1)[1].split("</section>", 1)[0]
    assert MODEL_SVG in section and "Red badges" in section


def test_model_section_is_left_out_without_a_drawing() -> None:
    assert 'id="designed-model"' not in render_run_report(make_summary())


# --------------------------------------------------------------------------- map views


def test_main_path_is_the_most_frequent_variants_transitions() -> None:
    assert main_path(many_variants(ACTIVITIES)) == {
        ("Create PO", "Approve PO"), ("Approve PO", "Receive Goods"), ("Receive Goods", "Pay Invoice"),
    }
    assert main_path([]) == frozenset()


def test_main_path_edges_are_drawn_bold_in_the_accent_colour() -> None:
    summary = make_summary()
    source = build_digraph(summary.process_map, main_path=main_path(summary.variants)).source
    bold = [line for line in source.splitlines() if "style=bold" in line]
    assert len(bold) == 3 and all('color="#2563eb"' in line for line in bold)


def test_top_variants_map_recounts_only_the_kept_cases_without_waits() -> None:
    kept = top_variants_map(many_variants(ACTIVITIES), limit=2)  # 300 in sequence, 60 skip approval
    assert kept.activities == {"Create PO": 360, "Approve PO": 300, "Receive Goods": 360, "Pay Invoice": 360}
    edges = {(e.source, e.target): e for e in kept.edges}
    assert edges[("Create PO", "Receive Goods")].frequency == 60
    assert all(e.median_wait_hours is None for e in kept.edges)
    assert kept.start_activities == {"Create PO": 360} and kept.end_activities == {"Pay Invoice": 360}


def test_top_variants_map_counts_a_loop_per_repetition_but_its_cases_once() -> None:
    loop = Variant(("A", "B", "A", "B"), 4, 1.0, None)
    edges = {(e.source, e.target): e for e in top_variants_map([loop]).edges}
    assert edges[("A", "B")].frequency == 8 and edges[("A", "B")].cases == 4


@pytest.fixture(scope="module")
def toggled() -> str:
    return render_run_report(replace(make_summary(), variants=many_variants(ACTIVITIES)))


def test_map_offers_all_paths_and_top_five_views(toggled: str) -> None:
    section = toggled.split('id="process-map"', 1)[1].split("</section>", 1)[0]
    assert section.count('type="radio"') == 2 and section.count("<svg") == 2
    assert re.search(r'id="map-view-all"\s+checked', section)
    assert "Top 5 variants" in parse(section).texts
    assert "Only the 450 cases (90.0 %) that follow one of the 5 most frequent variants" in section


def test_views_switch_without_any_script(toggled: str) -> None:
    page = parse(toggled)
    assert "script" not in page.tags
    assert not [name for name, _ in page.attributes if name.startswith("on")]
    assert "script-src" not in toggled  # the CSP's default-src 'none' still forbids every script


def test_a_map_of_few_variants_has_one_view() -> None:
    html = render_run_report(make_summary())  # two variants: the "top 5" would be the same map
    assert 'type="radio"' not in html and html.count('<div class="map">') == 1


def test_main_path_note_names_its_share(toggled: str) -> None:
    assert "The main path, the most frequent variant (64.1 % of cases), is drawn bold in blue." in toggled
