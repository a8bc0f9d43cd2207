"""The report in a real headless Chromium: offline, readable, expandable, and inert to hostile data."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from report_fixtures import (
    JAVASCRIPT_URL,
    PWNING,
    designed_model,
    example_alignment,
    make_summary,
    many_variants,
)

from kaizenflow.pipeline.summary import RunSummary
from kaizenflow.reports import write_run_report
from kaizenflow.reports.model_overlay import designed_model_svg
from kaizenflow.reports.screenshot import chromium_path, launch

pytest.importorskip("playwright.sync_api", reason="the Python package playwright is not installed")

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium to drive: install it (Debian: apt-get install chromium) or set KAIZEN_CHROMIUM",
)

ACTIVITIES = ("Create PO", "Approve PO", "Receive Goods", "Pay Invoice")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


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
        assert visit.page.locator("td", has_text=f"P2P {PWNING[0]}").is_visible()
    finally:
        visit.page.close()
