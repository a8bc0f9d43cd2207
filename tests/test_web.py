"""The web app over HTTP and its accounts: who may do what, the defences, and a night running beside it."""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
import sqlalchemy as sa
from markupsafe import escape
from ticket_support import write_config
from typer.testing import CliRunner
from web_support import PASSWORD, WebNight, csrf_of, signed_in

from kaizenflow.improvement.types import ACKNOWLEDGED, OPEN, Task
from kaizenflow.pipeline.config import load_config
from kaizenflow.storage.accounts import (
    ADMIN,
    ANALYST,
    OWNER,
    VIEWER,
    AccountError,
    AccountStore,
    User,
    audit_log,
    users,
)
from kaizenflow.storage.state import StateStore
from kaizenflow.web import permissions

# --- accounts -------------------------------------------------------------------------------


@pytest.fixture
def accounts(tmp_path: Path) -> AccountStore:
    return AccountStore(StateStore(f"sqlite:///{tmp_path / 'state.db'}").engine)


def test_a_password_is_kept_only_as_an_argon2_hash(accounts: AccountStore) -> None:
    accounts.add_user("ann@example.com", OWNER, PASSWORD)
    with accounts.engine.connect() as connection:
        stored = connection.execute(sa.select(users.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert accounts.authenticate("ann@example.com", PASSWORD) is not None
    assert accounts.authenticate("ann@example.com", PASSWORD + "x") is None
    assert accounts.authenticate("nobody@example.com", PASSWORD) is None


def test_a_short_password_or_an_unknown_role_is_refused(accounts: AccountStore) -> None:
    with pytest.raises(AccountError, match="at least 12 characters"):
        accounts.add_user("ann@example.com", OWNER, "short")
    with pytest.raises(AccountError, match="unknown role 'boss'"):
        accounts.add_user("ann@example.com", "boss", PASSWORD)
    assert accounts.list_users() == []


def test_disabling_a_user_ends_their_sessions_and_sign_ins(accounts: AccountStore) -> None:
    user = accounts.add_user("ann@example.com", OWNER, PASSWORD)
    token, _ = accounts.start_session(user, timedelta(hours=1))
    assert accounts.session(token) is not None
    accounts.set_disabled("ann@example.com")
    assert accounts.session(token) is None
    assert accounts.authenticate("ann@example.com", PASSWORD) is None


def test_the_audit_log_refuses_updates_and_deletes(accounts: AccountStore) -> None:
    accounts.audit("ann@example.com", "task_status", "task:1", {"to": "done"})
    for statement in (audit_log.update().values(username="mallory"), audit_log.delete()):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"), accounts.engine.begin() as connection:
            connection.execute(statement)
    assert [e.username for e in accounts.audit_entries()] == ["ann@example.com"]


# --- permissions ----------------------------------------------------------------------------


def _task(owner: str, business_object: str | None = None, process: str = "purchase-to-pay") -> Task:
    return Task(task_id=1, fingerprint="f", process=process, pattern_key="skipped:Approve", title="t",
                business_object=business_object, owner=owner, kpi_name="k", baseline_value=0.2,
                current_value=0.2, target_value=0.1, status=OPEN, cases=5, evidence={}, created_run="r",
                last_seen_run="r", baseline_cases=5, baseline_in_scope=25)


def _user(role: str, name: str = "ann@example.com", processes: tuple[str, ...] = (),
          scopes: tuple[str, ...] = ()) -> User:
    return User(user_id=1, username=name, role=role, processes=processes, scopes=scopes)


def test_an_owner_acts_on_tasks_named_after_them_or_in_a_scope_they_own() -> None:
    owner = _user(OWNER, scopes=("plant=P-03",))
    assert permissions.can_act(owner, _task("ann@example.com"))
    assert permissions.can_act(owner, _task("plant-team@example.com", "plant=P-03"))
    assert not permissions.can_act(owner, _task("bob@example.com", "plant=P-01"))
    assert not permissions.can_accept(owner, "purchase-to-pay")


def test_a_viewer_reads_and_never_acts() -> None:
    viewer = _user(VIEWER)
    assert permissions.can_read(viewer, "purchase-to-pay")
    assert not permissions.can_act(viewer, _task("ann@example.com"))


def test_an_analyst_acts_on_every_task_of_their_processes_only() -> None:
    analyst = _user(ANALYST, processes=("purchase-to-pay",))
    assert permissions.can_act(analyst, _task("bob@example.com"))
    assert permissions.can_accept(analyst, "purchase-to-pay")
    assert not permissions.can_act(analyst, _task("bob@example.com", process="order-to-cash"))
    assert not permissions.can_read(analyst, "order-to-cash")
    assert permissions.can_act(_user(ADMIN), _task("bob@example.com", process="order-to-cash"))


# --- the served app -------------------------------------------------------------------------


def _store(night: WebNight) -> StateStore:
    return StateStore(load_config(night.config_path).state_url)


def _first_task(night: WebNight, owner: str, status: str = OPEN) -> Task:
    store = _store(night)
    try:
        return next(t for t in store.list_tasks() if t.owner == owner and t.status == status)
    finally:
        store.dispose()


def _status(night: WebNight, task_id: int) -> str:
    store = _store(night)
    try:
        return store.task(task_id).status
    finally:
        store.dispose()


def test_a_signed_out_request_goes_to_the_sign_in_page(web_url: str) -> None:
    for path in ("/", "/tasks", "/processes/purchase-to-pay", "/audit"):
        answer = httpx.get(web_url + path)
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/login?next={quote(path, safe='')}"


def test_a_signed_out_post_changes_nothing(web_url: str, web_night: WebNight) -> None:
    task = _first_task(web_night, web_night.owner_b)
    answer = httpx.post(f"{web_url}/tasks/{task.task_id}/status", data={"status": ACKNOWLEDGED})
    assert answer.status_code == 303 and answer.headers["location"].startswith("/login")
    assert _status(web_night, task.task_id) == OPEN


def test_pages_forbid_inline_script_and_cookies_are_http_only(web_url: str, web_night: WebNight) -> None:
    form = httpx.get(f"{web_url}/login")
    assert "script-src 'self'" in form.headers["content-security-policy"]
    assert "unsafe-inline" not in form.headers["content-security-policy"]
    answer = httpx.post(f"{web_url}/login", cookies=form.cookies,
                        data={"csrf_token": csrf_of(form.text), "username": web_night.viewer,
                              "password": PASSWORD})
    cookie = answer.headers["set-cookie"]
    assert "kaizen_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert PASSWORD not in cookie


def test_the_app_fetches_only_its_own_vendored_script(web_url: str, web_night: WebNight) -> None:
    with signed_in(web_url, web_night.viewer) as client:
        page = client.get("/").text
        assert 'src="/static/htmx-2.0.11.min.js"' in page and "http" not in page.split("<body>")[0].replace(
            "http-equiv", "")
        assert client.get("/static/htmx-2.0.11.min.js").status_code == 200


def test_sign_in_is_refused_after_five_failures_even_with_the_right_password(
    web_url: str, web_night: WebNight
) -> None:
    name = "locked-out@example.com"
    store = _store(web_night)
    try:
        AccountStore(store.engine).add_user(name, VIEWER, PASSWORD)
    finally:
        store.dispose()
    with httpx.Client(base_url=web_url) as client:
        for _ in range(5):
            form = client.get("/login")
            wrong = client.post("/login", data={"csrf_token": csrf_of(form.text), "username": name,
                                                "password": "not the password"})
            assert wrong.status_code == 401
        form = client.get("/login")
        right = client.post("/login", data={"csrf_token": csrf_of(form.text), "username": name,
                                            "password": PASSWORD})
    assert right.status_code == 429 and "Too many failed sign-ins" in right.text
    # the limit is kept in the audit log: every web process sees it
    store = _store(web_night)
    try:
        failures = AccountStore(store.engine).recent_failures(datetime.now(UTC) - timedelta(hours=1), name)
    finally:
        store.dispose()
    assert failures == 5


def test_a_sign_in_form_without_its_token_is_refused(web_url: str, web_night: WebNight) -> None:
    answer = httpx.post(f"{web_url}/login", data={"username": web_night.viewer, "password": PASSWORD})
    assert answer.status_code == 403 and "kaizen_session" not in answer.headers.get("set-cookie", "")


def test_a_form_without_the_csrf_token_is_refused_and_changes_nothing(
    web_url: str, web_night: WebNight
) -> None:
    task = _first_task(web_night, web_night.owner_a)
    with signed_in(web_url, web_night.owner_a) as client:
        for data in ({"status": ACKNOWLEDGED}, {"status": ACKNOWLEDGED, "csrf_token": "forged"}):
            answer = client.post(f"/tasks/{task.task_id}/status", data=data)
            assert answer.status_code == 403 and "CSRF" in answer.text
    assert _status(web_night, task.task_id) == OPEN


def test_an_owner_acting_on_another_owners_task_gets_403_and_nothing_changes(
    web_url: str, web_night: WebNight
) -> None:
    theirs = _first_task(web_night, web_night.owner_b)
    with signed_in(web_url, web_night.owner_a) as client:
        token = csrf_of(client.get(f"/tasks/{theirs.task_id}").text)  # the sign-out form's token
        for path, data in (("status", {"status": ACKNOWLEDGED}), ("comment", {"text": "mine now"}),
                           ("assign", {"owner": web_night.owner_a})):
            answer = client.post(f"/tasks/{theirs.task_id}/{path}", data={**data, "csrf_token": token})
            assert answer.status_code == 403, path
    store = _store(web_night)
    try:
        after = store.task(theirs.task_id)
        notes = [str(h["note"]) for h in store.history(theirs.task_id) if h["type"] == "status"]
        refused = [e for e in AccountStore(store.engine).audit_entries(username=web_night.owner_a)
                   if e.action == "refused" and e.target == f"task:{theirs.task_id}"]
    finally:
        store.dispose()
    assert (after.status, after.owner) == (OPEN, web_night.owner_b)
    assert not any("mine now" in note for note in notes)
    assert len(refused) == 3


def test_a_change_made_in_the_app_is_the_clis_change_with_the_user_and_is_audited(
    web_url: str, web_night: WebNight
) -> None:
    task = _first_task(web_night, web_night.owner_a)
    with signed_in(web_url, web_night.analyst) as client:
        token = csrf_of(client.get(f"/tasks/{task.task_id}").text)
        answer = client.post(f"/tasks/{task.task_id}/status",
                             data={"status": ACKNOWLEDGED, "csrf_token": token})
        assert answer.status_code == 303
    store = _store(web_night)
    try:
        last = [h for h in store.history(task.task_id) if h["type"] == "status"][-1]
        audited = AccountStore(store.engine).audit_entries(username=web_night.analyst)
    finally:
        store.dispose()
    assert (last["status"], last["note"]) == (ACKNOWLEDGED, f"{web_night.analyst}: {ACKNOWLEDGED}")
    assert any(e.action == "task_status" and e.target == f"task:{task.task_id}"
               and e.detail["to"] == ACKNOWLEDGED for e in audited)


def test_the_cli_and_the_app_mark_a_task_done_alike(web_url: str, web_night: WebNight) -> None:
    from kaizenflow.cli.main import app

    others = [t for t in _open_tasks(web_night) if t.owner not in (web_night.owner_a, web_night.owner_b)]
    assert len(others) >= 2, "the demo night raised too few tasks for this test"
    by_cli, by_web = others[:2]
    done = CliRunner().invoke(app, ["tasks", "done", str(by_cli.task_id), "--by", web_night.analyst,
                                    "--config", str(web_night.config_path)])
    assert done.exit_code == 0, done.output
    with signed_in(web_url, web_night.analyst) as client:
        token = csrf_of(client.get(f"/tasks/{by_web.task_id}").text)
        assert client.post(f"/tasks/{by_web.task_id}/status",
                           data={"status": "done", "csrf_token": token}).status_code == 303
    store = _store(web_night)
    try:
        moved = [store.task(t.task_id) for t in (by_cli, by_web)]
        last = [[h for h in store.history(t.task_id) if h["type"] == "status"][-1] for t in moved]
    finally:
        store.dispose()
    assert [t.status for t in moved] == ["done", "done"]
    assert all(t.changed_at is not None for t in moved)  # the process's clock, both ways
    assert moved[0].changed_at == moved[1].changed_at
    assert [h["note"] for h in last] == [f"{web_night.analyst}: done"] * 2


def _open_tasks(night: WebNight) -> list[Task]:
    store = _store(night)
    try:
        return [t for t in store.list_tasks() if t.status == OPEN]
    finally:
        store.dispose()


def test_an_owner_may_not_accept_a_pattern(web_url: str, web_night: WebNight) -> None:
    with signed_in(web_url, web_night.owner_a) as client:
        token = csrf_of(client.get("/").text)
        answer = client.post(f"/processes/{web_night.process}/accept",
                             data={"pattern": "skipped:Approve Purchase Order", "days": "30",
                                   "reason": "r", "csrf_token": token})
    assert answer.status_code == 403
    store = _store(web_night)
    try:
        assert store.accepted(web_night.process) == []
    finally:
        store.dispose()


def test_the_audit_log_page_is_for_admins_only(web_url: str, web_night: WebNight) -> None:
    with signed_in(web_url, web_night.viewer) as client:
        assert client.get("/audit").status_code == 403
    with signed_in(web_url, web_night.admin) as client:
        page = client.get("/audit")
        assert page.status_code == 200 and web_night.viewer in page.text


# --- beside a night -------------------------------------------------------------------------


def _latest_run(night: WebNight) -> str:
    store = _store(night)
    try:
        found = store.latest_run_id(night.process)
        assert found is not None
        return found
    finally:
        store.dispose()


def test_the_app_answers_while_a_night_runs_and_shows_its_run_once_published(
    web_url: str, web_night: WebNight
) -> None:
    from kaizenflow.flows.nightly import run_nightly
    from kaizenflow.pipeline.config import load_config
    from kaizenflow.storage.state import StateStore

    before = _latest_run(web_night)
    # with nothing new the night would repeat the newest run's findings and publish no run: without
    # its kept findings it computes and publishes one, from the same events
    store = StateStore(load_config(web_night.config_path).state_url)
    try:
        store.forget_findings(web_night.process)
    finally:
        store.dispose()
    answers: list[tuple[str, int, float]] = []
    night_over = threading.Event()

    def ask() -> None:
        with signed_in(web_url, web_night.viewer) as client:
            while not night_over.is_set():
                for path in ("/", "/tasks", f"/processes/{web_night.process}"):
                    started = time.monotonic()
                    answers.append((path, client.get(path).status_code, time.monotonic() - started))
                time.sleep(0.2)

    asking = threading.Thread(target=ask)
    asking.start()
    try:
        run_nightly(str(web_night.config_path))  # Prefect's time box wants the main thread
    finally:
        night_over.set()
        asking.join()
    after = _latest_run(web_night)
    with signed_in(web_url, web_night.viewer) as client:
        page = client.get(f"/processes/{web_night.process}").text
    assert after != before, "the night published no run"
    assert len(answers) >= 9, "the night ended before the app was asked anything"
    assert {status for _, status, _ in answers} == {200}
    assert max(seconds for *_, seconds in answers) < 10
    assert after in page and before not in page.split("Deviation patterns")[0]


def test_while_a_night_holds_the_event_store_a_case_falls_back_to_the_state_database(
    web_url: str, web_night: WebNight
) -> None:
    import duckdb

    store = _store(web_night)
    try:
        run_id = store.latest_run_id(web_night.process)
        assert run_id is not None
        deviation = store.run_deviations(run_id)[0]
    finally:
        store.dispose()
    path = f"/processes/{web_night.process}/case?id={quote(deviation.case_id)}"
    events = load_config(web_night.config_path).state_directory / "events.duckdb"
    with signed_in(web_url, web_night.viewer) as client:
        writer = duckdb.connect(str(events))  # what a night's load holds
        try:
            busy = client.get(path)
        finally:
            writer.close()
        free = client.get(path)
    assert busy.status_code == 200 and "a night is loading events right now" in busy.text
    assert str(escape(deviation.activity)) in busy.text and "<h2>Events</h2>" not in busy.text
    assert free.status_code == 200 and "<h2>Events</h2>" in free.text


# --- the command line -----------------------------------------------------------------------


def test_users_are_added_listed_given_a_role_and_disabled_from_the_command_line(tmp_path: Path) -> None:
    from kaizenflow.cli.demo import prepare_demo
    from kaizenflow.cli.main import app

    config_path, _ = prepare_demo(tmp_path, cases=500)
    runner = CliRunner()
    config = ["--config", str(config_path)]
    added = runner.invoke(app, ["users", "add", "ann@example.com", "--role", "owner", "--scope",
                                "plant=P-03", "--password-stdin", *config], input=PASSWORD + "\n")
    assert added.exit_code == 0, added.output
    assert runner.invoke(app, ["users", "set-role", "ann@example.com", "analyst", *config]).exit_code == 0
    assert runner.invoke(app, ["users", "disable", "ann@example.com", *config]).exit_code == 0
    listed = runner.invoke(app, ["users", "list", *config])
    assert listed.output.strip() == "ann@example.com: analyst on all processes; owns plant=P-03 (disabled)"
    wrong = runner.invoke(app, ["users", "set-role", "ann@example.com", "boss", *config])
    assert wrong.exit_code == 1 and "unknown role 'boss'" in wrong.output


# --- sign-in by a trusted reverse proxy -----------------------------------------------------


def _proxied_config(tmp_path: Path, web: Mapping[str, object]) -> Path:
    path = write_config(tmp_path, web=dict(web))
    config = load_config(path)
    config.state_directory.mkdir(parents=True)
    store = StateStore(config.state_url)
    AccountStore(store.engine).add_user("ann@example.com", OWNER, None)
    store.dispose()
    return path


def test_a_trusted_proxy_header_signs_a_known_user_in(tmp_path: Path) -> None:
    from web_support import served_in_thread

    config = load_config(_proxied_config(tmp_path, {"proxy_user_header": "X-Remote-User"}))
    with served_in_thread(config) as url:
        known = httpx.get(f"{url}/", headers={"X-Remote-User": "ann@example.com"})
        stranger = httpx.get(f"{url}/", headers={"X-Remote-User": "mallory@example.com"})
    assert known.status_code == 200 and "ann@example.com" in known.text
    assert "kaizen_session=" in known.headers["set-cookie"]
    assert stranger.status_code == 303 and stranger.headers["location"].startswith("/login")


def test_the_proxy_header_is_ignored_unless_configured_and_from_a_trusted_address(tmp_path: Path) -> None:
    from web_support import served_in_thread

    webs: list[dict[str, object]] = [
        {}, {"proxy_user_header": "X-Remote-User", "proxy_addresses": ["10.0.0.7"]}]
    for web in webs:
        directory = tmp_path / str(len(web))
        directory.mkdir()
        config = load_config(_proxied_config(directory, web))
        with served_in_thread(config) as url:
            answer = httpx.get(f"{url}/", headers={"X-Remote-User": "ann@example.com"})
        assert answer.status_code == 303, web
