"""Local stand-ins for the services tasks are pushed to: GitHub, Jira, a signed-webhook receiver, a chat hook.

Each is a threaded ``http.server`` on 127.0.0.1 (a free port) that follows its API's documented
contract as far as the sinks use it, records every request it gets, and can be told to
misbehave: answer with a status (500, 429 with Retry-After), answer slowly, process a request
and then answer too late (the client times out: a lost response), or be stopped (connection
refused) and started again on the same port.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlencode, urlsplit

Answer = tuple[int, dict[str, str], bytes]


@dataclass(frozen=True)
class Request:
    """One request as received: method, path, query, headers (lower-cased names) and raw body."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Fault:
    """A misbehaviour for the next ``times`` matching requests.

    ``status`` answers with that status instead of serving the request; ``delay`` waits that
    long first; with ``after_processing`` the request is served and then the answer is delayed
    (the service did the work, the client never hears of it).
    """

    status: int | None = 500
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    after_processing: bool = False
    method: str | None = None
    path: str | None = None
    times: int = 1

    def matches(self, request: Request) -> bool:
        return ((self.method is None or self.method == request.method)
                and (self.path is None or re.search(self.path, request.path) is not None))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a slow answer must not hold up stopping the service

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that timed out has closed its socket: nothing to report."""


class FakeService:
    """The HTTP plumbing, the request log and the faults; subclasses answer in ``handle``."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.faults: list[Fault] = []
        self.port = 0
        self._lock = threading.RLock()
        self._server: _Server | None = None

    # --- life ------------------------------------------------------------------------------

    def start(self) -> Self:
        """Listen (again) on the same port once it has one, so a client's URL stays valid."""
        service = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                service._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = _Server(("127.0.0.1", self.port), Handler)
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until :meth:`start`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # --- faults and records ------------------------------------------------------------------

    def fail(self, status: int | None = 500, *, times: int = 1, headers: dict[str, str] | None = None,
             delay: float = 0.0, after_processing: bool = False, method: str | None = None,
             path: str | None = None) -> None:
        with self._lock:
            self.faults.append(Fault(status, headers or {}, delay, after_processing, method, path, times))

    def requests_to(self, method: str, path_pattern: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests
                    if r.method == method and re.fullmatch(path_pattern, r.path) is not None]

    def all_bodies(self) -> Iterator[bytes]:
        with self._lock:
            yield from (r.body for r in self.requests)

    def _take_fault(self, request: Request) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.times > 0 and fault.matches(request):
                    fault.times -= 1
                    return fault
        return None

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        split = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        request = Request(
            method=handler.command, path=split.path, query=parse_qs(split.query),
            headers={k.lower(): v for k, v in handler.headers.items()},
            body=handler.rfile.read(length) if length else b"",
        )
        with self._lock:
            self.requests.append(request)
        fault = self._take_fault(request)
        if fault is not None and not fault.after_processing:
            time.sleep(fault.delay)
            answer: Answer = (fault.status, fault.headers, b"") if fault.status else self._handle(request)
        else:
            answer = self._handle(request)
            if fault is not None:
                time.sleep(fault.delay)
        status, headers, body = answer
        try:
            handler.send_response(status)
            for name, value in headers.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.end_headers()
            handler.wfile.write(body)
        except OSError:
            pass  # the client gave up waiting

    def _handle(self, request: Request) -> Answer:
        with self._lock:
            return self.handle(request)

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError


def _clock_time(ticks: int, zone: str) -> str:
    """A service's time ``ticks`` seconds into 2 January 2024, written with its zone suffix."""
    return f"2024-01-02T{ticks // 3600:02d}:{ticks // 60 % 60:02d}:{ticks % 60:02d}{zone}"


def _json(status: int, document: Any, headers: dict[str, str] | None = None) -> Answer:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(document).encode()


# --- a webhook receiver that checks signatures ----------------------------------------------


class FakeWebhookReceiver(FakeService):
    """Accepts a POST only with a valid ``X-Kaizen-Signature`` over ``{timestamp}.{body}`` and a
    timestamp within the tolerance; checked here independently of the code under test."""

    def __init__(self, secret: str, tolerance_seconds: float = 300) -> None:
        super().__init__()
        self.secret = secret
        self.tolerance_seconds = tolerance_seconds
        self.accepted: list[dict[str, Any]] = []
        self.rejected = 0

    def handle(self, request: Request) -> Answer:
        if request.method != "POST":
            return 405, {}, b""
        timestamp = request.headers.get("x-kaizen-timestamp", "")
        signature = request.headers.get("x-kaizen-signature", "")
        expected = "sha256=" + hmac.new(
            self.secret.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
        ).hexdigest()
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= self.tolerance_seconds
        if not (fresh and hmac.compare_digest(expected, signature)):
            self.rejected += 1
            return 401, {}, b""
        event = json.loads(request.body)
        if event.get("event_id") != request.headers.get("x-kaizen-event-id"):
            return 400, {}, b""
        self.accepted.append(event)
        return 204, {}, b""

    def event_ids(self) -> list[str]:
        with self._lock:
            return [e["event_id"] for e in self.accepted]


