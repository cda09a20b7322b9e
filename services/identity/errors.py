"""OAuth 2.0 / OpenID Connect errors, rendered exactly as the specifications require.

    OAuthError                      error + error_description (+ status, headers)
    ├── at the token, introspection, revocation, PAR and registration endpoints:
    │     JSON body, RFC 6749 §5.2 (401 + WWW-Authenticate for invalid_client)
    ├── at the authorization endpoint, once client and redirect_uri are trusted:
    │     redirect to redirect_uri with error, error_description, state, iss (RFC 6749 §4.1.2.1,
    │     RFC 9207)
    └── BearerError at userinfo: WWW-Authenticate: Bearer error=… and no body (RFC 6750 §3)

Codes: RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6 (login_required, consent_required,
interaction_required), OpenID Connect Unmet Authentication Requirements 1.0
(unmet_authentication_requirements), RFC 7591 §3.2.2, RFC 6750 §3.1.
"""

from __future__ import annotations

import re

import orjson
from starlette.responses import Response

__all__ = ["BearerError", "OAuthError", "json_error"]

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
# RFC 6749 §5.2: error_description is limited to %x20-21 / %x23-5B / %x5D-7E.
_FORBIDDEN = re.compile(r"[^\x20\x21\x23-\x5b\x5d-\x7e]")


class OAuthError(Exception):
    """An OAuth error with its code, description and HTTP status (400 by default)."""

    def __init__(
        self,
        error: str,
        description: str,
        *,
        status: int = 400,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = _FORBIDDEN.sub("?", description)
        self.status = status
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        """``{"error": ..., "error_description": ...}``."""
        return {"error": self.error, "error_description": self.description}


def invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    """RFC 6749 §5.2: 401, with a Basic challenge when the client tried Basic."""
    headers = {"WWW-Authenticate": 'Basic realm="sim06"'} if basic else None
    return OAuthError("invalid_client", description, status=401, headers=headers)


def json_error(exc: OAuthError) -> Response:
    """The JSON error response of RFC 6749 §5.2."""
    return Response(
        orjson.dumps(exc.body()),
        status_code=exc.status,
        media_type="application/json",
        headers={**NO_STORE, **exc.headers},
    )


class BearerError(Exception):
    """RFC 6750 §3: a protected-resource error carried by ``WWW-Authenticate``."""

    def __init__(self, error: str | None, description: str = "", *, status: int = 401) -> None:
        super().__init__(error or "no token")
        self.error = error
        self.description = _FORBIDDEN.sub("?", description)
        self.status = status

    def response(self) -> Response:
        """401/403 with ``WWW-Authenticate: Bearer realm=..., error=...`` and no body.

        RFC 6750 §3 (and OIDC Core §5.3.3) carry the error in the challenge only; one shape
        whether or not a token came, so the contract can declare it."""
        challenge = 'Bearer realm="sim06"'
        if self.error is not None:
            challenge += f', error="{self.error}", error_description="{self.description}"'
        return Response(
            b"", status_code=self.status, headers={"WWW-Authenticate": challenge, **NO_STORE}
        )
