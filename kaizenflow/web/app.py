"""The process owners' web app (Starlette, server-rendered): sign-in, process tiles, pattern and case
drill-down, the task board and each task's page, with every change made through the same state
store methods as the CLI and written to the audit log with who made it.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property, wraps
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import sqlalchemy as sa
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData, MutableHeaders
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kaizenflow.improvement.lifecycle import ACTIVE, MANUAL_TRANSITIONS, TransitionError
from kaizenflow.improvement.types import DISMISSED, DONE, TASK_STATUSES, Task
from kaizenflow.pipeline import remote
from kaizenflow.pipeline.config import ConfigError, KaizenConfig, TwoWaySinkConfig
from kaizenflow.reports.archive import process_slug, run_file_stem
from kaizenflow.reports.sparkline import sparkline_svg
from kaizenflow.sinks import pages
from kaizenflow.storage.accounts import ADMIN, ANALYST, OWNER, AccountError, AccountStore, Session, User
from kaizenflow.storage.schema import kpi_history, task_history
from kaizenflow.storage.state import StateStore
from kaizenflow.web import casedata, hooks, oidc, permissions, readmodel, security
from kaizenflow.web.charts import KpiPoint, kpi_chart_svg

#: Cases a pattern page lists at once; the count above the table says how many match.
CASES_SHOWN = 200
STATUS_LABELS = {s: s.replace("_", " ") for s in TASK_STATUSES}
ACTION_LABELS = {"acknowledged": "Acknowledge", "in_progress": "Start", "done": "Mark done",
                 "dismissed": "Dismiss", "closed": "Close", "open": "Reopen"}


class Refused(Exception):
    """A request the user may not make (403) or that names nothing (404); nothing was changed."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Resources:
    """What every request uses: the configuration, the stores and the page templates."""

    config: KaizenConfig
    store: StateStore
    accounts: AccountStore
    signer: security.CookieSigner
    templates: Environment
    cases: casedata.CaseCache

    @property
    def lifetime(self) -> timedelta:
        return timedelta(hours=self.config.web.session_hours)

    @property
    def events_path(self) -> Path:
        return self.config.state_directory / "events.duckdb"

    @cached_property
    def reports_directory(self) -> Path:
        return self.config.path(self.config.reports_directory)  # resolved once, not per page


def prefer_wal(engine: sa.Engine) -> None:
    """A SQLite state database in WAL mode: pages read while a night's transaction writes.

    The mode is a property of the file, kept for every later connection (the nights' too). If
    a night holds the database right now the switch waits for another start.
    """
    if engine.dialect.name != "sqlite":
        return
    with contextlib.suppress(sa.exc.OperationalError), engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")


def make_resources(config: KaizenConfig) -> Resources:
    config.state_directory.mkdir(parents=True, exist_ok=True)
    store = StateStore(config.state_url)
    prefer_wal(store.engine)
    templates = Environment(loader=PackageLoader("kaizenflow.web", "templates"), auto_reload=False,
                            autoescape=select_autoescape(default=True, default_for_string=True))
    templates.filters["pct"] = lambda v: "–" if v is None else f"{v:.1%}"
    templates.filters["utc"] = _utc
    templates.filters["status"] = lambda s: STATUS_LABELS.get(s, s)
    templates.globals["quote"] = lambda s: quote(str(s), safe="")
    return Resources(config=config, store=store, accounts=AccountStore(store.engine),
                     signer=security.CookieSigner(security.installation_secret(config.state_directory)),
                     templates=templates, cases=casedata.CaseCache())


def compile_templates(app: Resources) -> None:
    """Every page template compiled as a worker starts, not while its first visitors wait."""
    for name in app.templates.list_templates():
        app.templates.get_template(name)


def _utc(moment: datetime | None) -> str:
    if moment is None:
        return "–"
    aware = moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return f"{aware:%Y-%m-%d %H:%M} UTC"


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


# --- sessions -------------------------------------------------------------------------------


