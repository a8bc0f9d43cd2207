"""Tests of the HTML run report, the process map SVG and the report folder on disk."""

from __future__ import annotations

import json
import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import jinja2
import pytest
from report_fixtures import (
    BACKSLASHES,
    FINISHED,
    HOSTILE,
    IMG,
    QUOTES,
    SCRIPT,
    edge,
    hostile_summary,
    make_summary,
    parse,
    svg_texts,
)

from kaizenflow.conformance.types import Move, VariantAlignment
from kaizenflow.mining.types import ProcessMap, Variant
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports import archive, process_map_svg, render_run_report, write_run_report
from kaizenflow.reports.cards import NO_TIMESTAMPS, headline_cards
from kaizenflow.reports.formatting import cause_sentence, format_duration, format_pp_delta, kind_words
from kaizenflow.reports.html import make_environment
from kaizenflow.reports.model_overlay import DEVIATES, FITS, FITS_SO_FAR, UNCHECKED, variant_verdicts
from kaizenflow.reports.process_map import build_digraph, flow_order
from kaizenflow.reports.sparkline import sparkline_svg


@pytest.fixture(scope="module")
def report() -> str:
    return render_run_report(make_summary())


@pytest.fixture(scope="module")
def hostile_report() -> str:
    return render_run_report(hostile_summary())



# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("hours", "text"),
    [
        (0.5, "30 min"),
        (3.2, "3.2 h"),
        (98.4, "4.1 d"),
        (None, "n/a"),
        (-2.0, "\u22122.0 h"),
    ],
)
def test_durations_read_as_minutes_hours_or_days(hours: float | None, text: str) -> None:
    assert format_duration(hours) == text


def test_share_changes_are_percentage_points() -> None:
    assert format_pp_delta(0.824 - 0.812) == "+1.2 pp"


def test_sparkline_skips_missing_runs_and_needs_two_points() -> None:
    assert sparkline_svg([0.5, None]) == ""
    line = sparkline_svg([0.5, None, 0.7])
    assert line.count(",") == 2  # two points in the polyline, the None is not drawn as zero


# --------------------------------------------------------------------------- process map


def test_map_svg_contains_every_activity_and_is_inlineable() -> None:
    summary = make_summary()
    svg = process_map_svg(summary.process_map)
    assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
    texts = svg_texts(svg)
    for activity in summary.process_map.activities:
        assert activity in texts


def test_map_labels_show_frequency_and_human_median_wait() -> None:
    texts = svg_texts(process_map_svg(make_summary().process_map))
    assert "480" in texts and "wait 3.2 h" in texts and "wait 4.1 d" in texts


def test_map_pen_width_grows_with_frequency() -> None:
    source = build_digraph(make_summary().process_map).source
    widths = {
        m.group(1): float(m.group(2)) for m in re.finditer(r"(a\d+ -> a\d+) \[.*?penwidth=([\d.]+)", source)
    }
    assert max(widths.values()) == 6.0 and min(widths.values()) < 1.3


def test_map_keeps_only_the_most_frequent_edges() -> None:
    process_map = replace(make_summary().process_map, start_activities={}, end_activities={})
    svg = process_map_svg(process_map, max_edges=2)
    assert svg.count('class="edge"') == 2
    texts = svg_texts(svg)
    assert "wait 1.2 d" in texts  # 470 times, second
    assert "wait 4.1 d" not in texts  # 460 times, third


def test_map_escapes_hostile_names_itself() -> None:
    svg = process_map_svg(hostile_summary().process_map)
    assert "&lt;script&gt;" in svg and "<script" not in svg.lower() and "<img" not in svg
    drawn = " ".join(svg_texts(svg))  # long names are wrapped onto lines of their box
    assert all(name in drawn for name in (SCRIPT, IMG, QUOTES, BACKSLASHES))


@pytest.mark.parametrize(
    "name",
    ["C:\\new\\Temp", 'odd\\"mix', "trailing\\", "<b>x</b>", "\\N", "R&amp;D", "x &#60;y", "Prüfung"],
)
def test_map_labels_keep_backslashes_quotes_and_html_like_names_literal(name: str) -> None:
    process_map = ProcessMap(activities={name: 3, "B": 3}, edges=(edge(name, "B", 3),))
    assert name in svg_texts(process_map_svg(process_map))


