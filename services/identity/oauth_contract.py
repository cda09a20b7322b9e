"""How the OAuth/OIDC endpoints appear in the published contract (issue #7).

The endpoints read their own requests (forms, RFC 6749 §3.2) and answer RFC 6749 §5.2 errors,
so FastAPI cannot see either: :func:`route_options` gives each route its request body, its
real responses (OAuth error JSON, HTML pages, redirects, ``WWW-Authenticate``), an inline
example for every media type, OpenAPI links and its security scheme. Routes declared before
these options existed are rebuilt with them by :func:`declare_oauth_routes` (same endpoint,
same path and name: only the documentation changes).

The security schemes only document (``services/common/security_docs.py``): the endpoints
authenticate by themselves, and the hot paths (``hotpath.py``) bypass FastAPI.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Security
from fastapi.openapi.models import HTTPBase, OAuth2, OAuthFlowAuthorizationCode, OAuthFlows
from fastapi.routing import APIRoute
from starlette.responses import HTMLResponse, Response

from sim06.services.chip.schemas import JWKS
from sim06.services.common.openapi_docs import OWN_ERRORS
from sim06.services.common.problems import openapi_responses
from sim06.services.common.security_docs import DocumentedScheme
from sim06.services.identity import oauth_examples as ex
from sim06.services.identity.claims import SUPPORTED_SCOPES
from sim06.services.identity.discovery import PATHS
from sim06.services.identity.oauth_links import (
    LINKS_FROM_PAR,
    LINKS_FROM_REGISTER,
    LINKS_FROM_TOKEN,
)
from sim06.services.identity.oauth_models import (
    ClientInformation,
    IntrospectionResponse,
    OAuthErrorBody,
    ParResponse,
    ProviderMetadata,
    SurfaceMetadata,
    TokenResponse,
    UserInfo,
)
from sim06.services.identity.oauth_schemas import (
    AUTHORIZATION_FIELDS,
    AUTHORIZE_FORM,
    CLIENT_METADATA,
    INTROSPECT_FORM,
    LOGOUT_FIELDS,
    PAR_FORM,
    REQUEST_URI,
    REVOKE_FORM,
    TOKEN_FORM,
    blank_allowed,
    form_schema,
)
from sim06.services.registry.schemas import Problem

__all__ = ["declare_oauth_routes", "route_options"]

FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
HTML = "text/html"


VNEID = DocumentedScheme(
    "vneid",
    OAuth2(
        flows=OAuthFlows(
            authorizationCode=OAuthFlowAuthorizationCode(
                authorizationUrl=PATHS["authorization_endpoint"],
                tokenUrl=PATHS["token_endpoint"],
                refreshUrl=PATHS["token_endpoint"],
                scopes={scope: f"the {scope} scope" for scope in SUPPORTED_SCOPES},
            )
        ),
        description="Access tokens of this provider (code flow with PKCE S256).",
    ),
)
CLIENT_BASIC = DocumentedScheme(
    "clientSecretBasic",
    HTTPBase(
        scheme="basic",
        description=(
            "client_secret_basic (RFC 6749 §2.3.1). Clients registered for another method "
            "authenticate in the form instead: client_secret_post, private_key_jwt, or none "
            "(public clients, client_id only)."
        ),
    ),
)
# Basic, or the client authentication in the form (the empty requirement).
_CLIENT_AUTH = {"dependencies": [Depends(CLIENT_BASIC)], "security": [{}]}

_TOO_LARGE = openapi_responses(Problem, "PAYLOAD_TOO_LARGE", generic=())


def _media(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    return {"schema": schema, "examples": {k: {"value": v} for k, v in examples.items()}}


def _json(model: type, examples: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    named = {k: {"value": v} for k, v in examples.items()}
    return {"model": model, "description": description,
            "content": {JSON: {"examples": named}}, **extra}  # fmt: skip


def _header(description: str, example: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "description": description,
        "required": required,
        "schema": {"type": "string"},
        "example": example,
    }


_NO_STORE = {"Cache-Control": _header("no-store (RFC 6749 §5.1).", "no-store")}
_HTML_PAGE = {"type": "string", "description": "A page in Vietnamese and English."}


def _oauth_errors(
    bad_request: dict[str, Any], *, unauthorized: bool = True
) -> dict[int | str, dict[str, Any]]:
    codes = sorted({v["error"] for v in bad_request.values()})
    out: dict[int | str, dict[str, Any]] = {
        400: _json(OAuthErrorBody, bad_request, "RFC 6749 §5.2 error: " + ", ".join(codes) + ".")
    }
    if unauthorized:
        challenge = _header(
            "Sent when the client tried HTTP Basic.", 'Basic realm="sim06"', required=False
        )
        headers = {"WWW-Authenticate": challenge}
        out[401] = _json(
            OAuthErrorBody,
            ex.INVALID_CLIENT,
            "invalid_client: unknown client, wrong secret or assertion, or a method the client "
            "is not registered for.",
            headers=headers,
        )
    return out


def _form_body(schema: dict[str, Any], examples: dict[str, Any]) -> dict[str, Any]:
    return {"requestBody": {"required": True, "content": {FORM: _media(schema, examples)}}}


def _query(fields: dict[str, dict[str, Any]], required: set[str]) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": schema.get("description", ""),
            "schema": {
                k: v
                for k, v in (schema if name in required else blank_allowed(schema)).items()
                if k != "description"
            },
            **({"example": ex.QUERY[name]} if name in ex.QUERY else {}),
        }
        for name, schema in fields.items()
    ]


_AUTO_LOGIN = {
    "name": "X-Sim-Auto-Login",
    "in": "header",
    "required": False,
    "description": (
        "Simulator switch: true logs login_hint in at once (no pages), false forces the pages; "
        "default: SIM06_IDENTITY_AUTO_LOGIN."
    ),
    "schema": {"type": "string"},
    "example": "true",
}


def _redirect(description: str, example: str) -> dict[str, Any]:
    return {"description": description, "headers": {"Location": _header("Where to.", example)}}


# --- the authorization endpoint and logout (login.py) ---------------------------------------

_AUTHORIZE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The login page (persona picker, passcode, level), the level-2 face "
        "check of a step-up, or the consent page.",
        "content": {HTML: _media(_HTML_PAGE, {"login": ex.LOGIN_PAGE})},
    },
    303: _redirect(
        "Back to the client's redirect_uri with code, state and iss (RFC 9207), or with error "
        "and error_description once client and redirect_uri are trusted (RFC 6749 §4.1.2.1): "
        "invalid_request, unsupported_response_type, unauthorized_client, invalid_scope, "
        "request_not_supported, access_denied, login_required, consent_required, "
        "unmet_authentication_requirements.",
        ex.CODE_REDIRECT,
    ),
    400: {
        "description": "An unknown client, an unregistered redirect_uri or a bad request_uri "
        "(invalid_client, invalid_request, invalid_request_uri): shown to the citizen, never "
        "redirected (RFC 6749 §4.1.2.1); JSON when the request accepts application/json.",
        "content": {
            HTML: _media(_HTML_PAGE, {"untrusted_redirect": ex.ERROR_PAGE}),
            JSON: _media(
                {"$ref": "#/components/schemas/OAuthErrorBody"},
                {"untrusted_redirect": ex.UNTRUSTED_REDIRECT},
            ),
        },
    },
}
_AUTHORIZE_PARAMS = [
    *_query({**AUTHORIZATION_FIELDS, "request_uri": REQUEST_URI}, {"client_id"}),
    _AUTO_LOGIN,
]
_LOGOUT_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "Logged out (no post_logout_redirect_uri was given).",
        "content": {HTML: _media(_HTML_PAGE, {"logged_out": ex.LOGGED_OUT_PAGE})},
    },
    303: _redirect(
        "Logged out; back to the registered post_logout_redirect_uri with state.",
        ex.LOGOUT_REDIRECT,
    ),
    400: {
        "description": "id_token_hint not from this provider, a client_id that is not its "
        "audience, or an unregistered post_logout_redirect_uri (invalid_request).",
        "content": {HTML: _media(_HTML_PAGE, {"unregistered_uri": ex.LOGOUT_ERROR_PAGE})},
    },
}
_LOGOUT_DESCRIPTION = "OpenID Connect RP-Initiated Logout 1.0 §2: ends the login session."

# --- the back-channel endpoints (app.py) ----------------------------------------------------

_OPTIONS: dict[str, dict[str, Any]] = {
    "authorize-get": {
        "response_class": HTMLResponse,
        "description": "OIDC Core §3.1.2 with PKCE (RFC 7636, S256 only) and pushed requests "
        "(RFC 9126). response_type, redirect_uri, scope, code_challenge and "
        "code_challenge_method are required unless request_uri is sent.",
        "responses": _AUTHORIZE_RESPONSES,
        "openapi_extra": {"parameters": _AUTHORIZE_PARAMS},
    },
    "authorize-post": {
        "response_class": HTMLResponse,
        "description": "The same request as a form (OIDC Core §3.1.2.1).",
        "responses": {**_AUTHORIZE_RESPONSES, **_TOO_LARGE},
        "openapi_extra": {
            "parameters": [_AUTO_LOGIN],
            **_form_body(AUTHORIZE_FORM, {"code_flow": ex.AUTHORIZE_FORM}),
        },
    },
    "logout-get": {
        "response_class": HTMLResponse,
        "description": _LOGOUT_DESCRIPTION,
        "responses": _LOGOUT_RESPONSES,
        "openapi_extra": {"parameters": _query(LOGOUT_FIELDS, set())},
    },
    "logout-post": {
        "response_class": HTMLResponse,
        "description": _LOGOUT_DESCRIPTION,
        "responses": {**_LOGOUT_RESPONSES, **_TOO_LARGE},
        "openapi_extra": _form_body(
            form_schema(LOGOUT_FIELDS, [], "The logout request as a form."),
            {"logout": ex.LOGOUT_FORM},
        ),
    },
    "discovery": {
        "summary": "OpenID Provider metadata (OIDC Discovery 1.0)",
        "responses": {
            200: _json(ProviderMetadata, {"provider": ex.DISCOVERY}, "The provider metadata.")
        },
    },
    "realm-discovery": {
        "summary": "VNeID realm metadata (OIDC Discovery 1.0, Keycloak-style paths)",
        "responses": {
            200: _json(SurfaceMetadata, {"realm": ex.REALM_DISCOVERY}, "The realm's metadata.")
        },
    },
    "portal-discovery": {
        "summary": "Portal SSO metadata (OIDC Discovery 1.0, WSO2-style paths)",
        "responses": {
            200: _json(
                SurfaceMetadata, {"portal": ex.PORTAL_DISCOVERY}, "The portal SSO's metadata."
            )
        },
    },
    "jwks": {
        "summary": "Public keys of ID and access tokens",
        "responses": {
            200: _json(JWKS, {"keys": ex.JWKS}, "Current and not yet retired signing keys.")
        },
    },
    "token": {
        "description": "Authorization code (with the PKCE verifier) or refresh token (rotated; "
        "a reused one revokes its grant). The client authenticates as registered.",
        "responses": {
            200: _json(
                TokenResponse,
                {"authorization_code": ex.TOKENS, "refresh_token": ex.REFRESHED},
                "Tokens (RFC 6749 §5.1).",
                headers=_NO_STORE,
                links=LINKS_FROM_TOKEN,
            ),
            **_oauth_errors(ex.TOKEN_ERRORS),
            **_TOO_LARGE,
        },
        "openapi_extra": _form_body(
            TOKEN_FORM, {"authorization_code": ex.TOKEN_FORM, "refresh_token": ex.REFRESH_FORM}
        ),
        **_CLIENT_AUTH,
    },
    "introspect": {
        "responses": {
            200: _json(
                IntrospectionResponse,
                {"active": ex.INTROSPECTION, "inactive": {"active": False}},
                "The token's state (RFC 7662 §2.2).",
            ),
            **_oauth_errors(ex.TOKEN_MISSING),
            **_TOO_LARGE,
        },
        "openapi_extra": _form_body(INTROSPECT_FORM, {"access_token": ex.TOKEN_ONLY}),
        **_CLIENT_AUTH,
    },
    "revoke": {
        "response_class": Response,
        "responses": {
            200: {"description": "Revoked, or the token was unknown (RFC 7009 §2.2): no body."},
            **_oauth_errors(ex.TOKEN_MISSING),
            **_TOO_LARGE,
        },
        "openapi_extra": _form_body(REVOKE_FORM, {"refresh_token": ex.TOKEN_ONLY}),
        **_CLIENT_AUTH,
    },
    "par": {
        "status_code": 201,
        "responses": {
            201: _json(
                ParResponse,
                {"pushed": ex.PUSHED},
                "The request URI for /authorize (RFC 9126 §2.2).",
                headers=_NO_STORE,
                links=LINKS_FROM_PAR,
            ),
            **_oauth_errors(ex.PAR_ERRORS),
            **_TOO_LARGE,
        },
        "openapi_extra": _form_body(PAR_FORM, {"code_flow": ex.PAR_FORM}),
        **_CLIENT_AUTH,
    },
    "register": {
        "status_code": 201,
        "responses": {
            201: _json(
                ClientInformation,
                {"confidential": ex.REGISTERED, "public": ex.REGISTERED_PUBLIC},
                "The registered client (RFC 7591 §3.2.1).",
                headers=_NO_STORE,
                links=LINKS_FROM_REGISTER,
            ),
            **_oauth_errors(ex.REGISTER_ERRORS, unauthorized=False),
            403: _json(
                OAuthErrorBody,
                {"closed": ex.REGISTRATION_CLOSED},
                "access_denied: dynamic registration is closed (SIM06_IDENTITY_REGISTRATION_OPEN).",
            ),
            **_TOO_LARGE,
        },
        "openapi_extra": {
            "requestBody": {
                "required": True,
                "content": {
                    JSON: _media(
                        CLIENT_METADATA,
                        {"confidential": ex.CLIENT_METADATA, "public": ex.PUBLIC_METADATA},
                    )
                },
            }
        },
    },
}
_USERINFO: dict[str, Any] = {
    "responses": {
        200: _json(UserInfo, {"vneid_profile": ex.userinfo()}, "The citizen's claims (no-store)."),
        401: {
            "description": "No token, or an invalid, expired or revoked one (RFC 6750 §3): the "
            "challenge names the error (none when no token came); no body.",
            "headers": {
                "WWW-Authenticate": _header("The Bearer challenge.", ex.INVALID_TOKEN_CHALLENGE)
            },
        },
        403: {
            "description": "insufficient_scope: the token lacks openid (RFC 6750 §3.1); no body.",
            "headers": {"WWW-Authenticate": _header("The Bearer challenge.", ex.SCOPE_CHALLENGE)},
        },
    },
    "dependencies": [Security(VNEID, scopes=["openid"])],
}
_OPTIONS["userinfo-get"] = _USERINFO
_OPTIONS["userinfo-post"] = _USERINFO


# The standard whose errors each route answers by itself (strict mode leaves them to it).
_ERROR_STANDARDS = {
    "authorize-get": "RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6",
    "authorize-post": "RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6",
    "logout-get": "OIDC RP-Initiated Logout 1.0 §2",
    "logout-post": "OIDC RP-Initiated Logout 1.0 §2",
    "token": "RFC 6749 §5.2",
    "introspect": "RFC 7662 §2.3, RFC 6749 §5.2",
    "revoke": "RFC 7009 §2.2.1, RFC 6749 §5.2",
    "par": "RFC 9126 §2.3, RFC 6749 §5.2",
    "register": "RFC 7591 §3.2.2",
    "userinfo-get": "RFC 6750 §3.1, OIDC Core §5.3.3",
    "userinfo-post": "RFC 6750 §3.1, OIDC Core §5.3.3",
}


def route_options(name: str) -> dict[str, Any]:
    """``add_api_route`` keyword arguments that document the route ``name``."""
    options = dict(_OPTIONS[name])
    extra = dict(options.pop("openapi_extra", {}))
    if name in _ERROR_STANDARDS:
        extra[OWN_ERRORS] = _ERROR_STANDARDS[name]
    security = options.pop("security", None)
    if security is not None:
        extra["security"] = security
    if extra:
        options["openapi_extra"] = extra
    return options


def add_documented_route(
    app: FastAPI,
    group: tuple[str, str],
    path: str,
    endpoint: Any,
    method: str,
    name: str,
    documented_as: str,
) -> None:
    """Add ``endpoint`` under ``name``, documented as the route ``documented_as`` (its body,
    answers and errors); ``group``: its tag and the prefix of a summary it has none of."""
    tag, prefix = group
    options = route_options(documented_as)
    summary = options.pop("summary", None) or f"{prefix}: {documented_as}"
    app.add_api_route(
        path, endpoint, methods=[method], tags=[tag], name=name, summary=summary, **options
    )


# Route name → path of the routes app.py declares (names alone are not unique: the account
# pages have a "revoke" too).
_APP_ROUTES = {
    "discovery": "/.well-known/openid-configuration",
    "jwks": PATHS["jwks_uri"],
    "token": PATHS["token_endpoint"],
    "userinfo-get": PATHS["userinfo_endpoint"],
    "userinfo-post": PATHS["userinfo_endpoint"],
    "introspect": PATHS["introspection_endpoint"],
    "revoke": PATHS["revocation_endpoint"],
    "par": PATHS["pushed_authorization_request_endpoint"],
    "register": PATHS["registration_endpoint"],
}


def declare_oauth_routes(app: FastAPI) -> None:
    """Rebuild the OAuth/OIDC routes app.py declares with :func:`route_options`."""
    routes = app.router.routes
    for i, route in enumerate(routes):
        if not isinstance(route, APIRoute) or _APP_ROUTES.get(route.name) != route.path:
            continue
        options = route_options(route.name)
        routes[i] = APIRoute(
            route.path,
            route.endpoint,
            methods=route.methods,
            name=route.name,
            tags=route.tags,
            summary=options.pop("summary", route.summary),
            generate_unique_id_function=route.generate_unique_id_function,
            **options,
        )