def session_of(app: Resources, request: Request) -> tuple[Session | None, str | None]:
    """The request's session, and a new session cookie when the trusted proxy signed it in
    (reads the database: call it off the event loop)."""
    token = app.signer.session_token(request.cookies.get(security.SESSION_COOKIE), app.lifetime)
    if token:
        session = app.accounts.session(token)
        if session is not None:
            return session, None
    header = app.config.web.proxy_user_header
    if header and _address(request) in app.config.web.proxy_addresses:
        name = request.headers.get(header, "").strip()
        if name:
            return _proxy_session(app, name, _address(request))
    return None, None


async def signed_in(app: Resources, request: Request) -> tuple[Session | None, str | None]:
    return await run_in_threadpool(session_of, app, request)


def _proxy_session(app: Resources, name: str, address: str) -> tuple[Session | None, str | None]:
    try:
        user = app.accounts.user(name)
    except AccountError:
        app.accounts.audit(name, "login_refused", name, {"by": "proxy header", "why": "no such user"},
                           address)
        return None, None
    if user.disabled:
        return None, None
    token, session = app.accounts.start_session(user, app.lifetime)
    app.accounts.audit(user.username, "login", user.username, {"by": "proxy header"}, address)
    return session, token


def _set_session_cookie(app: Resources, request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        security.SESSION_COOKIE, app.signer.session_cookie(token),
        max_age=int(app.lifetime.total_seconds()), httponly=True, samesite="lax",
        secure=request.url.scheme == "https", path="/",
    )


Handler = Callable[[Resources, Request, Session], Awaitable[Response]]
ReadingHandler = Callable[[Resources, Request, Session], Response]


