"""Response bodies of the OAuth/OIDC endpoints, for the published contract.

The endpoints build these bodies themselves (``provider.py``, ``discovery.py``, ``clients.py``);
the models only describe them, and the contract tests check real answers against them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from sim06.services.identity.clients import AUTH_METHODS, GRANT_TYPES

__all__ = [
    "ClientInformation",
    "IntrospectionResponse",
    "OAuthErrorBody",
    "ParResponse",
    "ProviderMetadata",
    "SurfaceMetadata",
    "TokenResponse",
    "UserInfo",
]

# RFC 6749 §5.2: error and error_description use %x20-21 / %x23-5B / %x5D-7E only.
_NQSCHAR = r"^[\x20\x21\x23-\x5b\x5d-\x7e]*$"
ERROR_CODES = (
    "invalid_request", "invalid_client", "invalid_grant", "unauthorized_client",
    "unsupported_grant_type", "invalid_scope", "unsupported_response_type",
    "request_not_supported", "invalid_request_uri", "invalid_redirect_uri",
    "invalid_client_metadata", "access_denied",
)  # fmt: skip


class OAuthErrorBody(BaseModel):
    """An RFC 6749 §5.2 error (also RFC 7591 §3.2.2, RFC 9126 §2.3): not problem+json, the
    shape OAuth client libraries parse."""

    model_config = ConfigDict(extra="forbid")

    error: Literal[ERROR_CODES] = Field(description="The error code.")  # type: ignore[valid-type]
    error_description: str = Field(
        pattern=_NQSCHAR, description="Human-readable text (ASCII, no '\"' or '\\\\')."
    )


class TokenResponse(BaseModel):
    """RFC 6749 §5.1 and OIDC Core §3.1.3.3."""

    model_config = ConfigDict(extra="forbid")

    access_token: str = Field(description="A JWT access token (RFC 9068, typ at+jwt).")
    token_type: Literal["Bearer"]
    expires_in: int = Field(ge=1, description="Lifetime of the access token in seconds.")
    scope: str = Field(description="The granted scopes, space-separated.")
    id_token: str | None = Field(
        default=None,
        description="Signed ID token: authorization_code grant, and refresh with openid.",
    )
    refresh_token: str | None = Field(
        default=None, description="Present when the client may use the refresh_token grant."
    )


class IntrospectionResponse(BaseModel):
    """RFC 7662 §2.2. An unknown, expired, revoked or another client's token is just
    ``{"active": false}``; an active access token carries its JWT claims."""

    model_config = ConfigDict(extra="allow")

    active: bool
    token_type: Literal["access_token", "refresh_token"] | None = None
    client_id: str | None = None
    scope: str | None = None
    sub: str | None = None
    iss: str | None = None
    aud: str | list[str] | None = None
    exp: int | None = None
    iat: int | None = None
    jti: str | None = None
    auth_time: int | None = None
    acr: str | None = None
    sid: str | None = None


class ParResponse(BaseModel):
    """RFC 9126 §2.2: the request URI to send to /authorize (single use)."""

    model_config = ConfigDict(extra="forbid")

    request_uri: str = Field(pattern=r"^urn:ietf:params:oauth:request_uri:[A-Za-z0-9_-]+$")
    expires_in: int = Field(ge=1)


class ClientInformation(BaseModel):
    """RFC 7591 §3.2.1: the registered metadata, the assigned id and (for client_secret_*
    methods) the secret."""

    model_config = ConfigDict(extra="forbid")

    client_id: str
    client_secret: str | None = None
    client_id_issued_at: int
    client_secret_expires_at: int | None = Field(default=None, description="0: never.")
    redirect_uris: list[str]
    token_endpoint_auth_method: Literal[AUTH_METHODS]  # type: ignore[valid-type]
    grant_types: list[Literal[GRANT_TYPES]]  # type: ignore[valid-type]
    response_types: list[Literal["code"]]
    client_name: str
    subject_type: Literal["public", "pairwise"] | None = None
    post_logout_redirect_uris: list[str]
    scope: str | None = None
    jwks: dict[str, Any] | None = None


class UserInfo(BaseModel):
    """OIDC Core §5.3.2: ``sub`` and the claims the scopes (and ``claims.userinfo``) asked
    for; the scope ``vneid_profile`` adds the Vietnamese claim names (``SoDinhDanh``,
    ``HoVaTen``, ``NgayThangNamSinh``...)."""

    model_config = ConfigDict(extra="allow")

    sub: str


class ProviderMetadata(BaseModel):
    """OpenID Connect Discovery 1.0 §3 and RFC 8414 §2."""

    model_config = ConfigDict(extra="allow")

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    userinfo_endpoint: str
    jwks_uri: str
    registration_endpoint: str | None = Field(
        default=None, description="Absent when dynamic registration is closed."
    )
    introspection_endpoint: str
    revocation_endpoint: str
    end_session_endpoint: str
    pushed_authorization_request_endpoint: str
    scopes_supported: list[str]
    response_types_supported: list[str]
    grant_types_supported: list[str]
    acr_values_supported: list[str]
    subject_types_supported: list[str]
    id_token_signing_alg_values_supported: list[str]
    token_endpoint_auth_methods_supported: list[str]
    code_challenge_methods_supported: list[str]
    claims_supported: list[str]


class SurfaceMetadata(ProviderMetadata):
    """The metadata of the observed login profiles (the Keycloak-style VNeID realm, the portal
    SSO): an endpoint a surface does not offer is absent."""

    end_session_endpoint: str | None = Field(  # type: ignore[assignment]
        default=None, description="The realm's logout; absent on the portal SSO."
    )
    pushed_authorization_request_endpoint: str | None = Field(  # type: ignore[assignment]
        default=None, description="Not offered by these surfaces."
    )
