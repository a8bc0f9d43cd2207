"""The report in a real headless Chromium: offline, readable, expandable, and inert to hostile data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import (
    FINISHED,
    JAVASCRIPT_URL,
    PWNING,
    designed_model,
    example_alignment,
    make_summary,
    many_variants,
)

from kaizenflow.conformance.models import load_model
from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports import write_run_report
from kaizenflow.reports.model_overlay import FITS, designed_model_svg
from kaizenflow.reports.screenshot import chromium_path, launch

pytest.importorskip("playwright.sync_api", reason="the Python package playwright is not installed")

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium to drive: install it (Debian: apt-get install chromium) or set KAIZEN_CHROMIUM",
)

ACTIVITIES = ("Create PO", "Approve PO", "Receive Goods", "Pay Invoice")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
#: Screenshots of the pages at the widths a reader uses, kept for a person to look at (git-ignored).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SAMPLE_BPMN = Path(__file__).resolve().parent.parent / "kaizenflow" / "sample_logs" / "purchase_to_pay.bpmn"
P2P = ("Create Purchase Requisition", "Approve Purchase Order", "Receive Goods", "Pay Invoice")
LONG_OWNER = "plant-manager-p03.procurement-excellence-programme@example-corporation.com"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


class Visit:
    """A page opened from file://, with every request it made and every dialog it tried to open."""

    def __init__(self, browser: Any, path: Path) -> None:
        self.url = path.resolve().as_uri()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page = browser.new_page(viewport={"width": 1280, "height": 900})
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", self._dialog)
        self.page.goto(self.url, wait_until="load")

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()


def full_report(summary: RunSummary, directory: Path, inserted: str = "Fax order") -> Path:
    """The report with every optional section: model overlay, example alignments, both map views."""
    activities = summary.variants[0].activities
    summary = replace(summary, variants=many_variants(activities))
    model_svg = designed_model_svg(designed_model(activities), {activities[1]: 20}, {inserted: 3})
    alignments = {summary.patterns[0].example_case_ids[0]: example_alignment(activities, inserted)}
    return write_run_report(summary, directory, model_svg=model_svg, case_alignments=alignments)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return full_report(make_summary(ACTIVITIES), tmp_path_factory.mktemp("reports"))