def test_missing_dot_binary_explains_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(RuntimeError, match="apt-get install graphviz"):
        process_map_svg(make_summary().process_map)


# --------------------------------------------------------------------------- the report


def test_jinja_environment_autoescapes_j2_and_rejects_undefined() -> None:
    environment = make_environment()
    assert environment.autoescape("run_report.html.j2") is True  # type: ignore[operator]
    with pytest.raises(jinja2.UndefinedError):
        environment.from_string("{{ missing }}").render()


def test_title_names_process_run_time_and_model(report: str) -> None:
    title = re.search(r"<header class=\"page\">(.*?)</header>", report, re.S)
    assert title is not None
    for text in (
        "Purchase to Pay",
        "2024-05-02T02-00-00Z",
        "2024-05-02 02:14 UTC",
        "p2p-reference-v3",
    ):
        assert text in title.group(1)


def test_headline_figures_appear(report: str) -> None:
    texts = parse(report).texts
    for figure in (
        "500",
        "2,435",
        "312 new this run",
        "82.4 %",
        "412 of 500 cases",
        "0.973",
        "3.2 d",
        "7.4 d",
        "23",
    ):
        assert figure in texts, figure


def test_unchecked_card_only_when_cases_were_unchecked(report: str) -> None:
    assert "Unchecked cases" not in report
    assert "Unchecked cases" in render_run_report(replace(make_summary(), unchecked_cases=4))


def test_log_without_timestamps_says_so_instead_of_throughput() -> None:
    summary = replace(make_summary(median_hours=None), has_timestamps=False)
    html = render_run_report(summary)
    assert NO_TIMESTAMPS in parse(html).texts and "Median throughput time" not in html


def earlier_runs() -> list[RunSummary]:
    return [
        make_summary(conforming=400, fitness=0.9601, median_hours=90.0),
        make_summary(conforming=406, fitness=0.9650, median_hours=80.0),
    ]


def test_history_gives_change_since_previous_run() -> None:
    cards = {c.label: c for c in headline_cards(make_summary(), earlier_runs())}
    assert cards["Conforming cases"].delta == "+1.2 pp"
    assert cards["Conforming cases"].tone == "good"
    assert cards["Median throughput time"].delta == "\u22123.0 h"
    assert cards["Median throughput time"].tone == "good"  # shorter is better
    assert cards["Fitness"].delta == "+0.008"
    assert "+1.2 pp" in parse(render_run_report(make_summary(), earlier_runs())).texts


def test_history_draws_a_sparkline_on_every_card() -> None:
    html = render_run_report(make_summary(), earlier_runs())
    cards = headline_cards(make_summary(), earlier_runs())
    assert all(card.sparkline.startswith('<svg class="spark"') for card in cards)
    assert html.count('<svg class="spark"') == len(cards)
    assert '<svg class="spark"' not in render_run_report(make_summary())


def test_patterns_table_shows_figures_and_root_causes(report: str) -> None:
    texts = parse(report).texts
    for cell in (
        "Skipped",
        "Approve PO",
        "20",
        "4.0 %",
        "+1.5 d",
        "Happens 6.1 times as often with supplier S-017",
    ):
        assert cell in texts, cell
    assert "90th percentile +3.0 d" in report  # the spread, on hover and in the opened row


def test_root_causes_read_as_words_with_the_statistics_on_hover(report: str) -> None:
    page = parse(report)
    assert "Happens 6.1 times as often with supplier S-017" in page.texts
    assert ("title", "supplier = S-017: 82 % of the pattern's cases (16), lift 6.1\u00d7") in page.attributes
    head = report.split('<details class="pattern">', 1)[1].split("</summary>", 1)[0]
    assert "lift" not in re.sub(r'title="[^"]*"', "", head)  # the row itself reads as words