def _to_sign_in(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    wanted = target if request.method == "GET" else "/"
    return RedirectResponse(f"/login?{urlencode({'next': wanted})}", status_code=303)


def _refusal(app: Resources, request: Request, session: Session,
             error: Refused | TransitionError) -> Response:
    status = error.status if isinstance(error, Refused) else 400
    return render(app, request, session, "error.html.j2", status=status, message=str(error))


def page(app: Resources, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A page for signed-in users: others go to the sign-in page; a POST must carry the CSRF token."""

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        session, new_token = await signed_in(app, request)
        if session is None:
            return _to_sign_in(request)
        try:
            if request.method == "POST":
                form = await request.form()
                if not security.same_token(session.csrf_token, form.get(security.CSRF_FIELD)):
                    await run_in_threadpool(
                        app.accounts.audit, session.user.username, "refused", request.url.path,
                        {"why": "missing or wrong CSRF token"}, _address(request))
                    raise Refused(403, "This form is stale or did not come from this site "
                                       "(no valid CSRF token): nothing was changed. Reload the page.")
            response = await handler(app, request, session)
        except (Refused, TransitionError) as error:
            response = _refusal(app, request, session, error)
        if new_token:
            _set_session_cookie(app, request, response, new_token)
        return response

    return endpoint


def reading_page(app: Resources, handler: ReadingHandler) -> Callable[[Request], Awaitable[Response]]:
    """A page that only reads, for signed-in users: the session, the page's reads and its
    rendering run in one worker thread, one hand-over from the event loop per request (where
    ``page`` takes two), so that under load a request waits for fewer turns of the loop."""

    def answer(request: Request) -> Response:
        session, new_token = session_of(app, request)
        if session is None:
            return _to_sign_in(request)
        try:
            response = handler(app, request, session)
        except (Refused, TransitionError) as error:
            response = _refusal(app, request, session, error)
        if new_token:
            _set_session_cookie(app, request, response, new_token)
        return response

    @wraps(handler)
    async def endpoint(request: Request) -> Response:
        return await run_in_threadpool(answer, request)

    return endpoint


def render(app: Resources, request: Request, session: Session | None, name: str, status: int = 200,
           **context: Any) -> HTMLResponse:
    template = app.templates.get_template(name)
    html = template.render(
        session=session, user=session.user if session else None,
        csrf=session.csrf_token if session else "", csrf_field=security.CSRF_FIELD,
        path=request.url.path, processes=[p.name for p in app.config.processes], **context,
    )
    return HTMLResponse(html, status_code=status)


def _form_text(form: FormData, name: str, limit: int = 2000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


def _visible_processes(app: Resources, user: User) -> list[str]:
    return [p.name for p in app.config.processes if permissions.can_read(user, p.name)]


def _readable_process(app: Resources, user: User, name: str) -> str:
    if name not in [p.name for p in app.config.processes]:
        raise Refused(404, f"There is no process {name} in this installation.")
    if not permissions.can_read(user, name):
        raise Refused(403, f"You do not work on {name}.")
    return name


# --- sign-in --------------------------------------------------------------------------------


async def login_form(app: Resources, request: Request, message: str = "", status: int = 200) -> Response:
    import secrets

    token = secrets.token_urlsafe(24)
    nxt = request.query_params.get("next", "/")
    response = render(app, request, None, "login.html.j2", status=status, login_csrf=token,
                      next=_safe_next(nxt), message=message, oidc=app.config.web.oidc)
    response.set_cookie(security.LOGIN_CSRF_COOKIE, app.signer.login_cookie(token), max_age=3600,
                        httponly=True, samesite="strict", secure=request.url.scheme == "https")
    return response


def _safe_next(value: str) -> str:
    """Only a path of this site: never //host or a scheme (an open redirect)."""
    return value if value.startswith("/") and not value.startswith("//") and "\\" not in value else "/"


async def login(app: Resources, request: Request) -> Response:
    if request.method == "GET":
        return await login_form(app, request)
    form = await request.form()
    expected = app.signer.login_token(request.cookies.get(security.LOGIN_CSRF_COOKIE))
    if not security.same_token(expected, form.get(security.CSRF_FIELD)):
        return await login_form(app, request, "The sign-in form was stale: please sign in again.", 403)
    username = _form_text(form, "username", 255)
    password = form.get("password")
    address = _address(request)

    def attempt() -> tuple[str, str | None, User | None]:
        since = security.login_window_start()
        if (app.accounts.recent_failures(since, username=username) >= security.LOGIN_FAILURES_PER_USER
                or app.accounts.recent_failures(since, address=address)
                >= security.LOGIN_FAILURES_PER_ADDRESS):
            app.accounts.audit(username or "-", "login_throttled", username, {}, address)
            return "throttled", None, None
        user = app.accounts.authenticate(username, password if isinstance(password, str) else "")
        if user is None:
            app.accounts.audit(username or "-", "login_failed", username, {}, address)
            return "failed", None, None
        token, _ = app.accounts.start_session(user, app.lifetime)
        app.accounts.audit(user.username, "login", user.username, {"by": "password"}, address)
        return "ok", token, user

    outcome, token, _user = await run_in_threadpool(attempt)
    if outcome == "throttled":
        minutes = int(security.LOGIN_WINDOW.total_seconds() // 60)
        return await login_form(app, request, f"Too many failed sign-ins: wait {minutes} minutes.", 429)
    if outcome == "failed" or token is None:
        return await login_form(app, request, "Wrong user name or password.", 401)
    response = RedirectResponse(_safe_next(_form_text(form, "next") or "/"), status_code=303)
    _set_session_cookie(app, request, response, token)
    response.delete_cookie(security.LOGIN_CSRF_COOKIE)
    return response


def _redirect_uri(app: Resources, request: Request) -> str:
    base = app.config.web.base_url or str(request.base_url)
    return base.rstrip("/") + "/login/oidc/callback"


async def oidc_login(app: Resources, request: Request) -> Response:
    """Off to the OpenID Connect provider, with state, nonce and PKCE kept in a signed cookie."""
    settings = app.config.web.oidc
    if settings is None:
        return PlainTextResponse("sign-in by OpenID Connect is not configured", status_code=404)
    try:
        provider = await run_in_threadpool(oidc.discover, settings.issuer)
    except oidc.OidcError as error:
        return await login_form(app, request, str(error), 502)
    url, flow = oidc.start(provider, settings.client_id, _redirect_uri(app, request), settings.scopes,
                           _safe_next(request.query_params.get("next", "/")))
    response = RedirectResponse(url, status_code=303)
    response.set_cookie(security.OIDC_COOKIE, app.signer.oidc_cookie(flow.dumps()), max_age=oidc.FLOW_SECONDS,
                        httponly=True, samesite="lax", secure=request.url.scheme == "https")
    return response


async def oidc_callback(app: Resources, request: Request) -> Response:
    """Back from the provider: the ID token checked, then a session for a known, enabled user."""
    settings = app.config.web.oidc
    if settings is None:
        return PlainTextResponse("sign-in by OpenID Connect is not configured", status_code=404)
    kept = app.signer.oidc_flow(request.cookies.get(security.OIDC_COOKIE), oidc.FLOW_SECONDS)
    address = _address(request)
    params = request.query_params

    def complete() -> tuple[str | None, str, str]:
        if kept is None:
            return None, "The sign-in was not started here or took too long: start again.", "/"
        flow = oidc.Flow.loads(kept)
        try:
            provider = oidc.discover(settings.issuer)
            secret = os.environ.get(settings.client_secret_env, "")
            name = oidc.finish(provider, flow, params.get("state", ""), params.get("code", ""),
                               settings.client_id, secret, _redirect_uri(app, request),
                               settings.username_claim)
        except oidc.OidcError as error:
            app.accounts.audit("-", "login_failed", "oidc", {"why": str(error)}, address)
            return None, str(error), flow.next
        try:
            user = app.accounts.user(name)
        except AccountError:
            user = None
        if user is None or user.disabled:
            app.accounts.audit(name, "login_refused", name, {"by": "oidc", "why": "no enabled account"},
                               address)
            return None, f"{name} has no account here: ask an administrator.", flow.next
        token, _ = app.accounts.start_session(user, app.lifetime)
        app.accounts.audit(user.username, "login", user.username, {"by": "oidc"}, address)
        return token, "", flow.next

    token, message, nxt = await run_in_threadpool(complete)
    if token is None:
        response = await login_form(app, request, message, 403)
    else:
        response = RedirectResponse(_safe_next(nxt), status_code=303)
        _set_session_cookie(app, request, response, token)
    response.delete_cookie(security.OIDC_COOKIE)
    return response


async def logout(app: Resources, request: Request, session: Session) -> Response:
    token = app.signer.session_token(request.cookies.get(security.SESSION_COOKIE), app.lifetime)
    if token:
        await run_in_threadpool(app.accounts.end_session, token)
    await run_in_threadpool(app.accounts.audit, session.user.username, "logout", session.user.username,
                            {}, _address(request))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(security.SESSION_COOKIE)
    return response


# --- reading pages --------------------------------------------------------------------------


def home(app: Resources, request: Request, session: Session) -> Response:
    visible = _visible_processes(app, session.user)
    found = readmodel.tiles(app.store.engine, visible, session.user.username)
    stale_after = timedelta(hours=36)
    now = datetime.now(UTC)
    return render(app, request, session, "home.html.j2", tiles=found, spark=sparkline_svg,
                  stale=lambda t: t.latest is None or now - t.latest.finished_at > stale_after)


def _report_href(app: Resources, process: str, run_id: str) -> str | None:
    path = app.reports_directory / process_slug(process) / f"{run_file_stem(run_id)}.html"
    return pages.report_path(process, path.name) if path.is_file() else None


def process_page(app: Resources, request: Request, session: Session) -> Response:
    name = _readable_process(app, session.user, request.path_params["process"])
    view = readmodel.process_view(app.store.engine, name, app.reports_directory)
    open_tasks = readmodel.task_cards(app.store.engine, [name], ACTIVE)
    accepted = app.store.accepted(name)
    latest = view.latest
    return render(app, request, session, "process.html.j2", view=view, latest=latest,
                  report=_report_href(app, name, latest.run_id) if latest else None,
                  open_tasks=open_tasks, accepted=accepted, spark=sparkline_svg,
                  can_accept=permissions.can_accept(session.user, name),
                  shares=[r.conforming_share for r in view.runs])


def _parse_day(value: str) -> datetime | None:
    try:
        return datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC) if value else None
    except ValueError:
        raise Refused(400, f"{value!r} is not a date (YYYY-MM-DD)") from None


async def pattern_page(app: Resources, request: Request, session: Session) -> Response:
    name = _readable_process(app, session.user, request.path_params["process"])
    params = request.query_params
    key = params.get("key", "")
    until = _parse_day(params.get("until", ""))
    chosen = casedata.CaseFilter(
        attribute=params.get("attribute", ""), value=params.get("value", ""),
        since=_parse_day(params.get("since", "")),
        until=until + timedelta(days=1) if until else None, variant=params.get("variant", ""),
    )

    def read() -> tuple[readmodel.RunFigures | None, dict[str, str], dict[str, casedata.CaseFacts] | None,
                        str]:
        latest = readmodel.latest_run(app.store.engine, name)
        if latest is None:
            return None, {}, None, ""
        listed = readmodel.pattern_case_ids(app.store.engine, latest.run_id, key)
        try:
            facts = app.cases.cases(app.events_path, name, latest.run_id, key, list(listed))
        except casedata.EventStoreBusy as busy:
            return latest, listed, None, str(busy)
        return latest, listed, facts, ""

    latest, listed, facts, busy = await run_in_threadpool(read)
    if latest is None:
        raise Refused(404, f"{name} has not run yet.")
    if not listed:
        raise Refused(404, f"The latest run of {name} has no case with the pattern {key}.")
    shown: list[tuple[str, str, casedata.CaseFacts | None]]
    if facts is None:
        shown = [(case_id, detail, None) for case_id, detail in listed.items()]
        variants: list[casedata.VariantCount] = []
        values: dict[str, list[str]] = {}
    else:
        shown = [(case_id, detail, facts.get(case_id)) for case_id, detail in listed.items()
                 if case_id in facts and chosen.keeps(facts[case_id])]
        variants = casedata.variants_of(facts)
        values = casedata.attribute_values(facts)
    context: dict[str, Any] = dict(
        process=name, key=key, latest=latest, total=len(listed), matching=len(shown),
        shown=shown[:CASES_SHOWN], limit=CASES_SHOWN, busy=busy, variants=variants, values=values,
        chosen=chosen, since=params.get("since", ""), until=params.get("until", ""),
        can_accept=permissions.can_accept(session.user, name),
    )
    if request.headers.get("HX-Request") == "true":
        return render(app, request, session, "pattern_cases.html.j2", **context)
    return render(app, request, session, "pattern.html.j2", **context)


async def case_page(app: Resources, request: Request, session: Session) -> Response:
    name = _readable_process(app, session.user, request.path_params["process"])
    case_id = request.query_params.get("id", "")
    configured = app.config.process(name)

    def read() -> tuple[readmodel.RunFigures | None, list[tuple[str, str, str]],
                        casedata.CaseFacts | None, tuple[Any, ...] | None, str]:
        latest = readmodel.latest_run(app.store.engine, name)
        if latest is None:
            return None, [], None, None, ""
        found = readmodel.case_deviations(app.store.engine, latest.run_id, case_id)
        try:
            facts = casedata.read_cases(app.events_path, name, [case_id]).get(case_id)
        except casedata.EventStoreBusy as busy:
            return latest, found, None, None, str(busy)
        steps = None
        model_hash = casedata.model_hash_of_run(app.reports_directory, name, latest.run_id)
        if facts is not None and model_hash:
            steps = casedata.case_alignment(app.config.state_directory / "alignments.db", model_hash,
                                            facts.activities, configured.activity_mapping)
        return latest, found, facts, steps, ""

    latest, found, facts, steps, busy = await run_in_threadpool(read)
    if latest is None:
        raise Refused(404, f"{name} has not run yet.")
    if facts is None and not found and not busy:
        raise Refused(404, f"There is no case {case_id} in {name}.")
    return render(app, request, session, "case.html.j2", process=name, case_id=case_id, latest=latest,
                  deviations=found, facts=facts, steps=steps, busy=busy)


async def report_file(app: Resources, request: Request, session: Session) -> Response:
    slug, file_name = request.path_params["slug"], request.path_params["name"]
    allowed = {process_slug(p) for p in _visible_processes(app, session.user)}
    directory = app.reports_directory.resolve()
    path = (directory / slug / file_name).resolve()
    if slug not in allowed or path.parent != directory / slug or path.suffix != ".html" or not path.is_file():
        raise Refused(404, "There is no such report.")
    response = FileResponse(path, media_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = security.REPORT_CONTENT_SECURITY_POLICY
    return response


def board_page(app: Resources, request: Request, session: Session) -> Response:
    visible = _visible_processes(app, session.user)
    only_mine = request.query_params.get("mine") == "1"
    process = request.query_params.get("process") or None
    wanted = [p for p in visible if process in (None, p)]
    listed = readmodel.task_cards(app.store.engine, wanted)
    found = [t for t in listed if not only_mine or permissions.owns(session.user, t)]
    return render(app, request, session, "board.html.j2", columns=readmodel.board(found),
                  only_mine=only_mine, chosen_process=process,
                  can_act=lambda t: permissions.can_act(session.user, t),
                  mine=lambda t: permissions.owns(session.user, t))


def _task_for(app: Resources, user: User, task_id: int) -> Task:
    try:
        task = app.store.task(task_id)
    except TransitionError:
        raise Refused(404, f"There is no task #{task_id}.") from None
    if not permissions.can_read(user, task.process):
        raise Refused(404, f"There is no task #{task_id}.")
    return task


def _kpis(app: Resources, task: Task) -> tuple[list[KpiPoint], int | None]:
    """The task's KPI by run, and where the change was done (the first run measured after it)."""
    with app.store.engine.connect() as connection:
        rows = connection.execute(
            sa.select(kpi_history.c.run_id, kpi_history.c.value, kpi_history.c.cases,
                      kpi_history.c.cases_in_scope, kpi_history.c.measured_at)
            .where(kpi_history.c.task_id == task.task_id).order_by(kpi_history.c.id)
        ).all()
        done_at = connection.execute(
            sa.select(sa.func.max(task_history.c.at))
            .where(task_history.c.task_id == task.task_id, task_history.c.status == DONE)
        ).scalar()
    points = [KpiPoint(str(r[0]), float(r[1]), int(r[2]), int(r[3])) for r in rows]
    change = None
    if task.changed_at is not None and done_at is not None:
        moment = done_at if done_at.tzinfo else done_at.replace(tzinfo=UTC)
        measured = [(m if m.tzinfo else m.replace(tzinfo=UTC)) for *_, m in rows]
        change = next((i for i, m in enumerate(measured) if m > moment), len(points))
    return points, change


def task_page(app: Resources, request: Request, session: Session) -> Response:
    task_id = int(request.path_params["task_id"])
    task = _task_for(app, session.user, task_id)
    history = [h for h in app.store.history(task_id) if h["type"] == "status"]
    points, change = _kpis(app, task)
    people = [u.username for u in app.accounts.list_users() if u.role in (OWNER, ANALYST, ADMIN)
              and not u.disabled]
    return render(
        app, request, session, "task.html.j2", task=task, history=history, kpis=points,
        chart=kpi_chart_svg(points, task.baseline_value, task.target_value, change),
        can_act=permissions.can_act(session.user, task), people=people,
        moves=sorted(MANUAL_TRANSITIONS.get(task.status, ()), key=TASK_STATUSES.index),
        action_labels=ACTION_LABELS, dismissed=DISMISSED,
        can_accept=permissions.can_accept(session.user, task.process),
        report=_report_href(app, task.process, task.last_seen_run),
    )


async def audit_page(app: Resources, request: Request, session: Session) -> Response:
    if not permissions.can_manage_users(session.user):
        raise Refused(403, "Only administrators read the audit log.")
    entries = await run_in_threadpool(app.accounts.audit_entries, 500)
    users = await run_in_threadpool(app.accounts.list_users)
    return render(app, request, session, "audit.html.j2", entries=entries, users=users)


# --- changes --------------------------------------------------------------------------------


def _acting_on(app: Resources, session: Session, task_id: int, action: str, address: str) -> Task:
    task = _task_for(app, session.user, task_id)
    if not permissions.can_act(session.user, task):
        app.accounts.audit(session.user.username, "refused", f"task:{task_id}",
                           {"action": action, "why": "not theirs"}, address)
        who = "a viewer reads only" if session.user.role not in (OWNER, ANALYST, ADMIN) else \
            f"it is {task.owner}'s task"
        raise Refused(403, f"You may not {action} task #{task_id}: {who}. Nothing was changed.")
    return task


def _process_time(app: Resources, process: str) -> datetime | None:
    """The process's own clock, as the CLI's `tasks done` takes it; while a night holds the event
    store, a few short retries, then the wall clock (recorded in the audit entry)."""
    return remote.process_time(app.config, process)


async def task_status(app: Resources, request: Request, session: Session) -> Response:
    task_id = int(request.path_params["task_id"])
    form = await request.form()
    status = _form_text(form, "status", 32)
    reason = _form_text(form, "reason") or None
    address = _address(request)

    def change() -> None:
        from kaizenflow.pipeline import stages

        task = _acting_on(app, session, task_id, f"mark {status.replace('_', ' ')}", address)
        changed_at = _process_time(app, task.process) if status == DONE else None
        moved = app.store.transition(task_id, status, session.user.username, reason, changed_at,
                                     sinks=stages.sink_names(app.config, task.process))
        app.accounts.audit(session.user.username, "task_status", f"task:{task_id}",
                           {"from": task.status, "to": moved.status, "reason": reason,
                            "changed_at": changed_at, "clock": "process" if changed_at else "wall"},
                           address)

    await run_in_threadpool(change)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


async def task_comment(app: Resources, request: Request, session: Session) -> Response:
    task_id = int(request.path_params["task_id"])
    form = await request.form()
    text = _form_text(form, "text", 4000)
    if not text:
        raise Refused(400, "An empty comment was not added.")

    def change() -> None:
        _acting_on(app, session, task_id, "comment on", _address(request))
        app.store.comment(task_id, text, session.user.username)
        app.accounts.audit(session.user.username, "task_comment", f"task:{task_id}", {"text": text},
                           _address(request))

    await run_in_threadpool(change)
    return RedirectResponse(f"/tasks/{task_id}#history", status_code=303)


async def task_assign(app: Resources, request: Request, session: Session) -> Response:
    task_id = int(request.path_params["task_id"])
    form = await request.form()
    owner = _form_text(form, "owner", 255)
    if not owner:
        raise Refused(400, "Say to whom the task goes.")

    def change() -> None:
        task = _acting_on(app, session, task_id, "reassign", _address(request))
        app.store.assign(task_id, owner, session.user.username)
        app.accounts.audit(session.user.username, "task_assign", f"task:{task_id}",
                           {"from": task.owner, "to": owner}, _address(request))

    await run_in_threadpool(change)
    return RedirectResponse(f"/tasks/{task_id}", status_code=303)


async def accept_pattern(app: Resources, request: Request, session: Session) -> Response:
    name = _readable_process(app, session.user, request.path_params["process"])
    form = await request.form()
    pattern = _form_text(form, "pattern", 600)
    business_object = _form_text(form, "object", 512) or None
    reason = _form_text(form, "reason")
    try:
        days = int(_form_text(form, "days", 6) or "0")
    except ValueError:
        days = 0
    if not 1 <= days <= 3650:
        raise Refused(400, "An acceptance holds between 1 and 3650 days.")

    def change() -> None:
        if not permissions.can_accept(session.user, name):
            app.accounts.audit(session.user.username, "refused", f"process:{name}",
                               {"action": "accept", "pattern": pattern}, _address(request))
            raise Refused(403, "Only analysts of this process accept patterns. Nothing was changed.")
        expires = datetime.now(UTC) + timedelta(days=days)
        app.store.accept_pattern(name, pattern, business_object, reason, session.user.username, expires)
        app.accounts.audit(session.user.username, "accept_pattern", f"process:{name}",
                           {"pattern": pattern, "object": business_object, "reason": reason,
                            "expires_at": expires}, _address(request))

    await run_in_threadpool(change)
    return RedirectResponse(f"/processes/{name}#acceptances", status_code=303)


# --- two-way sinks -------------------------------------------------------------------------


async def sink_hook(app: Resources, request: Request) -> Response:
    """POST /hooks/{sink}: a GitHub or Jira webhook delivery, believed only signed and only once."""
    name = request.path_params["sink"]
    sink = next((s for s in app.config.sinks if s.name == name and isinstance(s, TwoWaySinkConfig)
                 and s.webhook_secret_env), None)
    if sink is None or sink.webhook_secret_env is None:
        return PlainTextResponse("no such hook", status_code=404)
    body = await request.body()
    address = _address(request)
    try:
        if len(body) > hooks.MAX_BODY_BYTES:
            raise hooks.HookRefused(413, "delivery too large")
        github = sink.type == "github"
        try:
            secret = sink.secret(sink.webhook_secret_env)
        except ConfigError as error:
            raise hooks.HookRefused(503, str(error)) from None
        hooks.verify(secret, body,
                     request.headers.get("X-Hub-Signature-256" if github else "X-Hub-Signature"))
        payload = hooks.parse(body)
        change = (hooks.github_change(request.headers.get("X-GitHub-Event"), payload) if github
                  else hooks.jira_change(payload))
        delivery = request.headers.get("X-GitHub-Delivery" if github else "X-Atlassian-Webhook-Identifier")
        message = await run_in_threadpool(_apply_hook, app, sink, delivery, change, address)
    except hooks.HookRefused as refusal:
        await run_in_threadpool(app.accounts.audit, f"hook:{name}", "hook_refused", f"sink:{name}",
                                {"why": str(refusal)}, address)
        return PlainTextResponse(str(refusal), status_code=refusal.status)
    return PlainTextResponse(message, status_code=200)


def _apply_hook(app: Resources, sink: TwoWaySinkConfig, delivery: str | None,
                change: remote.RemoteChange | None, address: str) -> str:
    hooks.first_delivery(app.store.engine, sink.name, delivery)
    if change is None:
        return "nothing to do"
    return remote.apply_remote_change(app.config, app.store, app.accounts, sink, change, address).message


# --- the application ------------------------------------------------------------------------


class SecurityHeaders:
    """The security headers on every response, set as the response starts (plain ASGI: Starlette's
    BaseHTTPMiddleware runs each request in a task group with its own streams, which costs a
    page more CPU time than some of its queries)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = str(scope["path"]).startswith("/static/")
        https = scope.get("scheme") == "https"

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("Content-Security-Policy", security.CONTENT_SECURITY_POLICY)
                for header, value in security.SECURITY_HEADERS.items():
                    headers.setdefault(header, value)
                if static:
                    headers["Cache-Control"] = "public, max-age=3600"
                if https:
                    headers.setdefault("Strict-Transport-Security", "max-age=31536000")
            await send(message)

        await self.app(scope, receive, send_with_headers)


def create_app(config: KaizenConfig) -> Starlette:
    """The ASGI application for one configuration (``uvicorn`` serves it; see ``kaizen web``)."""
    app = make_resources(config)

    async def login_endpoint(request: Request) -> Response:
        return await login(app, request)

    async def oidc_start_endpoint(request: Request) -> Response:
        return await oidc_login(app, request)

    async def oidc_callback_endpoint(request: Request) -> Response:
        return await oidc_callback(app, request)

    async def hook_endpoint(request: Request) -> Response:
        return await sink_hook(app, request)

    async def no_icon(request: Request) -> Response:
        return Response(status_code=204)  # browsers ask for one; there is none

    async def health(request: Request) -> Response:
        return PlainTextResponse("ok")

    routes = [
        Route("/login", login_endpoint, methods=["GET", "POST"]),
        Route("/login/oidc", oidc_start_endpoint),
        Route("/login/oidc/callback", oidc_callback_endpoint),
        Route("/logout", page(app, logout), methods=["POST"]),
        Route("/healthz", health),
        Route("/favicon.ico", no_icon),
        Route("/", reading_page(app, home)),
        Route("/processes/{process:str}", reading_page(app, process_page)),
        Route("/processes/{process:str}/pattern", page(app, pattern_page)),
        Route("/processes/{process:str}/case", page(app, case_page)),
        Route("/processes/{process:str}/accept", page(app, accept_pattern), methods=["POST"]),
        Route("/reports/{slug:str}/{name:str}", page(app, report_file)),
        Route("/tasks", reading_page(app, board_page)),
        Route("/tasks/{task_id:int}", reading_page(app, task_page)),
        Route("/tasks/{task_id:int}/status", page(app, task_status), methods=["POST"]),
        Route("/tasks/{task_id:int}/comment", page(app, task_comment), methods=["POST"]),
        Route("/tasks/{task_id:int}/assign", page(app, task_assign), methods=["POST"]),
        Route("/audit", page(app, audit_page)),
        Route("/hooks/{sink:str}", hook_endpoint, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("kaizenflow.web", "static")]), name="static"),
    ]
    @contextlib.asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        await run_in_threadpool(compile_templates, app)
        yield
        app.store.dispose()

    web = Starlette(routes=routes, middleware=[Middleware(SecurityHeaders)], lifespan=lifespan)
    web.state.resources = app
    return web
