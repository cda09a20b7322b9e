"""Relying parties (OIDC clients): from a YAML file and by dynamic registration (RFC 7591).

Client metadata follows RFC 7591 §2 and OIDC Dynamic Client Registration §2 (``redirect_uris``,
``token_endpoint_auth_method``, ``jwks``, ``subject_type``, ``post_logout_redirect_uris``...).
File clients are read once; registered clients live in the state store (so replicas share them)
without expiry.

A confidential client registered dynamically (any auth method but ``none``) must use https
redirect URIs: its code would otherwise cross the network in clear. Plain http is accepted
only on the loopback interface (``localhost``, ``127.0.0.0/8``), as RFC 8252 §7.3 allows for
a redirect that never leaves the machine (an agency's backend under development). File clients
are the operator's configuration and are not held to it.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from sim06.services.identity.errors import OAuthError
from sim06.services.identity.state import StateStore

__all__ = [
    "ASSERTION_ALGS",
    "AUTH_METHODS",
    "GRANT_TYPES",
    "LOGIN_PROFILES",
    "TLS_URI_PATTERN",
    "URI_PATTERN",
    "Client",
    "ClientRegistry",
    "client_from_metadata",
]

AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")
# The surfaces a client may be bound to (``login_profile``; profiles.py): sim06's own OIDC shape,
# the Keycloak-style VNeID realm, the portal SSO. Unbound clients are accepted by every surface.
LOGIN_PROFILES = ("standard", "keycloak", "portal")
GRANT_TYPES = ("authorization_code", "refresh_token")
ASSERTION_ALGS = ("RS256", "ES256", "PS256")
# RFC 6749 §3.1.2: an absolute URI without fragment; http is allowed (a test sandbox). Checked
# by this pattern, which the contract publishes, rather than by urlsplit's leniency: RFC 3986
# characters only (an IRI must be percent-encoded), and a plain host[:port] (the origin goes
# into the pages' Content-Security-Policy): no user info, no IPv6 literal.
URI_PATTERN = r"^https?://[A-Za-z0-9.-]+(?::[0-9]{1,5})?(?:[/?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
_URI = re.compile(URI_PATTERN)
# What a confidential client registered dynamically may use (see the module docstring): https,
# or plain http on the loopback interface. The contract publishes it too.
TLS_URI_PATTERN = (
    r"^(?:https://[A-Za-z0-9.-]+|http://(?:localhost|127(?:\.(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}"
    r"|[1-9]?[0-9])){3}))(?::[0-9]{1,5})?(?:[/?][A-Za-z0-9._~!$&'()*+,;=:@%/?-]*)?$"
)
_TLS_URI = re.compile(TLS_URI_PATTERN)
DATA_DIR_MARK = "{data_dir}"  # in a clients file's jwks_file: the data directory
log = logging.getLogger("sim06.identity")


@dataclass(frozen=True)
class Client:
    """A registered relying party."""

    client_id: str
    redirect_uris: tuple[str, ...]
    token_endpoint_auth_method: str = "client_secret_basic"
    client_secret: str | None = None
    jwks: dict[str, Any] | None = None
    grant_types: tuple[str, ...] = GRANT_TYPES
    client_name: str = ""
    subject_type: str | None = None  # None: the provider's default
    post_logout_redirect_uris: tuple[str, ...] = ()
    scope: str | None = None
    # False: PKCE optional, as Keycloak and WSO2 clients may configure it (confidential only).
    require_pkce: bool = True
    login_profile: str | None = None  # None: accepted by every surface
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def sector(self) -> str:
        """Sector identifier for pairwise subjects: host of the redirect URIs (OIDC Core §8.1)."""
        return urlsplit(self.redirect_uris[0]).netloc

    def public_metadata(self) -> dict[str, Any]:
        """Registration response fields (RFC 7591 §3.2.1), the secret included."""
        # require_pkce and login_profile are file-only settings (not in the registration
        # response of the published contract).
        hidden = ("extra", "require_pkce", "login_profile")
        meta = {k: v for k, v in asdict(self).items() if v is not None and k not in hidden}
        for key in ("redirect_uris", "grant_types", "post_logout_redirect_uris"):
            meta[key] = list(meta[key])
        meta["response_types"] = ["code"]
        return meta


def _bad(field_name: str, description: str) -> OAuthError:
    code = "invalid_redirect_uri" if field_name == "redirect_uris" else "invalid_client_metadata"
    return OAuthError(code, description)


def _uri_list(meta: dict[str, Any], name: str, *, required: bool) -> tuple[str, ...]:
    value = meta.get(name, [] if not required else None)
    if value is None or (required and not value):
        raise _bad(name, f"{name} is required")
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise _bad(name, f"{name} must be an array of strings")
    for uri in value:
        if _URI.fullmatch(uri) is None:
            raise _bad(name, f"{uri!r} is not an absolute http(s) URI without fragment")
    return tuple(value)


def _require_tls(uris: tuple[str, ...]) -> None:
    """RFC 6749 §3.1.2.1 for a confidential client: https, or http on the loopback only."""
    for uri in uris:
        if _TLS_URI.fullmatch(uri) is None:
            raise _bad(
                "redirect_uris",
                f"{uri!r}: a confidential client's redirect URI must use https "
                "(plain http only on localhost or 127.0.0.1, RFC 8252 §7.3)",
            )


def _jwks(value: Any) -> dict[str, Any]:
    keys = value.get("keys") if isinstance(value, dict) else None
    if not isinstance(keys, list) or not keys or not all(isinstance(k, dict) for k in keys):
        raise _bad("jwks", "jwks must be a JWK Set with public keys")
    if any("d" in k for k in keys):
        raise _bad("jwks", "jwks must hold public keys only")
    return dict(value)


def _optional_text(meta: dict[str, Any], name: str) -> str | None:
    value = meta.get(name)
    if name in meta and not isinstance(value, str):
        raise _bad(name, f"{name} must be a string")
    return value


def client_from_metadata(client_id: str, meta: dict[str, Any]) -> Client:
    """Validate RFC 7591 metadata into a :class:`Client` (raises OAuthError)."""
    redirect_uris = _uri_list(meta, "redirect_uris", required=True)
    method = meta.get("token_endpoint_auth_method", "client_secret_basic")
    if method not in AUTH_METHODS:
        raise _bad("token_endpoint_auth_method", f"supported methods: {', '.join(AUTH_METHODS)}")
    jwks = _jwks(meta["jwks"]) if "jwks" in meta else None
    if method == "private_key_jwt":
        if jwks is None:
            raise _bad("jwks", "private_key_jwt needs a jwks object with public keys")
        if "jwks_uri" in meta:
            raise _bad("jwks_uri", "jwks_uri is not supported; send jwks by value")
    grant_types = meta.get("grant_types", list(GRANT_TYPES))
    if not isinstance(grant_types, list) or not all(g in GRANT_TYPES for g in grant_types):
        raise _bad("grant_types", f"supported grant types: {', '.join(GRANT_TYPES)}")
    if meta.get("response_types", ["code"]) != ["code"]:
        raise _bad("response_types", "only the authorization code flow is supported")
    subject_type = meta.get("subject_type")
    if subject_type not in (None, "public", "pairwise"):
        raise _bad("subject_type", "subject_type is public or pairwise")
    secret = meta.get("client_secret")
    if method.startswith("client_secret") and not isinstance(secret, str):
        raise _bad("client_secret", "a client_secret is required for this auth method")
    name = _optional_text(meta, "client_name") or ""
    scope = _optional_text(meta, "scope")
    require_pkce = meta.get("require_pkce", True)
    if not isinstance(require_pkce, bool):
        raise _bad("require_pkce", "require_pkce must be a boolean")
    if not require_pkce and method == "none":  # RFC 9700 §2.1.1: public clients use PKCE
        raise _bad("require_pkce", "a public client (auth method none) must use PKCE")
    login_profile = meta.get("login_profile")
    if login_profile is not None and login_profile not in LOGIN_PROFILES:
        raise _bad("login_profile", f"login_profile is one of {', '.join(LOGIN_PROFILES)}")
    return Client(
        client_id=client_id,
        redirect_uris=redirect_uris,
        token_endpoint_auth_method=method,
        client_secret=secret if method.startswith("client_secret") else None,
        jwks=jwks if method == "private_key_jwt" else None,
        grant_types=tuple(grant_types),
        client_name=name,
        subject_type=subject_type,
        post_logout_redirect_uris=_uri_list(meta, "post_logout_redirect_uris", required=False),
        scope=scope,
        require_pkce=require_pkce,
        login_profile=login_profile,
    )


def load_clients_file(path: Path, *, data_dir: Path = Path(".sim06")) -> dict[str, Client]:
    """Clients of a YAML file ``{clients: [{client_id, ...metadata}]}``.

    ``jwks_file`` (relative to the YAML file) names a JWKS file instead of inline ``jwks``, so
    a demo key pair can be generated locally (never committed); a client whose ``jwks_file``
    does not exist yet is skipped with a warning. ``{data_dir}`` in it stands for ``data_dir``
    (``SIM06_DATA_DIR``), where ``sim06 up`` generates the demo client's key pair.
    """
    raw = yaml.safe_load(path.read_text("utf-8")) or {}
    clients: dict[str, Client] = {}
    for entry in raw.get("clients", []):
        meta = dict(entry)
        client_id = str(meta.pop("client_id"))
        jwks_file = meta.pop("jwks_file", None)
        if jwks_file is not None:
            # The data directory is relative to the working directory, as everywhere else.
            named = str(jwks_file).replace(DATA_DIR_MARK, str(data_dir.resolve()))
            jwks_path = (path.parent / named).resolve()
            if not jwks_path.exists():
                log.warning("client %s skipped: %s does not exist", client_id, jwks_path)
                continue
            meta["jwks"] = json.loads(jwks_path.read_text("utf-8"))
        clients[client_id] = client_from_metadata(client_id, meta)
    return clients


class ClientRegistry:
    """File clients plus dynamically registered ones."""

    def __init__(
        self,
        state: StateStore,
        clients_file: Path | None = None,
        *,
        data_dir: Path = Path(".sim06"),
    ) -> None:
        self._state = state
        self._static: dict[str, Client] = {}
        self._dynamic: dict[str, Client] = {}  # parsed once; registrations never change
        if clients_file is not None:
            self._static = load_clients_file(clients_file, data_dir=data_dir)

    def get(self, client_id: str) -> Client | None:
        """The client with ``client_id``, or None."""
        client = self._static.get(client_id)
        if client is not None:
            return client
        client = self._dynamic.get(client_id)
        if client is not None:
            return client
        meta = self._state.get(f"client:{client_id}")
        if meta is None:
            return None
        client = self._dynamic[client_id] = client_from_metadata(client_id, dict(meta))
        return client

    def add(self, client: Client) -> None:
        """A built-in client of this process (the portal's broker client at the realm)."""
        self._static[client.client_id] = client

    def register(self, metadata: dict[str, Any]) -> dict[str, Any]:
        """RFC 7591 §3: validate, assign id (and secret), store; the registration response."""
        meta = {k: v for k, v in metadata.items() if k not in ("client_id", "client_secret")}
        method = meta.get("token_endpoint_auth_method", "client_secret_basic")
        if isinstance(method, str) and method.startswith("client_secret"):
            meta["client_secret"] = secrets.token_urlsafe(32)
        client_id = "dyn-" + secrets.token_urlsafe(12)
        client = client_from_metadata(client_id, meta)
        if client.token_endpoint_auth_method != "none":
            _require_tls(client.redirect_uris)
        self._state.put(f"client:{client_id}", meta, None)
        response = client.public_metadata()
        response["client_id_issued_at"] = int(time.time())
        if client.client_secret is not None:
            response["client_secret_expires_at"] = 0
        if client.jwks is not None:
            response["jwks"] = client.jwks
        return response
