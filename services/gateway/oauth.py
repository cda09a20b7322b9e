"""OAuth 2.0 client credentials for agencies (RFC 6749 §4.4) and the access tokens it issues.

Client authentication: ``client_secret_basic`` (RFC 6749 §2.3.1), ``private_key_jwt``
(RFC 7523 §2.2, OIDC Core §9) whose ``jti`` may be used once, or ``tls_client_auth`` (RFC 8705
§2.1) over the mTLS listener (:mod:`services.gateway.mtls`). A token requested over a connection
that presented a client certificate is bound to it (``cnf.x5t#S256``, RFC 8705 §3) and refused
when presented without that certificate. Access tokens are short-lived
ES256 JWTs (RFC 9068 shape) signed with the gateway's key set; verified tokens are cached until
they expire so the hot path checks a signature once per token, not once per request.

Errors at the token endpoint are exactly RFC 6749 §5.2: ``application/json`` with ``error`` and
``error_description``; ``invalid_client`` is 401, with ``WWW-Authenticate: Basic`` when the
client tried HTTP Basic.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import jwt
from cryptography.x509.oid import NameOID

from sim06.services.common.keys import KeyStore
from sim06.services.gateway import mtls
from sim06.services.gateway.agencies import Agency, AgencyDirectory
from sim06.services.gateway.replay import ReplayCache

ISSUER = "urn:sim06:gateway"
AUDIENCE = "urn:sim06:gateway"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGS = ["ES256", "RS256", "PS256", "EdDSA"]
MAX_ASSERTION_LIFE = 600


class OAuthError(Exception):
    """An RFC 6749 §5.2 error response."""

    def __init__(
        self, error: str, description: str, *, status: int = 400, basic: bool = False
    ) -> None:
        super().__init__(f"{error}: {description}")
        self.error = error
        self.description = description
        self.status = status
        self.headers = {"WWW-Authenticate": 'Basic realm="sim06-gateway"'} if basic else {}

    def body(self) -> dict[str, str]:
        return {"error": self.error, "error_description": self.description}


class TokenError(Exception):
    """An access token that does not authenticate (rendered 401 with WWW-Authenticate)."""

    def __init__(self, description: str) -> None:
        super().__init__(description)
        self.description = description

    def www_authenticate(self) -> str:
        # RFC 6750 §3: quoted-string; the description never contains a double quote.
        return f'Bearer realm="sim06-gateway", error="invalid_token", error_description="{self}"'


@dataclass(frozen=True, slots=True)
class AccessToken:
    """The verified claims the gateway needs."""

    client_id: str
    agency: str
    scopes: frozenset[str]
    expires_at: float
    jti: str
    cnf: str | None = None  # x5t#S256 of the certificate the token is bound to (RFC 8705 §3)


def parse_form(body: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body; repeated parameters are refused and
    empty ones count as omitted (RFC 6749 §3.2)."""
    try:
        text = body.decode("utf-8")
        parsed = parse_qs(text, keep_blank_values=True, strict_parsing=bool(text))
    except (UnicodeDecodeError, ValueError):
        raise OAuthError("invalid_request", "The body is not a valid form.") from None
    repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
    if repeated:
        raise OAuthError("invalid_request", f"Parameters sent more than once: {repeated}.")
    return {k: v[0] for k, v in parsed.items() if v[0]}