def test_pattern_rows_expand_to_example_cases_and_all_causes(report: str) -> None:
    details = re.search(r"<details class=\"pattern\">(.*?)</details>", report, re.S)
    assert details is not None
    body = details.group(1).split("</summary>", 1)[1]
    assert "PO-100231" in body and "PO-100877" in body and "B-4" in body  # third cause too


def test_empty_patterns_show_friendly_line() -> None:
    html = render_run_report(replace(make_summary(), patterns=[]))
    assert "No deviations found" in html and 'class="pattern"' not in html


@pytest.mark.parametrize(
    ("field", "line"),
    [
        ("variants", "No variants"),
        ("task_changes", "No improvement tasks"),
    ],
)
def test_other_empty_sections_show_friendly_lines(field: str, line: str) -> None:
    summary = make_summary()
    setattr(summary, field, [])
    assert line in render_run_report(summary)


def test_variants_are_capped_at_fifteen_with_chips() -> None:
    variants = [Variant(("Create PO", f"Step {i}"), 100 - i, (100 - i) / 2000, 5.0) for i in range(20)]
    html = render_run_report(replace(make_summary(), variants=variants))
    assert html.count('<span class="chip" title="Create PO">') == 15
    assert "The 15 most frequent of 20 variants." in html and "Step 14" in html
    assert "Step 15" not in html


def test_tasks_show_change_kpi_path_and_new_first(report: str) -> None:
    texts = parse(report).texts
    assert texts.index("Created") < texts.index("Unchanged")
    for cell in (
        "Approve every order before Approve PO",
        "Purchase order",
        "Jana Novak",
        "Share of orders without approval",
        "8.0 %",
        "from 12.0 % at the start; target 2.0 %",
        "Open",
    ):
        assert cell in texts, cell


def test_manifest_lists_hashes_versions_and_stages(report: str) -> None:
    manifest = report.split('id="manifest"', 1)[1]
    for text in (
        "sha256:9f2c1e",
        "sha256:41aa07",
        "pm4py",
        "2.7.23",
        "check",
        "41.0 s",
        "56.5 s",
        "2024-05-02 02:10 UTC",
    ):
        assert text in manifest, text


def test_report_references_no_network_address(report: str) -> None:
    namespaces = {
        'xmlns="http://www.w3.org/2000/svg"',
        'xmlns:xlink="http://www.w3.org/1999/xlink"',
    }
    for match in re.finditer(r"https?://", report):
        context = report[report.rfind(" ", 0, match.start()) + 1 : report.find('"', match.end()) + 1]
        assert context in namespaces
    for name, value in parse(report).attributes:
        if name in {"src", "href", "xlink:href", "action", "srcset", "poster"}:
            assert value is not None and not re.match(r"(https?:)?//", value.strip())
    assert "url(" not in report and "@import" not in report


def test_hostile_strings_are_text_everywhere(hostile_report: str) -> None:
    page = parse(hostile_report)
    assert "<script" not in hostile_report.lower() and "script" not in page.tags
    assert "img" not in page.tags and "onerror" not in {name for name, _ in page.attributes}
    for text in HOSTILE:
        assert any(text in node for node in page.texts), text
    assert SCRIPT in page.texts  # as the example case id and as an activity
    assert ("title", IMG) in page.attributes  # quotes inside attributes stay inside
    assert f"Happens 6.1 times as often with supplier {QUOTES}" in page.texts


# --------------------------------------------------------------------------- the folder


def test_write_run_report_lays_out_report_and_sidecar(tmp_path: Path) -> None:
    path = write_run_report(make_summary(), tmp_path)
    assert path == tmp_path / "purchase-to-pay" / "2024-05-02T02-00-00Z.html"
    assert path.read_text(encoding="utf-8") == render_run_report(make_summary())
    sidecar = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert sidecar["cases"] == 500 and sidecar["fitness"] == 0.9734
    assert sidecar["report"] == "purchase-to-pay/2024-05-02T02-00-00Z.html"
    assert sorted(p.name for p in tmp_path.rglob("*")) == [
        "2024-05-02T02-00-00Z.html",
        "2024-05-02T02-00-00Z.json",
        "index.html",
        "purchase-to-pay",
    ]


