"""The web app in a real headless Chromium: what an owner, an analyst and a viewer do, and what is refused."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from web_support import HOSTILE, PASSWORD, WebNight

from kaizenflow.improvement.types import DONE, OPEN, Task
from kaizenflow.pipeline.config import load_config
from kaizenflow.reports.screenshot import chromium_path, launch
from kaizenflow.storage.state import StateStore

pytest.importorskip("playwright.sync_api", reason="the Python package playwright is not installed")
from playwright.sync_api import expect  # noqa: E402

pytestmark = pytest.mark.skipif(
    chromium_path() is None,
    reason="no Chromium to drive: install it (Debian: apt-get install chromium) or set KAIZEN_CHROMIUM",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


class Visitor:
    """One person's browser context: their cookies, every request made and every dialog opened."""

    def __init__(self, browser: Any, url: str, width: int = 1280) -> None:
        self.url = url
        self.context = browser.new_context(viewport={"width": width, "height": 900})
        self.page = self.context.new_page()
        self.requests: list[str] = []
        self.dialogs: list[str] = []
        self.page.on("request", lambda request: self.requests.append(request.url))
        self.page.on("dialog", self._dialog)

    def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        dialog.dismiss()

    def sign_in(self, username: str, password: str = PASSWORD) -> Visitor:
        self.page.goto(f"{self.url}/login")
        self.page.get_by_label("User name").fill(username)
        self.page.get_by_label("Password").fill(password)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.wait_for_url(f"{self.url}/")
        return self

    def open(self, path: str) -> Any:
        return self.page.goto(f"{self.url}{path}")

    def post(self, path: str, form: dict[str, str]) -> Any:
        """A POST with this browser's cookies, as a crafted form would send it."""
        return self.context.request.post(f"{self.url}{path}", form=form, max_redirects=0)

    def csrf(self) -> str:
        return str(self.page.locator("input[name=csrf_token]").first.get_attribute("value"))

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def visitors(browser: Any, web_url: str) -> Iterator[Any]:
    opened: list[Visitor] = []

    def visitor(username: str | None = None, width: int = 1280) -> Visitor:
        made = Visitor(browser, web_url, width)
        opened.append(made)
        return made.sign_in(username) if username else made

    yield visitor
    for made in opened:
        made.close()


def _store(night: WebNight) -> StateStore:
    return StateStore(load_config(night.config_path).state_url)


def _tasks(night: WebNight, owner: str, status: str | None = OPEN) -> list[Task]:
    store = _store(night)
    try:
        return [t for t in store.list_tasks() if t.owner == owner and status in (None, t.status)]
    finally:
        store.dispose()


def _task(night: WebNight, task_id: int) -> Task:
    store = _store(night)
    try:
        return store.task(task_id)
    finally:
        store.dispose()


def test_an_owner_signs_in_and_sees_a_tile_per_process(visitors: Any, web_night: WebNight) -> None:
    owner = visitors(web_night.owner_a)
    tile = owner.page.locator("a.tile", has_text=web_night.process)
    assert tile.is_visible()
    assert re.fullmatch(r"\d+\.\d %", tile.locator(".figure .value").inner_text().replace("%", " %"))
    assert "yours" in tile.locator(".open-tasks").inner_text()
    assert tile.locator(".last-night").inner_text().startswith("20")
    assert all(request.startswith(owner.url) for request in owner.requests)


def test_at_768_pixels_the_process_pages_figures_are_never_broken_across_lines(
    visitors: Any, web_night: WebNight
) -> None:
    """A tablet's width once showed "Case s" and "6.7 / %" in the patterns table."""
    visitor = visitors(web_night.owner_a, width=768)
    visitor.open(f"/processes/{web_night.process}")
    cells = visitor.page.locator("table th.num, table td.num")
    assert cells.count() >= 4
    lines = cells.evaluate_all(  # the line boxes of each cell's text: more than one is a wrap
        "cells => cells.map(c => { const r = document.createRange(); r.selectNodeContents(c);"
        " return [c.textContent.trim(), r.getClientRects().length]; })")
    broken = [text for text, boxes in lines if boxes > 1]
    assert not broken, f"figures wrapped onto a second line at 768 px: {broken}"