@pytest.fixture(scope="module")
def owner_report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The report an owner of the sample process reads: its BPMN drawn, a long e-mail as owner,
    two earlier nights for the trend lines and KPI charts."""
    directory = tmp_path_factory.mktemp("owner")
    for night, conforming in ((3, 380), (2, 395), (1, 405)):
        earlier = make_summary(P2P, run_id=f"night-{night}", finished_at=FINISHED - timedelta(days=night),
                               conforming=conforming, owner=LONG_OWNER)
        write_run_report(earlier, directory)
    summary = make_summary(P2P, owner=LONG_OWNER)
    summary = replace(summary, variants=many_variants(P2P))
    verdicts = {v.activities: FITS for v in summary.variants[:3]}
    model_svg = designed_model_svg(load_model(SAMPLE_BPMN), {P2P[1]: 20}, {P2P[3]: 7, "Fax order": 3})
    return write_run_report(summary, directory, model_svg=model_svg, variant_fit=verdicts)


@pytest.fixture
def visit(browser: Any, report: Path) -> Iterator[Visit]:
    """A fresh page for tests that click: each starts from the page as a reader first sees it."""
    opened = Visit(browser, report)
    yield opened
    opened.page.close()


@pytest.fixture(scope="module")
def seen(browser: Any, report: Path) -> Iterator[Visit]:
    """One page shared by the tests that only look, to keep the browser tests quick."""
    opened = Visit(browser, report)
    yield opened
    opened.page.close()


def test_the_page_fetches_nothing_but_itself(visit: Visit) -> None:
    visit.page.locator("details.pattern summary").first.click()
    visit.page.locator("label[for=map-view-top]").click()
    assert visit.requests == [visit.url]


def test_headline_figures_are_visible(seen: Visit) -> None:
    cards = seen.page.locator(".card")
    for label, value in (("Cases", "500"), ("Conforming cases", "82.4 %"), ("Fitness", "0.973")):
        card = cards.filter(has=seen.page.get_by_text(label, exact=True))
        assert card.locator(".value").inner_text() == value
        assert card.is_visible()


def test_process_map_and_pattern_table_are_visible(seen: Visit) -> None:
    assert seen.page.locator("#process-map .map-all svg").is_visible()
    assert seen.page.locator("#designed-model svg").is_visible()
    assert seen.page.locator(".patterns").is_visible()
    assert seen.page.locator("details.pattern summary").first.inner_text().startswith("Skipped")


def test_opening_a_pattern_shows_its_example_cases_and_their_steps(visit: Visit) -> None:
    example = visit.page.locator("details.pattern .chip.case", has_text="PO-100877")
    skipped = visit.page.locator("details.pattern del.step.skipped", has_text="Approve PO")
    assert not example.is_visible() and not skipped.is_visible()
    visit.page.locator("details.pattern summary").first.click()
    assert example.is_visible() and skipped.is_visible()
    decoration = skipped.evaluate("node => getComputedStyle(node).textDecorationLine")
    assert decoration == "line-through"


def test_the_map_switches_to_the_top_variants_without_script(visit: Visit) -> None:
    every_path = visit.page.locator("#process-map .map-all svg")
    top_five = visit.page.locator("#process-map .map-top svg")
    assert every_path.is_visible() and not top_five.is_visible()
    visit.page.get_by_text("Top 5 variants", exact=True).click()
    assert top_five.is_visible() and not every_path.is_visible()
    assert visit.page.evaluate("document.scripts.length") == 0


def test_screenshot_is_saved(seen: Visit, tmp_path: Path) -> None:
    out = tmp_path / "report.png"
    seen.page.screenshot(path=str(out), full_page=True)
    assert out.read_bytes().startswith(PNG_SIGNATURE)


def hostile_report(directory: Path) -> Path:
    """Every string a source system controls set to something that would run if it were markup."""
    script, img, svg, url = PWNING
    summary = make_summary(
        (script, img, svg, url),
        process=f"P2P {script}",
        run_id=url,
        case_id=img,
        attribute_value=svg,
        owner=url,
    )
    return full_report(summary, directory, inserted=script)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return hostile_report(tmp_path_factory.mktemp("hostile"))


def test_hostile_data_opens_no_dialog_and_runs_nothing(browser: Any, hostile: Path) -> None:
    visit = Visit(browser, hostile)
    try:
        visit.page.locator("details.pattern summary").first.click()
        visit.page.locator("label[for=map-view-top]").click()
        visit.page.wait_for_timeout(100)  # give an onerror handler its chance to fire
        assert visit.dialogs == []
        assert visit.page.evaluate("typeof window.pwned") == "undefined"
        assert visit.page.evaluate("document.scripts.length") == 0
        assert visit.page.locator("a[href^='javascript:' i], [onerror], [onload]").count() == 0
        assert visit.requests == [visit.url]  # no <img src=x> was ever made
        assert visit.page.get_by_text(PWNING[0], exact=True).first.is_visible()  # shown as text
        assert visit.page.locator("#designed-model").get_by_text(JAVASCRIPT_URL).count() == 1
    finally:
        visit.page.close()


def test_hostile_index_opens_no_dialog(browser: Any, hostile: Path) -> None:
    visit = Visit(browser, hostile.parent.parent / "index.html")
    try:
        assert visit.dialogs == [] and visit.page.evaluate("typeof window.pwned") == "undefined"
        assert visit.page.locator(".tile-name", has_text=f"P2P {PWNING[0]}").is_visible()
        visit.page.locator("details.runs summary").click()
        assert visit.page.locator("td", has_text=f"P2P {PWNING[0]}").is_visible()
    finally:
        visit.page.close()


def page_at(browser: Any, path: Path, width: int) -> Any:
    page = browser.new_page(viewport={"width": width, "height": 900})
    page.goto(path.resolve().as_uri(), wait_until="load")
    return page


@pytest.mark.parametrize("width", [1280, 768])
@pytest.mark.parametrize("which", ["report", "index"])
def test_screenshots_at_desktop_and_tablet_width(browser: Any, owner_report: Path, which: str,
                                                 width: int) -> None:
    path = owner_report if which == "report" else owner_report.parent.parent / "index.html"
    page = page_at(browser, path, width)
    try:
        out = ARTIFACTS / f"{which}-{width}.png"
        out.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(out), full_page=True)
        assert out.read_bytes().startswith(PNG_SIGNATURE)
    finally:
        page.close()


@pytest.mark.parametrize("width", [1280, 768, 375])
@pytest.mark.parametrize("which", ["report", "index"])
def test_the_page_never_scrolls_sideways(browser: Any, owner_report: Path, which: str, width: int) -> None:
    path = owner_report if which == "report" else owner_report.parent.parent / "index.html"
    page = page_at(browser, path, width)
    try:
        page.locator("details").first.evaluate("node => node.open = true")  # open content counts too
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"{which} at {width}px is {widths[0]}px wide"
    finally:
        page.close()


def test_a_long_e_mail_address_wraps_inside_its_task(browser: Any, owner_report: Path) -> None:
    page = page_at(browser, owner_report, 375)
    try:
        owner = page.locator("article.task .owner").first
        task = page.locator("article.task").first
        assert owner.inner_text() == LONG_OWNER
        owner_box, task_box = owner.bounding_box(), task.bounding_box()
        assert owner_box["x"] + owner_box["width"] <= task_box["x"] + task_box["width"] + 0.5
    finally:
        page.close()


def test_the_bpmn_model_is_drawn_with_readable_text(browser: Any, owner_report: Path) -> None:
    page = page_at(browser, owner_report, 768)
    try:
        model = page.locator("#designed-model svg.bpmn")
        assert model.is_visible()
        assert page.locator("#designed-model .bpmn-task").count() == 7  # the sample's seven tasks
        assert page.locator("#designed-model .bpmn-gateway").count() == 4
        smallest = page.evaluate("""() => {
            const svg = document.querySelector('#designed-model svg.bpmn');
            const scale = svg.getBoundingClientRect().width / svg.viewBox.baseVal.width;
            const sizes = [...svg.querySelectorAll('text')].map(t => parseFloat(t.getAttribute('font-size')));
            return Math.min(...sizes) * scale;
        }""")
        assert smallest >= 10  # CSS pixels on screen: the page scrolls the drawing before shrinking text
    finally:
        page.close()


def test_the_report_runs_no_script_and_shows_times_as_utc(browser: Any, owner_report: Path) -> None:
    page = page_at(browser, owner_report, 1280)
    try:
        assert page.evaluate("document.scripts.length") == 0
        finished = page.locator("header time")
        assert finished.get_attribute("datetime") == "2024-05-02T02:14:00Z"
        assert finished.inner_text() == "2024-05-02 02:14 UTC"
    finally:
        page.close()
