"""The portal's client of the VNeID realm: the broker's back channel (token, userinfo, certs).

Two implementations of one interface, as the architecture asks of service clients: both send
the same HTTP requests with ``httpx``; only the transport differs.

- in process (the embedded default): ``httpx.ASGITransport`` into the identity app itself, so
  each call crosses the app's whole middleware stack (including the latency profile's delay
  for the ``identity`` hop when faults are installed) without a socket;
- over HTTP (``SIM06_IDENTITY_PORTAL_VNEID_URL``): a real connection, e.g. to another replica
  or container.

The broker authenticates with ``client_secret_basic`` as its built-in client :data:`BROKER_ID`,
whose secret is generated on first run into the data directory (never committed) unless
``SIM06_IDENTITY_PORTAL_BROKER_SECRET`` sets it (several machines must share it).
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt

from sim06.services.common.settings import Settings
from sim06.services.identity.discovery import REALM_ISSUER_PATH, REALM_PATHS

__all__ = ["BROKER_ID", "RealmClient", "UpstreamError", "broker_secret"]

BROKER_ID = "dvcqg-sso"  # the portal's client at the realm (Cổng dịch vụ công quốc gia)
TIMEOUT = httpx.Timeout(10.0)
# Forwarded from the citizen's request: a benchmark that picks a latency profile per request
# gets it on the back channel too.
FORWARDED = ("x-sim-latency-profile",)


class UpstreamError(Exception):
    """The realm refused or failed; ``error`` is the OAuth code to send the relying party."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


def broker_secret(settings: Settings) -> str:
    """The broker client's secret: the setting, else a file generated on first run (0600)."""
    if settings.identity_portal_broker_secret:
        return settings.identity_portal_broker_secret
    path = settings.keys_dir / "portal-broker-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process wrote it first
            return path.read_text("ascii").strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path.read_text("ascii").strip()


@dataclass
class RealmClient:
    """Back-channel calls to the realm at ``issuer`` through ``http`` (its base URL is the
    realm server's root)."""

    http: httpx.AsyncClient
    issuer: str
    secret: str
    _jwks: jwt.PyJWKSet | None = field(default=None, repr=False)

    def _url(self, endpoint: str) -> str:
        return REALM_ISSUER_PATH + REALM_PATHS[endpoint]

    async def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        try:
            return await self.http.request(method, url, **kwargs)
        except httpx.HTTPError as exc:
            raise UpstreamError(
                "temporarily_unavailable", f"VNeID did not answer ({type(exc).__name__})"
            ) from None

    async def exchange(
        self, code: str, redirect_uri: str, verifier: str, headers: dict[str, str]
    ) -> dict[str, Any]:
        """The authorization code → VNeID's tokens (RFC 6749 §4.1.3, client_secret_basic)."""
        r = await self._call(
            "POST", self._url("token_endpoint"), headers=headers, auth=(BROKER_ID, self.secret),
            data={"grant_type": "authorization_code", "code": code,
                  "redirect_uri": redirect_uri, "code_verifier": verifier},
        )  # fmt: skip
        return self._json(r, "token")

    async def userinfo(self, access_token: str, headers: dict[str, str]) -> dict[str, Any]:
        """VNeID's user info with the access token (OIDC Core §5.3)."""
        r = await self._call(
            "GET", self._url("userinfo_endpoint"),
            headers={**headers, "Authorization": f"Bearer {access_token}"},
        )  # fmt: skip
        return self._json(r, "userinfo")

    async def id_token(self, token: str, nonce: str, headers: dict[str, str]) -> dict[str, Any]:
        """The verified claims of VNeID's ID token (OIDC Core §3.1.3.7), keys from its certs
        endpoint (fetched again once when a ``kid`` is unknown: the realm rotated)."""
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            keys = await self._keys(headers, refresh=False)
            if kid not in {k.key_id for k in keys.keys}:
                keys = await self._keys(headers, refresh=True)
            key = keys[str(kid)]
            claims: dict[str, Any] = jwt.decode(
                token, key, algorithms=["RS256", "ES256"], audience=BROKER_ID, issuer=self.issuer,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )  # fmt: skip
        except (jwt.PyJWTError, KeyError) as exc:
            raise UpstreamError("server_error", f"VNeID's ID token is invalid: {exc}") from None
        if claims.get("nonce") != nonce:
            raise UpstreamError("server_error", "VNeID's ID token has the wrong nonce")
        return claims

    async def _keys(self, headers: dict[str, str], *, refresh: bool) -> jwt.PyJWKSet:
        if self._jwks is None or refresh:
            r = await self._call("GET", self._url("jwks_uri"), headers=headers)
            self._jwks = jwt.PyJWKSet.from_dict(self._json(r, "certs"))
        return self._jwks

    def _json(self, r: httpx.Response, what: str) -> dict[str, Any]:
        if r.status_code >= 500:
            raise UpstreamError("temporarily_unavailable", f"VNeID {what}: HTTP {r.status_code}")
        try:
            body = r.json()
        except ValueError:
            body = None
        if r.status_code != 200:
            reason = body.get("error", "") if isinstance(body, dict) else ""
            raise UpstreamError(
                "server_error", f"VNeID {what} refused: HTTP {r.status_code} {reason}".rstrip()
            )
        if not isinstance(body, dict):
            raise UpstreamError("server_error", f"VNeID {what}: not a JSON object")
        return body

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self.http.aclose()