# --- a chat endpoint (Apprise json://) --------------------------------------------------------


class FakeChat(FakeService):
    """Records the JSON notices Apprise's ``json://`` plugin posts: version, title, message, type."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[dict[str, Any]] = []

    def handle(self, request: Request) -> Answer:
        if request.method != "POST":
            return 405, {}, b""
        self.messages.append(request.json())
        return 200, {}, b""


# --- GitHub Issues -------------------------------------------------------------------------------


class FakeGitHub(FakeService):
    """The issues endpoints of one repository: list (state, labels, per_page, page, Link header),
    create, get, update, and comments; ``Authorization: Bearer <token>`` required."""

    def __init__(self, repo: str = "acme/operations", token: str = "ghp_fake") -> None:
        super().__init__()
        self.repo = repo
        self.token = token
        self.issues: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self._next_comment = 1
        self._ticks = 0

    def _now(self) -> str:
        """The service's clock: a second later at every change, so ``since`` is exact in tests."""
        self._ticks += 1
        return _clock_time(self._ticks, "Z")

    def close_by(self, number: int, login: str, reason: str = "completed") -> None:
        """Someone closes the issue on GitHub."""
        with self._lock:
            self.issues[number].update(state="closed", state_reason=reason, closed_at=self._now(),
                                       closed_by={"login": login})

    def comment_by(self, number: int, login: str, body: str) -> int:
        """Someone comments on the issue on GitHub; returns the comment's id."""
        with self._lock:
            return int(self._add_comment(number, body, login)["id"])

    def _add_comment(self, number: int, body: str, login: str) -> dict[str, Any]:
        at = self._now()
        comment = {"id": self._next_comment, "body": body, "user": {"login": login},
                   "created_at": at, "updated_at": at}
        self._next_comment += 1
        self.comments[number].append(comment)
        self.issues[number]["comments"] += 1
        return comment

    def seed(self, title: str, body: str, labels: list[str], state: str = "open") -> int:
        """An issue that already exists (someone else's, or an earlier night's)."""
        with self._lock:
            return int(self._new_issue(title, body, labels, state)["number"])

    def _new_issue(self, title: str, body: str, labels: list[str], state: str = "open") -> dict[str, Any]:
        number = len(self.issues) + 1
        issue = {
            "id": 1000 + number, "number": number, "title": title, "body": body, "state": state,
            "state_reason": None, "labels": [{"name": name} for name in labels],
            "html_url": f"https://github.example/{self.repo}/issues/{number}", "comments": 0,
            "created_at": f"2024-01-01T00:00:{number % 60:02d}Z",
        }
        self.issues[number] = issue
        self.comments[number] = []
        return issue

    def handle(self, request: Request) -> Answer:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _json(401, {"message": "Bad credentials"})
        prefix = f"/repos/{self.repo}/issues"
        if request.path == prefix:
            return self._list(request) if request.method == "GET" else self._create(request)
        match = re.fullmatch(re.escape(prefix) + r"/(\d+)(/comments)?", request.path)
        if match is None or int(match.group(1)) not in self.issues:
            return _json(404, {"message": "Not Found"})
        number = int(match.group(1))
        if match.group(2):
            return self._comment_list(request, number) if request.method == "GET" else self._comment(
                request, number)
        if request.method == "PATCH":
            return self._update(request, number)
        return _json(200, self.issues[number])

    def _list(self, request: Request) -> Answer:
        state = request.param("state", "open")
        wanted = [name for name in (request.param("labels") or "").split(",") if name]
        found = [
            issue for issue in sorted(self.issues.values(), key=lambda i: -i["number"])
            if (state == "all" or issue["state"] == state)
            and all(name in {label["name"] for label in issue["labels"]} for name in wanted)
        ]
        return self._page(request, found)

    def _page(self, request: Request, items: list[dict[str, Any]]) -> Answer:
        per_page = min(int(request.param("per_page", "30") or 30), 100)
        page = int(request.param("page", "1") or 1)
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = {k: v[0] for k, v in request.query.items()} | {"page": str(page + 1)}
            headers["Link"] = f'<{self.url}{request.path}?{urlencode(query)}>; rel="next"'
        return _json(200, chunk, headers)

    def _create(self, request: Request) -> Answer:
        if request.method != "POST":
            return _json(404, {"message": "Not Found"})
        document = request.json() or {}
        if not isinstance(document.get("title"), str) or not document["title"]:
            return _json(422, {"message": "Validation Failed"})
        labels = [label if isinstance(label, str) else label["name"] for label in document.get("labels", [])]
        return _json(201, self._new_issue(document["title"], document.get("body") or "", labels))

    def _update(self, request: Request, number: int) -> Answer:
        document = request.json() or {}
        issue = self.issues[number]
        was = issue["state"]
        for key in ("title", "body", "state", "state_reason"):
            if key in document:
                issue[key] = document[key]
        if issue["state"] not in ("open", "closed"):
            return _json(422, {"message": "Validation Failed"})
        if issue["state"] == "closed" and was != "closed":
            issue.update(closed_at=self._now(), closed_by={"login": "kaizen-bot"})
        return _json(200, issue)

    def _comment(self, request: Request, number: int) -> Answer:
        document = request.json() or {}
        if not document.get("body"):
            return _json(422, {"message": "Validation Failed"})
        return _json(201, self._add_comment(number, document["body"], "kaizen-bot"))

    def _comment_list(self, request: Request, number: int) -> Answer:
        since = request.param("since")
        listed = [c for c in self.comments[number] if since is None or c["updated_at"] >= since]
        return self._page(request, listed)


