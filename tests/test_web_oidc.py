"""Sign-in by OpenID Connect against a small provider run on 127.0.0.1 in the test."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from ticket_support import write_config
from web_support import served_in_thread

from kaizenflow.pipeline.config import load_config
from kaizenflow.storage.accounts import OWNER, AccountStore
from kaizenflow.storage.state import StateStore

CLIENT_ID = "kaizenflow-web"
CLIENT_SECRET = "oidc-client-5Tg8"


class Provider:
    """Discovery, authorize (signs ``user`` in at once), token (client secret, PKCE) and keys."""

    def __init__(self) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "good"})
        self.signing_key = self.key  # a test swaps in a key the provider does not publish
        self.user = "ann@example.com"
        self.codes: dict[str, dict[str, str]] = {}
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _json(self, document: object, status: int = 200) -> None:
                body = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802 - the handler's protocol
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    issuer = provider.issuer
                    self._json({"issuer": issuer, "authorization_endpoint": f"{issuer}/authorize",
                                "token_endpoint": f"{issuer}/token", "jwks_uri": f"{issuer}/jwks"})
                elif url.path == "/jwks":
                    self._json({"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    assert query["client_id"] == CLIENT_ID and query["code_challenge_method"] == "S256"
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query
                    self.send_response(302)
                    self.send_header("Location", f"{query['redirect_uri']}?"
                                     + urlencode({"code": code, "state": query["state"]}))
                    self.end_headers()
                else:
                    self._json({"error": "not_found"}, 404)

            def do_POST(self) -> None:  # noqa: N802
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(int(self.headers["Content-Length"]))
                                                     .decode()).items()}
                expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
                asked = provider.codes.pop(form.get("code", ""), None)
                verifier = form.get("code_verifier", "").encode()
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier).digest()).rstrip(b"=").decode()
                if (self.headers.get("Authorization") != f"Basic {expected}" or asked is None
                        or challenge != asked["code_challenge"]):
                    self._json({"error": "invalid_grant"}, 400)
                    return
                claims = {"iss": provider.issuer, "aud": CLIENT_ID, "sub": "u-1", "email": provider.user,
                          "nonce": asked["nonce"], "iat": int(time.time()), "exp": int(time.time()) + 300}
                kid = str(provider.signing_key.kid)
                token = jwt.encode({"alg": "RS256", "kid": kid}, claims, provider.signing_key)
                self._json({"access_token": "a", "token_type": "Bearer", "id_token": token})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def provider() -> Iterator[Provider]:
    with Provider() as running:
        yield running


@pytest.fixture
def app_url(provider: Provider, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("OIDC_SECRET", CLIENT_SECRET)
    config = load_config(write_config(tmp_path, web={"oidc": {
        "issuer": provider.issuer, "client_id": CLIENT_ID, "client_secret_env": "OIDC_SECRET"}}))
    config.state_directory.mkdir(parents=True)
    store = StateStore(config.state_url)
    AccountStore(store.engine).add_user("ann@example.com", OWNER, None)
    store.dispose()
    with served_in_thread(config) as url:
        yield url


@contextmanager
def _sign_in(url: str) -> Iterator[tuple[httpx.Client, httpx.Response]]:
    """A browser that follows the sign-in there and back; yields it and the page it ends on."""
    with httpx.Client(base_url=url, follow_redirects=True, timeout=30) as client:
        yield client, client.get("/login/oidc", params={"next": "/tasks"})


def test_a_known_user_signs_in_through_the_provider(app_url: str) -> None:
    with _sign_in(app_url) as (client, answer):
        assert answer.status_code == 200 and answer.url.path == "/tasks"
        assert "ann@example.com" in answer.text
        assert "kaizen_session" in client.cookies


def test_someone_without_an_account_gets_no_session(app_url: str, provider: Provider) -> None:
    provider.user = "mallory@example.com"
    with _sign_in(app_url) as (client, answer):
        assert answer.status_code == 403 and "mallory@example.com has no account here" in answer.text
        assert "kaizen_session" not in client.cookies


def test_a_token_signed_with_a_key_the_provider_does_not_publish_is_refused(
    app_url: str, provider: Provider
) -> None:
    provider.signing_key = RSAKey.generate_key(2048, parameters={"kid": "good"})
    with _sign_in(app_url) as (client, answer):
        assert answer.status_code == 403 and "refused" in answer.text
        assert "kaizen_session" not in client.cookies


def test_a_callback_with_another_state_is_refused(app_url: str) -> None:
    with httpx.Client(base_url=app_url, timeout=30) as client:
        started = client.get("/login/oidc")
        assert started.status_code == 303
        answer = client.get("/login/oidc/callback", params={"code": "x", "state": "forged"})
        assert answer.status_code == 403 and "another state" in answer.text
        assert "kaizen_session" not in client.cookies
