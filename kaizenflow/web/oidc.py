"""Sign-in by OpenID Connect: the authorization code flow with PKCE, state and nonce, the ID token
checked with joserfc (the JOSE library of the Authlib project) against the provider's keys.

Only users that exist in the app and are enabled get a session: the provider says who someone
is, the accounts (`kaizen users add NAME --no-password`) say what they may do.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

#: How long a sign-in may take between leaving for the provider and coming back.
FLOW_SECONDS = 600


class OidcError(RuntimeError):
    """The provider's answer cannot be believed; the message says why (shown to the user)."""


@dataclass(frozen=True)
class Provider:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


@dataclass(frozen=True)
class Flow:
    """What the browser carries (signed) to the provider and back."""

    state: str
    nonce: str
    verifier: str
    next: str
    started: float

    def dumps(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def loads(cls, text: str) -> Flow:
        return cls(**json.loads(text))


def discover(issuer: str, timeout: float = 10) -> Provider:
    url = issuer.rstrip("/") + "/.well-known/openid-configuration"
    try:
        document = httpx.get(url, timeout=timeout).raise_for_status().json()
        provider = Provider(str(document["issuer"]), str(document["authorization_endpoint"]),
                            str(document["token_endpoint"]), str(document["jwks_uri"]))
    except (httpx.HTTPError, ValueError, KeyError) as error:
        raise OidcError(f"the sign-in provider {issuer} cannot be reached or read: {error}") from None
    if provider.issuer.rstrip("/") != issuer.rstrip("/"):
        raise OidcError(f"the provider at {issuer} names itself {provider.issuer}")
    return provider


def start(
    provider: Provider, client_id: str, redirect_uri: str, scopes: str, next_path: str
) -> tuple[str, Flow]:
    """The provider's authorization URL and the flow to keep in a signed cookie."""
    flow = Flow(state=secrets.token_urlsafe(24), nonce=secrets.token_urlsafe(24),
                verifier=secrets.token_urlsafe(48), next=next_path, started=time.time())
    digest = hashlib.sha256(flow.verifier.encode()).digest()
    challenge = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    query = urlencode({"response_type": "code", "client_id": client_id, "redirect_uri": redirect_uri,
                       "scope": scopes, "state": flow.state, "nonce": flow.nonce,
                       "code_challenge": challenge, "code_challenge_method": "S256"})
    return f"{provider.authorization_endpoint}?{query}", flow


def finish(provider: Provider, flow: Flow, state: str, code: str, client_id: str, client_secret: str,
           redirect_uri: str, username_claim: str, timeout: float = 10) -> str:
    """Exchange the code, check the ID token (signature, issuer, audience, expiry, nonce) and
    return the user name it names."""
    if not secrets.compare_digest(flow.state, state):
        raise OidcError("the sign-in came back with another state: start again")
    if time.time() - flow.started > FLOW_SECONDS:
        raise OidcError("the sign-in took too long: start again")
    try:
        answer = httpx.post(provider.token_endpoint, timeout=timeout, auth=(client_id, client_secret), data={
            "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
            "code_verifier": flow.verifier})
        answer.raise_for_status()
        id_token = str(answer.json()["id_token"])
        keys = KeySet.import_key_set(httpx.get(provider.jwks_uri, timeout=timeout).raise_for_status().json())
        token = jwt.decode(id_token, keys, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer}, aud={"essential": True, "value": client_id},
            nonce={"essential": True, "value": flow.nonce}, exp={"essential": True},
        ).validate(token.claims)
    except (httpx.HTTPError, ValueError, KeyError, JoseError) as error:
        raise OidcError(f"the sign-in provider's answer was refused: {error}") from None
    claims: dict[str, Any] = dict(token.claims)
    name = claims.get(username_claim)
    if not isinstance(name, str) or not name:
        raise OidcError(f"the provider's token has no {username_claim!r}")
    return name