def test_a_wrong_password_keeps_the_sign_in_page(visitors: Any, web_night: WebNight) -> None:
    stranger = visitors()
    stranger.open("/login")
    stranger.page.get_by_label("User name").fill(web_night.viewer)
    stranger.page.get_by_label("Password").fill("not the password")
    stranger.page.get_by_role("button", name="Sign in").click()
    assert stranger.page.get_by_role("alert").inner_text() == "Wrong user name or password."


def test_a_signed_out_visitor_is_sent_to_sign_in_and_then_back(visitors: Any, web_night: WebNight) -> None:
    stranger = visitors()
    stranger.open("/tasks?mine=1")
    assert stranger.page.url.startswith(f"{stranger.url}/login?next=")
    stranger.page.get_by_label("User name").fill(web_night.viewer)
    stranger.page.get_by_label("Password").fill(PASSWORD)
    stranger.page.get_by_role("button", name="Sign in").click()
    stranger.page.wait_for_url(f"{stranger.url}/tasks?mine=1")


def test_a_pattern_drills_down_to_a_case_and_its_alignment(visitors: Any, web_night: WebNight) -> None:
    owner = visitors(web_night.owner_a)
    owner.page.locator("a.tile").first.click()
    owner.page.locator("a.pattern-link", has_text="Approve Purchase Order").first.click()
    count = owner.page.locator(".count .matching")
    total = int(count.inner_text().replace(",", ""))
    assert total > 0
    first_row = owner.page.locator("table.cases td.attrs").first.inner_text()
    plant = re.search(r"plant=(\S+)", first_row)
    assert plant, first_row
    # filter by an attribute value (htmx swaps the table in place and keeps the URL in step)
    owner.page.locator("input[name=value]").fill(plant.group(1))
    owner.page.locator("select[name=attribute]").select_option("plant")
    owner.page.wait_for_url(re.compile(rf".*attribute=plant&value={re.escape(plant.group(1))}.*"))
    expect(count).not_to_have_text(f"{total:,}")
    assert 0 < int(count.inner_text().replace(",", "")) < total
    chips = owner.page.locator("table.cases td.attrs")
    assert all(f"plant={plant.group(1)}" in text for text in chips.all_inner_texts())
    owner.page.locator("a.case-link").first.click()
    assert owner.page.locator("ol.alignment .step").count() > 2
    assert owner.page.locator("ol.alignment .step.skipped, ol.alignment .step.inserted").count() >= 1
    assert owner.page.locator("table.events tbody tr").count() >= 2
    assert all(request.startswith(owner.url) for request in owner.requests)


def test_an_owner_takes_their_task_from_open_to_done(visitors: Any, web_night: WebNight) -> None:
    task = _tasks(web_night, web_night.owner_a)[0]
    owner = visitors(web_night.owner_a)
    owner.open("/tasks?mine=1")
    owner.page.locator(f"article[data-task='{task.task_id}'] a").click()
    for button, status in (("Acknowledge", "acknowledged"), ("Start", "in progress"), ("Mark done", "done")):
        owner.page.get_by_role("button", name=button, exact=True).click()
        assert owner.page.locator("#task-status").inner_text().lower() == status
    assert _task(web_night, task.task_id).status == DONE
    history = owner.page.locator(".history").inner_text()
    assert f"{web_night.owner_a}: done" in history
    owner.open("/tasks?mine=1")
    assert owner.page.locator(f"section[data-status='done'] article[data-task='{task.task_id}']").is_visible()


def test_an_owner_comments_and_reassigns_their_task(visitors: Any, web_night: WebNight) -> None:
    task = _tasks(web_night, web_night.owner_a)[-1]
    owner = visitors(web_night.owner_a)
    owner.open(f"/tasks/{task.task_id}")
    owner.page.get_by_placeholder("a comment").fill("Talked to the plant <b>team</b>")
    owner.page.get_by_role("button", name="Comment").click()
    assert owner.page.locator(".history li", has_text="Talked to the plant <b>team</b>").is_visible()
    owner.page.get_by_placeholder("new owner").fill(web_night.owner_b)
    owner.page.get_by_role("button", name="Reassign").click()
    assert owner.page.locator(".task-owner").inner_text() == web_night.owner_b
    assert owner.page.locator(".history li", has_text=f"assigned to {web_night.owner_b}").is_visible()
    assert owner.page.locator("section.actions").count() == 0  # no longer theirs to act on
    assert _task(web_night, task.task_id).owner == web_night.owner_b