def test_failed_write_leaves_previous_report_and_no_temp_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write_run_report(make_summary(), tmp_path)
    before = path.read_text(encoding="utf-8")

    def broken_replace(source: object, target: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr("kaizenflow.reports.archive.os.replace", broken_replace)
    with pytest.raises(OSError, match="disk full"):
        write_run_report(make_summary(process="Purchase to Pay", conforming=1), tmp_path)
    assert path.read_text(encoding="utf-8") == before
    assert not [p for p in tmp_path.rglob("*") if p.name.endswith(".tmp")]


def test_index_lists_runs_newest_first_with_links(tmp_path: Path) -> None:
    write_run_report(make_summary(run_id="run-2", finished_at=FINISHED), tmp_path)
    write_run_report(
        make_summary(run_id="run-1", conforming=400, finished_at=FINISHED - timedelta(days=1)),
        tmp_path,
    )
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    page = parse(index)
    assert page.texts.index("run-2") < page.texts.index("run-1")
    assert "82.4 %" in page.texts and "80.0 %" in page.texts
    runs = parse(index.split('id="runs"', 1)[1])
    links = [value for name, value in runs.attributes if name == "href"]
    assert links == ["purchase-to-pay/run-2.html", "purchase-to-pay/run-1.html"]
    assert all((tmp_path / link).is_file() for link in links if link)


def test_index_shows_a_tile_per_process_with_trend_and_open_tasks(tmp_path: Path) -> None:
    write_run_report(make_summary(run_id="run-1", conforming=400, finished_at=FINISHED - timedelta(days=1)),
                     tmp_path)
    write_run_report(make_summary(run_id="run-2", finished_at=FINISHED), tmp_path)
    write_run_report(make_summary(process="Order to Cash", run_id="run-9", finished_at=FINISHED), tmp_path)
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    tiles = re.findall(r'<article class="tile">(.*?)</article>', index, re.S)
    assert len(tiles) == 2
    order_to_cash, purchase_to_pay = (parse(tile) for tile in tiles)  # by name
    assert "Order to Cash" in order_to_cash.texts and "Purchase to Pay" in purchase_to_pay.texts
    assert "82.4 %" in purchase_to_pay.texts and "+2.4 pp since the run before" in purchase_to_pay.texts
    assert '<svg class="spark"' in tiles[1] and '<svg class="spark"' not in tiles[0]  # one run: no trend
    assert ("href", "purchase-to-pay/run-2.html") in purchase_to_pay.attributes  # the latest report
    open_tasks = purchase_to_pay.texts[purchase_to_pay.texts.index("Open tasks") + 1 :]
    assert next(t for t in open_tasks if t.strip()) == "2"  # both tasks of the fixture are open


def test_hostile_process_and_run_id_stay_inside_the_folder(tmp_path: Path) -> None:
    summary = replace(hostile_summary(), run_id="../../etc/passwd")
    path = write_run_report(summary, tmp_path)
    assert path.parent.parent == tmp_path and path.name == "etc-passwd.html"
    index = (tmp_path / "index.html").read_text(encoding="utf-8")
    assert "<script" not in index.lower() and f"P2P {SCRIPT} {QUOTES}" in parse(index).texts


# --------------------------------------------------------------------------- plain words, times, trends


@pytest.mark.parametrize(
    ("kind", "words"),
    [("sla_breach", "SLA breach"), ("segregation_of_duties", "Segregation of duties"),
     ("wrong_order", "Wrong order"), ("forbidden_activity", "Forbidden activity"), ("new_kind", "New kind")],
)
def test_kinds_are_written_as_words(kind: str, words: str) -> None:
    assert kind_words(kind) == words


@pytest.mark.parametrize(
    ("attribute", "value", "lift", "sentence"),
    [
        ("plant", "P-03", 3.94, "happens 3.9 times as often at plant P-03"),
        ("supplier", "S-005", 2.01, "happens twice as often with supplier S-005"),
        ("payment_terms_days", "60", 1.5, "happens 1.5 times as often where payment terms days is 60"),
        ("buyer", "B-4", 1.0, "happens about as often where buyer is B-4"),
    ],
)
def test_root_causes_read_as_sentences(attribute: str, value: str, lift: float, sentence: str) -> None:
    assert cause_sentence(attribute, value, lift) == sentence


def test_an_sla_pattern_reads_sla_breach_in_the_table() -> None:
    summary = make_summary()
    sla = replace(summary.patterns[0], kind="sla_breach", activity="Pay on time")
    summary = replace(summary, patterns=[sla])
    texts = parse(render_run_report(summary)).texts
    assert "SLA breach" in texts and "Sla breach" not in texts


def test_times_are_utc_in_time_elements(report: str) -> None:
    assert '<time datetime="2024-05-02T02:14:00Z">2024-05-02 02:14 UTC</time>' in report
    assert '<time datetime="2024-05-02T02:10:00Z">2024-05-02 02:10 UTC</time>' in report  # run started


def test_watermarks_are_described_never_shown_raw() -> None:
    raw = "received_at > 2026-06-30 16:53:35.000000"
    summary = replace(make_summary(), source_watermarks={"invoices": raw, "vendors": "full read each run",
                                                         "changes": "change_no > 1200"})
    html = render_run_report(summary)
    assert raw not in html and "16:53:35.0" not in html
    moment = '<time datetime="2026-06-30T16:53:35Z">2026-06-30 16:53 UTC</time>'
    assert f"rows with received_at after {moment}" in html
    assert "rows with change_no above 1,200" in html and "full read each run" in html


def test_the_sidecar_keeps_pattern_sizes_and_task_kpis(tmp_path: Path) -> None:
    path = write_run_report(make_summary(), tmp_path)
    record = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["schema"] == archive.SIDECAR_SCHEMA and record["patterns"] == {"skipped:Approve PO": 20}
    assert {t["title"]: t["kpi"] for t in record["tasks"]} == {
        "Keep invoices matched": 0.1, "Approve every order before Approve PO": 0.08}


def nights(tmp_path: Path, kpis: list[float], done_from: int | None = None) -> str:
    """Reports of consecutive nights whose one task had the given KPIs; the last night's page.

    From night ``done_from`` on, the task is done (its change made).
    """
    page = ""
    for night, kpi in enumerate(kpis):
        summary = make_summary(run_id=f"night-{night}", finished_at=FINISHED + timedelta(days=night))
        change = summary.task_changes[1]
        task = replace(change.task, current_value=kpi,
                       changed_at=FINISHED if done_from is not None and night >= done_from else None)
        pattern = replace(summary.patterns[0], cases=20 + 5 * night)
        summary = replace(summary, task_changes=[replace(change, task=task)], patterns=[pattern])
        page = write_run_report(summary, tmp_path).read_text(encoding="utf-8")
    return page


def test_each_task_has_a_kpi_chart_over_the_nights_with_baseline_target_and_change(tmp_path: Path) -> None:
    page = nights(tmp_path, [0.12, 0.11, 0.06, 0.04], done_from=2)
    chart = re.search(r'<svg class="kpi-chart".*?</svg>', page, re.S)
    assert chart is not None
    titles = re.findall(r"<title>(.*?)</title>", chart.group(0))
    assert [t for t in titles if t.startswith("20")] == [  # one dot per night, oldest first
        "2024-05-02 02:14 UTC: 12.0 %", "2024-05-03 02:14 UTC: 11.0 %",
        "2024-05-04 02:14 UTC: 6.0 %", "2024-05-05 02:14 UTC: 4.0 %"]
    assert "baseline 12.0 %" in titles and "target 2.0 %" in titles
    assert any(t.startswith("change made (events of 2024-05-02 02:14 UTC)") for t in titles)


def test_a_task_never_done_has_no_change_line(tmp_path: Path) -> None:
    page = nights(tmp_path, [0.12, 0.11])
    assert 'class="kpi-chart"' in page and "change made" not in page


def test_patterns_have_a_trend_line_over_the_nights(tmp_path: Path) -> None:
    page = nights(tmp_path, [0.12, 0.11, 0.10])
    assert 'title="cases over the last 3 runs: 20, 25, 30"' in page
    row = page.split('<details class="pattern">', 1)[1].split("</summary>", 1)[0]
    assert '<svg class="spark"' in row


def test_the_first_night_has_no_pattern_trend(report: str) -> None:
    row = report.split('<details class="pattern">', 1)[1].split("</summary>", 1)[0]
    assert '<svg class="spark"' not in row


def test_variants_are_bars_marked_whether_they_follow_the_model() -> None:
    summary = make_summary()
    fits, deviates = summary.variants[0].activities, summary.variants[1].activities
    html = render_run_report(summary, variant_fit={fits: FITS, deviates: DEVIATES})
    bars = re.findall(r'<span class="bar (\w[\w-]*)" style="width: ([0-9.]+)%">', html)
    assert bars == [("fits", "100.0"), ("deviates", "4.7")]  # 430 and 20 cases
    assert "leaves the model" in html and "not checked" not in parse(html).texts


def test_without_verdicts_variants_say_they_were_not_checked(report: str) -> None:
    assert re.findall(r'<span class="bar (\w+)"', report) == ["unchecked", "unchecked"]
    assert "This run did not say which variants follow the model." in report


def test_variant_verdicts_read_the_alignments() -> None:
    sync = [Move("A", "A"), Move("B", "B")]
    alignments = [
        VariantAlignment(("A", "B"), 5, 0.0, 1.0, tuple(sync)),
        VariantAlignment(("A",), 3, 1.0, 0.5, (Move("A", "A"), Move(None, "B"))),  # running: B not yet
        VariantAlignment(("B", "A"), 2, 2.0, 0.4, (Move(None, "A"), Move("B", "B"), Move("A", None))),
        VariantAlignment(("A", "A", "B"), 1, None, None, checked=False),
        VariantAlignment(("A", "C"), 1, 0.0, 1.0, (Move("A", "A"), Move(None, None), Move("C", "C"))),
    ]
    assert variant_verdicts(alignments) == {
        ("A", "B"): FITS, ("A",): FITS_SO_FAR, ("B", "A"): DEVIATES, ("A", "A", "B"): UNCHECKED,
        ("A", "C"): FITS}  # a silent step is no deviation


def test_the_map_flows_from_start_to_end_whatever_the_loops() -> None:
    loops = ProcessMap(
        activities={"A": 10, "B": 14, "C": 10},
        edges=(edge("A", "B", 10), edge("B", "C", 10), edge("C", "B", 4), edge("B", "B", 1)),
        start_activities={"A": 10},
        end_activities={"C": 10},
    )
    assert flow_order(["A", "B", "C"], loops, loops.edges) == ["A", "B", "C"]
    source = build_digraph(loops).source
    assert "rankdir=LR" in source and "{rank=min; start}" in source and "{rank=max; end}" in source
    back = [line for line in source.splitlines() if "a2 -> a1" in line]  # C -> B, against the flow
    assert len(back) == 1 and "constraint=false" in back[0]
    assert all("constraint" not in line for line in source.splitlines() if "a0 -> a1" in line)


def test_wide_drawings_keep_their_text_readable() -> None:
    svg = process_map_svg(make_summary().process_map)
    width = float(re.search(r'width="([0-9.]+)pt"', svg).group(1))  # type: ignore[union-attr]
    assert f'style="min-width:{width * 4 / 3 * 0.75:.0f}px"' in svg


def test_a_map_wider_than_the_page_says_to_scroll_it() -> None:
    steps = tuple(f"Step {i} of a long process" for i in range(12))
    chain = ProcessMap(
        activities=dict.fromkeys(steps, 50),
        edges=tuple(edge(a, b, 50) for a, b in zip(steps, steps[1:], strict=False)),
        start_activities={steps[0]: 50},
        end_activities={steps[-1]: 50},
    )
    wide = render_run_report(replace(make_summary(), process_map=chain))
    assert "scroll it sideways" in wide
    assert "scroll it sideways" not in render_run_report(make_summary())
