"""The web app's defences: signed session cookies, CSRF tokens, login rate limits, security headers.

Sessions are server-side rows (storage.accounts); the cookie carries the session token signed
with the installation's secret (itsdangerous), HttpOnly, SameSite=Lax and Secure when the app
is reached over HTTPS. Every form carries the session's CSRF token; a POST without the right
one is refused with 403 before anything is read from it. The sign-in form, before a session
exists, uses a signed double-submit cookie. Failed sign-ins are counted in the audit log, so the
limit holds across several web processes on one PostgreSQL state database.
"""

from __future__ import annotations

import hmac
import os
import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "kaizen_session"
LOGIN_CSRF_COOKIE = "kaizen_login_csrf"
OIDC_COOKIE = "kaizen_oidc"
CSRF_FIELD = "csrf_token"

#: Failed sign-ins allowed per user name, and per address, in the window before refusing.
LOGIN_FAILURES_PER_USER = 5
LOGIN_FAILURES_PER_ADDRESS = 20
LOGIN_WINDOW = timedelta(minutes=15)

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
#: The run reports are self-contained files with their own <style>: styles inline, never script.
REPORT_CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'; frame-ancestors 'none'"
)

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
}


def installation_secret(state_directory: Path) -> str:
    """KAIZEN_WEB_SECRET, else a random secret kept owner-only in the state folder.

    Several web processes must share it: on one machine they share the file; elsewhere set
    the variable to the same value everywhere.
    """
    given = os.environ.get("KAIZEN_WEB_SECRET")
    if given:
        return given
    path = state_directory / "web-secret"
    state_directory.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        try:
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass
        else:
            with os.fdopen(descriptor, "w", encoding="utf-8") as out:
                out.write(secrets.token_urlsafe(48))
    return path.read_text(encoding="utf-8").strip()


class CookieSigner:
    """Signs what goes into cookies; a tampered, foreign or expired value reads as None."""

    def __init__(self, secret: str) -> None:
        self._session = URLSafeTimedSerializer(secret, salt="kaizen-session")
        self._login = URLSafeTimedSerializer(secret, salt="kaizen-login-csrf")
        self._oidc = URLSafeTimedSerializer(secret, salt="kaizen-oidc-flow")

    def session_cookie(self, token: str) -> str:
        return self._session.dumps(token)

    def session_token(self, cookie: str | None, max_age: timedelta) -> str | None:
        if not cookie:
            return None
        try:
            value = self._session.loads(cookie, max_age=int(max_age.total_seconds()))
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def login_cookie(self, token: str) -> str:
        return self._login.dumps(token)

    def login_token(self, cookie: str | None) -> str | None:
        if not cookie:
            return None
        try:
            value = self._login.loads(cookie, max_age=3600)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


    def oidc_cookie(self, flow: str) -> str:
        return self._oidc.dumps(flow)

    def oidc_flow(self, cookie: str | None, max_age: int) -> str | None:
        if not cookie:
            return None
        try:
            value = self._oidc.loads(cookie, max_age=max_age)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None


def same_token(expected: str | None, given: object) -> bool:
    """Constant-time comparison; a missing token on either side never matches."""
    return bool(expected) and isinstance(given, str) and bool(given) and hmac.compare_digest(
        str(expected).encode("utf-8"), given.encode("utf-8"))


def login_window_start(now: datetime | None = None) -> datetime:
    return (now or datetime.now(UTC)) - LOGIN_WINDOW