def test_an_analyst_accepts_a_pattern_for_an_object_with_an_expiry(
    visitors: Any, web_night: WebNight
) -> None:
    analyst = visitors(web_night.analyst)
    analyst.open(f"/processes/{web_night.process}")
    analyst.page.locator("a.pattern-link").first.click()
    key = analyst.page.locator("input[name=pattern]").get_attribute("value")
    analyst.page.locator("details.accept summary").click()
    analyst.page.get_by_label("Only for").fill("plant=P-02")
    analyst.page.get_by_label("Days it holds").fill("30")
    analyst.page.get_by_label("Reason").fill("P-02 approves by phone during the migration")
    analyst.page.get_by_role("button", name="Accept", exact=True).click()
    accepted = analyst.page.locator("ul.acceptances li", has_text="P-02 approves by phone")
    expected = (datetime.now(UTC) + timedelta(days=30)).strftime("%Y-%m-%d")
    assert f"{key} for plant=P-02 until {expected}" in accepted.inner_text()
    store = _store(web_night)
    try:
        [stored] = [a for a in store.accepted(web_night.process) if a["business_object"] == "plant=P-02"]
    finally:
        store.dispose()
    assert stored["accepted_by"] == web_night.analyst and stored["pattern_key"] == key


def test_an_owner_posting_to_another_owners_task_gets_403_and_nothing_changes(
    visitors: Any, web_night: WebNight
) -> None:
    theirs = _tasks(web_night, web_night.owner_b)[0]
    owner = visitors(web_night.owner_a)
    owner.open(f"/tasks/{theirs.task_id}")
    assert owner.page.locator("section.actions").count() == 0
    answer = owner.post(f"/tasks/{theirs.task_id}/status",
                        {"status": "acknowledged", "csrf_token": owner.csrf()})
    assert answer.status == 403 and "Nothing was changed" in answer.text()
    after = _task(web_night, theirs.task_id)
    assert (after.status, after.owner) == (theirs.status, theirs.owner)


def test_a_form_without_a_csrf_token_is_refused(visitors: Any, web_night: WebNight) -> None:
    mine = _tasks(web_night, web_night.owner_a, status=None)[0]
    owner = visitors(web_night.owner_a)
    answer = owner.post(f"/tasks/{mine.task_id}/comment", {"text": "forged"})
    assert answer.status == 403
    store = _store(web_night)
    try:
        assert not any("forged" in str(h.get("note")) for h in store.history(mine.task_id))
    finally:
        store.dispose()


def test_a_viewer_sees_no_action_and_acting_anyway_is_refused(visitors: Any, web_night: WebNight) -> None:
    task = _tasks(web_night, web_night.owner_b)[0]
    viewer = visitors(web_night.viewer)
    viewer.open(f"/tasks/{task.task_id}")
    assert viewer.page.locator("h1").inner_text().startswith(f"#{task.task_id}")
    assert viewer.page.locator("section.actions, details.accept").count() == 0
    answer = viewer.post(f"/tasks/{task.task_id}/status",
                         {"status": "acknowledged", "csrf_token": viewer.csrf()})
    assert answer.status == 403 and "a viewer reads only" in answer.text()
    assert _task(web_night, task.task_id).status == task.status


def test_an_activity_named_like_a_script_is_shown_as_text_and_runs_nothing(
    visitors: Any, web_night: WebNight
) -> None:
    analyst = visitors(web_night.analyst)
    analyst.open(f"/processes/{web_night.process}")
    link = analyst.page.locator("a.pattern-link", has_text=HOSTILE).first
    assert link.is_visible()
    link.click()
    assert analyst.page.locator("h1", has_text=HOSTILE).is_visible()
    analyst.page.locator("a.case-link").first.click()
    assert analyst.page.locator("table.events td", has_text=HOSTILE).first.is_visible()
    analyst.open("/tasks")
    analyst.page.wait_for_timeout(100)
    assert analyst.dialogs == []
    assert analyst.page.evaluate("typeof window.pwned") == "undefined"
    assert analyst.page.evaluate("Array.from(document.scripts).map(s => s.src)") == [
        f"{analyst.url}/static/htmx-2.0.11.min.js"]
