"""HTTP for the sinks: a timeout on every request, and each answer sorted into done, retry or give up."""

from __future__ import annotations

import time
from collections.abc import Collection
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from kaizenflow.sinks.base import DeliveryError

DEFAULT_TIMEOUT_SECONDS = 10.0
USER_AGENT = "kaizenflow"


def new_client(timeout_seconds: float, headers: dict[str, str] | None = None,
               auth: httpx.Auth | tuple[str, str] | None = None) -> httpx.Client:
    """A client whose every request (connect, read, write, pool) is bounded by the timeout, and
    that follows no redirect: a redirect would re-send credentials to wherever it points."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout_seconds), headers={"User-Agent": USER_AGENT, **(headers or {})},
        auth=auth, follow_redirects=False,
    )


def call(client: httpx.Client, method: str, url: str, *, what: str,
         expected: Collection[int] = (), **kwargs: Any) -> httpx.Response:
    """One request. Network failures and answers that may succeed later raise a retryable
    :class:`DeliveryError`; other non-2xx answers a final one. ``what`` names the step in the
    message (method and path, never a header or a body), which becomes the event's last_error.
    """
    try:
        response = client.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise DeliveryError(f"{what}: no answer in time", retryable=True) from None
    except httpx.TransportError as error:
        raise DeliveryError(f"{what}: {type(error).__name__}", retryable=True) from None
    if response.status_code in expected or (not expected and response.is_success):
        return response
    raise error_for(response, what)


def error_for(response: httpx.Response, what: str) -> DeliveryError:
    """408, 429 and 5xx may pass later (429 and 503 after the wait the service names); so may
    a 403 that is a rate limit (GitHub says so with Retry-After or no requests remaining).
    Any other 4xx will not change by waiting."""
    status = response.status_code
    message = f"{what}: HTTP {status} {response.reason_phrase}".rstrip()
    retry_after = retry_after_seconds(response)
    rate_limited = status == 429 or (
        status == 403
        and (retry_after is not None or response.headers.get("x-ratelimit-remaining") == "0")
    )
    if rate_limited and retry_after is None:
        retry_after = _ratelimit_reset(response)
    if rate_limited or status == 408 or status >= 500:
        return DeliveryError(message, retryable=True, retry_after=retry_after, status=status)
    return DeliveryError(message, retryable=False, status=status)


def retry_after_seconds(response: httpx.Response, now: float | None = None) -> float | None:
    """Retry-After as seconds to wait: it is a number of seconds or an HTTP date."""
    value = response.headers.get("retry-after")
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _ratelimit_reset(response: httpx.Response) -> float | None:
    reset = response.headers.get("x-ratelimit-reset")
    if reset is None or not reset.isdigit():
        return None
    return max(0.0, float(reset) - time.time())


def json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The answer's JSON object; a garbled 2xx is retried, as a proxy or a hiccup may cause it."""
    data = _json(response, what)
    if not isinstance(data, dict):
        raise DeliveryError(f"{what}: the answer is not a JSON object", retryable=True)
    return data


def json_list(response: httpx.Response, what: str) -> list[dict[str, Any]]:
    """The objects of the answer's JSON list."""
    data = _json(response, what)
    if not isinstance(data, list):
        raise DeliveryError(f"{what}: the answer is not a JSON list", retryable=True)
    return [item for item in data if isinstance(item, dict)]


def _json(response: httpx.Response, what: str) -> object:
    try:
        return response.json()
    except ValueError:
        raise DeliveryError(f"{what}: the answer is not JSON", retryable=True) from None
