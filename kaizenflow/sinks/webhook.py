"""The webhook sink: one signed JSON POST per task event, and the signature check receivers run.

Every request carries three headers::

    X-Kaizen-Event-Id:  the event's id; the same on every retry of that event
    X-Kaizen-Timestamp: Unix seconds when this attempt was signed
    X-Kaizen-Signature: sha256=<hex HMAC-SHA256 of "{timestamp}.{body}" under the shared secret>

Delivery is at least once, so a receiver must (1) check the signature over the raw body bytes,
before parsing them, (2) refuse timestamps outside a few minutes, which stops an old captured
request from being replayed, and (3) ignore an event id it has already handled, which covers a
retry or a replay inside the window. With this module installed the check is one call::

    from kaizenflow.sinks.webhook import verify_signature

    def receive(request):                                  # any web framework
        body = request.body                                # raw bytes, not re-serialised JSON
        if not verify_signature(SECRET, request.headers["X-Kaizen-Timestamp"], body,
                                request.headers["X-Kaizen-Signature"]):
            return 401
        event_id = request.headers["X-Kaizen-Event-Id"]
        if already_handled(event_id):                      # e.g. a unique key in your database
            return 200                                     # a 2xx, or we retry it
        handle(json.loads(body))
        return 200

Without it: compute ``hmac.new(secret, f"{timestamp}.".encode() + body, sha256).hexdigest()``,
compare it to the header after ``sha256=`` with a constant-time compare
(``hmac.compare_digest``), and check ``abs(now - int(timestamp)) <= 300``.

Answers: 2xx is delivered; 408, 429 (after its Retry-After), 5xx, timeouts and refused
connections are retried; any other 4xx marks the event dead (a retry would get the same answer).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import httpx

from kaizenflow.sinks.base import Event, links_of
from kaizenflow.sinks.http import DEFAULT_TIMEOUT_SECONDS, call, new_client
from kaizenflow.sinks.pages import WebPages

SIGNATURE_PREFIX = "sha256="


class WebhookSink:
    """POSTs each event as JSON to one URL, signed with a secret shared with the receiver."""

    def __init__(self, url: str, secret: str, *, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS,
                 clock: Callable[[], float] = time.time, pages: WebPages | None = None) -> None:
        if not secret:
            raise ValueError("a webhook needs a secret to sign with")
        self.url = url
        self._secret = secret
        self._clock = clock
        self._pages = pages
        self._client = new_client(timeout_seconds)
        # The host alone names the target in errors: a webhook URL's path may itself be a token.
        self._what = f"webhook POST {httpx.URL(url).host}"

    def __repr__(self) -> str:
        return f"WebhookSink(host={httpx.URL(self.url).host!r})"

    def send(self, event: Event) -> None:
        body = encode(event, self._pages)
        timestamp = str(int(self._clock()))
        call(self._client, "POST", self.url, what=self._what, content=body, headers={
            "Content-Type": "application/json",
            "X-Kaizen-Event-Id": event.event_id,
            "X-Kaizen-Timestamp": timestamp,
            "X-Kaizen-Signature": sign(self._secret, timestamp, body),
        })

    def close(self) -> None:
        self._client.close()


def encode(event: Event, pages: WebPages | None = None) -> bytes:
    """The body: the event's identity and order, and the task as it was when the event was written;
    with the web app (``web.base_url``), ``links`` to the task's page and its last run's report."""
    document: dict[str, object] = {
        "event_id": event.event_id,
        "kind": event.kind,
        "task_id": event.task_id,
        "fingerprint": event.fingerprint,
        "sequence": event.sequence,
        "run_id": event.run_id,
        "created_at": event.created_at.isoformat(),
        "task": dict(event.task),
    }
    links = links_of(event, pages)
    if links:
        document["links"] = links
    return json.dumps(document, sort_keys=True, separators=(",", ":"), default=str).encode("utf-8")


def sign(secret: str, timestamp: str, body: bytes | str) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``"{timestamp}.{body}"``: binding the timestamp into
    the MAC is what lets a receiver refuse replays (the timestamp cannot be refreshed)."""
    raw = body.encode("utf-8") if isinstance(body, str) else body
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + raw, hashlib.sha256)
    return SIGNATURE_PREFIX + digest.hexdigest()


def verify_signature(secret: str, timestamp: str, body: bytes | str, signature: str,
                     tolerance_seconds: float = 300, now: float | None = None) -> bool:
    """True only for a signature made with ``secret`` over exactly this timestamp and body, with a
    timestamp within ``tolerance_seconds`` of ``now`` (either side, for clock skew). The digests
    are compared in constant time so a forger learns nothing from how long a refusal takes."""
    if not (isinstance(timestamp, str) and timestamp.isascii() and timestamp.isdigit()):
        return False
    signed_at = int(timestamp)
    current = time.time() if now is None else now
    if abs(current - signed_at) > tolerance_seconds:
        return False
    if not isinstance(signature, str) or not signature.startswith(SIGNATURE_PREFIX):
        return False
    expected = sign(secret, timestamp, body)
    return hmac.compare_digest(expected.encode("ascii"), signature.encode("ascii", "replace"))