def _basic(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
        client_id, secret = decoded.split(":", 1)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise OAuthError(
            "invalid_client", "Malformed HTTP Basic credentials.", status=401, basic=True
        ) from None
    # RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
    return unquote(client_id.replace("+", " ")), unquote(secret.replace("+", " "))


class TokenService:
    """Authenticates agencies, issues access tokens and verifies them."""

    def __init__(
        self,
        agencies: AgencyDirectory,
        keys: KeyStore,
        *,
        ttl: int = 300,
        replay: ReplayCache | None = None,
    ) -> None:
        self.agencies = agencies
        self.keys = keys
        self.ttl = ttl
        self.replay = replay if replay is not None else ReplayCache()
        self._verified: dict[str, AccessToken] = {}

    # --- token endpoint -------------------------------------------------------------------

    def token_response(
        self, form: dict[str, str], authorization: str | None, token_url: str
    ) -> dict[str, Any]:
        """Answer a token request or raise :class:`OAuthError`."""
        agency = self.authenticate(form, authorization, token_url)
        grant_type = form.get("grant_type")
        if not grant_type:
            raise OAuthError("invalid_request", "grant_type is required.")
        if grant_type != "client_credentials":
            raise OAuthError("unsupported_grant_type", "Only client_credentials is supported here.")
        requested = set(form.get("scope", "").split())
        if requested - agency.scopes:
            raise OAuthError(
                "invalid_scope",
                f"Not granted to this agency: {sorted(requested - agency.scopes)}.",
            )
        scopes = sorted(requested or agency.scopes)
        certificate = mtls.presented()
        token = self.issue(agency, scopes, certificate.thumbprint if certificate else None)
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.ttl,
            "scope": " ".join(scopes),
        }

    def authenticate(
        self, form: dict[str, str], authorization: str | None, token_url: str
    ) -> Agency:
        """The agency that authenticated with Basic or a client assertion."""
        basic = authorization is not None and authorization[:6].lower() == "basic "
        assertion = form.get("client_assertion")
        if basic and assertion is not None:
            raise OAuthError("invalid_request", "Use one client authentication method only.")
        if "client_secret" in form:
            raise OAuthError(
                "invalid_client",
                "client_secret_post is not supported; use client_secret_basic.",
                status=401,
            )
        if basic:
            assert authorization is not None
            client_id, secret = _basic(authorization)
            agency = self.agencies.by_client(client_id)
            expected = agency.spec.client_secret if agency is not None else None
            # Compare even for unknown clients so timing does not reveal which ids exist.
            ok = hmac.compare_digest((expected or secrets.token_hex(16)).encode(), secret.encode())
            if agency is None or expected is None or not ok:
                raise OAuthError(
                    "invalid_client", "Unknown client or wrong secret.", status=401, basic=True
                )
            return agency
        if assertion is not None:
            return self._assertion(form, assertion, token_url)
        certificate = mtls.presented()
        if certificate is not None and "client_id" in form:
            return self._tls_client(form["client_id"], certificate)
        raise OAuthError("invalid_client", "No client authentication.", status=401)

    def _tls_client(self, client_id: str, certificate: mtls.PresentedCertificate) -> Agency:
        """RFC 8705 §2.1 (PKI method): the agency CA certified this subject for this client.

        sim06's convention for the subject: CN = client_id, OU = agency code (the chain to the
        agency CA was checked by the TLS layer and again by the middleware).
        """
        agency = self.agencies.by_client(client_id)
        cn = certificate.subject(NameOID.COMMON_NAME)
        ou = certificate.subject(NameOID.ORGANIZATIONAL_UNIT_NAME)
        if agency is None or cn != client_id or ou != agency.code:
            raise OAuthError(
                "invalid_client",
                "The client certificate's subject (CN=client_id, OU=agency code) does not "
                "match this client.",
                status=401,
            )
        return agency

    def _assertion(self, form: dict[str, str], assertion: str, token_url: str) -> Agency:
        if form.get("client_assertion_type") != ASSERTION_TYPE:
            raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}.")
        try:
            unverified = jwt.decode(assertion, options={"verify_signature": False})
            header = jwt.get_unverified_header(assertion)
        except jwt.PyJWTError:
            raise OAuthError(
                "invalid_client", "The client assertion is not a JWT.", status=401
            ) from None
        client_id = unverified.get("iss")
        if "client_id" in form and form["client_id"] != client_id:
            raise OAuthError(
                "invalid_client", "client_id does not match the assertion.", status=401
            )
        agency = self.agencies.by_client(client_id) if isinstance(client_id, str) else None
        if agency is None or not agency.spec.jwks:
            raise OAuthError("invalid_client", "Unknown client or no registered key.", status=401)
        keys = [k for k in agency.spec.jwks["keys"] if header.get("kid") in (None, k.get("kid"))]
        claims: dict[str, Any] | None = None
        for jwk in keys:
            try:
                key = jwt.PyJWK(jwk)
                claims = jwt.decode(
                    assertion,
                    key.key,
                    algorithms=ASSERTION_ALGS,
                    audience=[token_url, ISSUER],
                    issuer=client_id,
                    options={"require": ["exp", "iss", "sub", "aud", "jti"]},
                )
                break
            except jwt.ExpiredSignatureError:
                raise OAuthError(
                    "invalid_client", "The client assertion expired.", status=401
                ) from None
            except jwt.PyJWTError:
                continue
        if claims is None:
            raise OAuthError("invalid_client", "The client assertion does not verify.", status=401)
        if claims["sub"] != client_id:
            raise OAuthError("invalid_client", "Assertion sub must equal iss.", status=401)
        if claims["exp"] - time.time() > MAX_ASSERTION_LIFE:
            raise OAuthError("invalid_client", "The client assertion lives too long.", status=401)
        if not self.replay.first_use(f"jti:{client_id}:{claims['jti']}", MAX_ASSERTION_LIFE + 60):
            raise OAuthError("invalid_client", "The client assertion was already used.", status=401)
        return agency

    def issue(self, agency: Agency, scopes: list[str], cnf: str | None = None) -> str:
        """A signed access token for ``agency`` with ``scopes``, bound to ``cnf`` if given."""
        key = self.keys.current
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": agency.spec.client_id,
            "client_id": agency.spec.client_id,
            "agency": agency.code,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + self.ttl,
            "jti": secrets.token_urlsafe(16),
        }
        if cnf is not None:
            claims["cnf"] = {"x5t#S256": cnf}
        headers = {"kid": key.kid, "typ": "at+jwt"}
        return jwt.encode(claims, key.private_key, algorithm=key.alg, headers=headers)

    # --- resource side --------------------------------------------------------------------

    def verify(self, token: str) -> AccessToken:
        """The claims of a valid access token; :class:`TokenError` otherwise."""
        verified = self._verify(token)
        if verified.cnf is not None:  # checked per request: the cache is per token, not per TLS
            certificate = mtls.presented()
            if certificate is None or certificate.thumbprint != verified.cnf:
                raise TokenError(
                    "The access token is bound to a client certificate (RFC 8705) that this "
                    "connection did not present."
                )
        return verified

    def _verify(self, token: str) -> AccessToken:
        now = time.time()
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at > now:
                return cached
            del self._verified[token]
            raise TokenError("The access token expired.")
        try:
            kid = jwt.get_unverified_header(token).get("kid")
        except jwt.PyJWTError:
            raise TokenError("The access token is not a JWT.") from None
        key = self.keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise TokenError("The access token was not signed by this gateway.")
        try:
            claims = jwt.decode(
                token,
                key.private_key.public_key(),
                algorithms=[key.alg],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "aud", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise TokenError("The access token expired.") from None
        except jwt.InvalidSignatureError:
            raise TokenError("The access token was not signed by this gateway.") from None
        except jwt.PyJWTError:
            raise TokenError("The access token is invalid.") from None
        cnf = claims.get("cnf")
        bound = cnf.get("x5t#S256") if isinstance(cnf, dict) else None
        if cnf is not None and not isinstance(bound, str):
            raise TokenError("The access token's cnf claim is not an x5t#S256 binding.")
        verified = AccessToken(
            client_id=str(claims["sub"]),
            agency=str(claims.get("agency", "")),
            scopes=frozenset(str(claims.get("scope", "")).split()),
            expires_at=float(claims["exp"]),
            jti=str(claims.get("jti", "")),
            cnf=bound,
        )
        if len(self._verified) >= 50_000:
            self._verified = {t: c for t, c in self._verified.items() if c.expires_at > now}
            if len(self._verified) >= 50_000:
                self._verified.clear()
        self._verified[token] = verified
        return verified