# --- Jira Cloud ---------------------------------------------------------------------------------

_DONE = {"name": "Done", "statusCategory": {"key": "done", "name": "Done"}}
_TO_DO = {"name": "To Do", "statusCategory": {"key": "new", "name": "To Do"}}
_IN_PROGRESS = {"name": "In Progress", "statusCategory": {"key": "indeterminate", "name": "In Progress"}}
_TRANSITIONS = {"11": _TO_DO, "21": _IN_PROGRESS, "31": _DONE}


class FakeJira(FakeService):
    """Jira Cloud REST v3 for one project: create, get, edit, comments, transitions, and the
    enhanced JQL search (``project = "KEY" AND labels = "..."``); basic auth e-mail:token."""

    def __init__(self, email: str = "bot@example.com", token: str = "jira-fake-token",
                 project: str = "OPS") -> None:
        super().__init__()
        self.email = email
        self.token = token
        self.project = project
        self.issues: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, list[dict[str, Any]]] = {}
        self._ticks = 0

    def _now(self) -> str:
        self._ticks += 1
        return _clock_time(self._ticks, ".000+0000")

    def resolve_by(self, key: str) -> None:
        """Someone moves the issue to Done on the Jira board."""
        with self._lock:
            self.issues[key]["fields"].update(status=_DONE, statuscategorychangedate=self._now())

    def comment_by(self, key: str, name: str, text: str) -> str:
        """Someone comments on the issue in Jira; returns the comment's id."""
        with self._lock:
            body = {"type": "doc", "version": 1,
                    "content": [{"type": "paragraph", "content": [{"type": "text", "text": text}]}]}
            return str(self._add_comment(key, body, name)["id"])

    def _add_comment(self, key: str, body: dict[str, Any], name: str) -> dict[str, Any]:
        comment = {"id": str(10000 + sum(map(len, self.comments.values())) + 1), "body": body,
                   "author": {"displayName": name}, "created": self._now()}
        self.comments[key].append(comment)
        return comment

    def handle(self, request: Request) -> Answer:
        expected = "Basic " + base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        if request.headers.get("authorization") != expected:
            return 401, {}, b""
        path = request.path
        if path == "/rest/api/3/issue" and request.method == "POST":
            return self._create(request)
        if path == "/rest/api/3/search/jql" and request.method in ("GET", "POST"):
            return self._search(request)
        match = re.fullmatch(r"/rest/api/3/issue/([A-Z][A-Z0-9_]*-\d+)(/comment|/transitions)?", path)
        if match is None or match.group(1) not in self.issues:
            missing = "Issue does not exist or you do not have permission to see it."
            return _json(404, {"errorMessages": [missing], "errors": {}})
        key, part = match.group(1), match.group(2)
        if part == "/comment":
            if request.method == "GET":
                comments = self.comments[key]
                return _json(200, {"comments": list(reversed(comments))
                                   if request.param("orderBy") == "-created" else comments,
                                   "startAt": 0, "maxResults": 100, "total": len(comments)})
            return self._comment(request, key)
        if part == "/transitions":
            return self._transition(request, key)
        if request.method == "PUT":
            return self._edit(request, key)
        return _json(200, self._issue(key))

    def _issue(self, key: str) -> dict[str, Any]:
        issue = self.issues[key]
        comments = self.comments[key]
        listed = {"comments": comments, "startAt": 0, "maxResults": len(comments), "total": len(comments)}
        return {"id": issue["id"], "key": key, "self": f"{self.url}/rest/api/3/issue/{issue['id']}",
                "fields": {**issue["fields"], "comment": listed}}

    def _create(self, request: Request) -> Answer:
        fields = (request.json() or {}).get("fields", {})
        errors = {}
        if fields.get("project", {}).get("key") != self.project:
            errors["project"] = "valid project is required"
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary or len(summary) > 255 or "\n" in summary:
            errors["summary"] = "Summary must be less than 255 characters, on one line."
        if not fields.get("issuetype", {}).get("name"):
            errors["issuetype"] = "Specify an issue type"
        if not _is_adf(fields.get("description")):
            errors["description"] = "Operation value must be an Atlassian Document."
        if any(" " in label for label in fields.get("labels", [])):
            errors["labels"] = "The label must not contain spaces."
        if errors:
            return _json(400, {"errorMessages": [], "errors": errors})
        number = len(self.issues) + 1
        key = f"{self.project}-{number}"
        self.issues[key] = {"id": str(10000 + number), "fields": {
            "summary": summary, "description": fields["description"],
            "labels": list(fields.get("labels", [])), "issuetype": fields["issuetype"], "status": _TO_DO,
        }}
        self.comments[key] = []
        link = f"{self.url}/rest/api/3/issue/{key}"
        return _json(201, {"id": str(10000 + number), "key": key, "self": link})

    def _edit(self, request: Request, key: str) -> Answer:
        fields = (request.json() or {}).get("fields", {})
        if "description" in fields and not _is_adf(fields["description"]):
            return _json(400, {"errorMessages": [], "errors": {"description": "not an Atlassian Document"}})
        self.issues[key]["fields"].update(fields)
        return 204, {}, b""

    def _comment(self, request: Request, key: str) -> Answer:
        body = (request.json() or {}).get("body")
        if not _is_adf(body):
            return _json(400, {"errorMessages": ["Comment body is not valid."], "errors": {}})
        return _json(201, self._add_comment(key, body if isinstance(body, dict) else {}, "kaizen bot"))

    def _transition(self, request: Request, key: str) -> Answer:
        status = self.issues[key]["fields"]["status"]
        if request.method == "GET":
            available = [{"id": tid, "name": to["name"], "to": to}
                         for tid, to in _TRANSITIONS.items() if to is not status]
            return _json(200, {"transitions": available})
        wanted = str(((request.json() or {}).get("transition") or {}).get("id"))
        if wanted not in _TRANSITIONS or _TRANSITIONS[wanted] is status:
            return _json(400, {"errorMessages": ["Transition id is not valid for this issue."], "errors": {}})
        self.issues[key]["fields"]["status"] = _TRANSITIONS[wanted]
        if _TRANSITIONS[wanted]["statusCategory"] != status["statusCategory"]:
            self.issues[key]["fields"]["statuscategorychangedate"] = self._now()
        return 204, {}, b""

    def _search(self, request: Request) -> Answer:
        jql = (request.json() or {}).get("jql") if request.method == "POST" else request.param("jql")
        project = re.search(r'project\s*=\s*"?([A-Z][A-Z0-9_]*)"?', jql or "")
        label = re.search(r'labels\s*=\s*"?([A-Za-z0-9_.-]+)"?', jql or "")
        if project is None:
            return _json(400, {"errorMessages": ["Unbounded JQL queries are not allowed here."]})
        found = [
            {"id": issue["id"], "key": key, "fields": {"summary": issue["fields"]["summary"],
                                                      "labels": issue["fields"]["labels"]}}
            for key, issue in self.issues.items()
            if key.startswith(project.group(1) + "-")
            and (label is None or label.group(1) in issue["fields"]["labels"])
        ]
        return _json(200, {"issues": found, "isLast": True})


def _is_adf(document: Any) -> bool:
    return (isinstance(document, dict) and document.get("type") == "doc" and document.get("version") == 1
            and isinstance(document.get("content"), list))
