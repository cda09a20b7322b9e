"""How the gateway's exchanges appear in the published contract (issue #7).

The JSON profile reads its requests itself (the raw body is hashed, signed and audited before
anything else), so FastAPI cannot see them: this module declares the request bodies, the
problems each operation answers (the registry's own, passed through, and the gateway's), the
headers every exchange carries, the OAuth 2.0 scheme of the access tokens and the links a
stateful tester follows. Answers are cut to the fields the purpose grants, so the response
models here are the registry's with every top-level field optional (``Granted*``).
"""

from __future__ import annotations

from typing import Any

from fastapi import Security
from fastapi.openapi.models import OAuth2, OAuthFlowClientCredentials, OAuthFlows
from pydantic import BaseModel, ConfigDict, create_model
from pydantic.fields import FieldInfo

from sim06.services.common.problems import ProblemError, catalogue, openapi_responses
from sim06.services.common.security_docs import DocumentedScheme
from sim06.services.gateway import soap
from sim06.services.gateway.exchange import HEADERS
from sim06.services.gateway.policy import (
    ACCESS_LOG_SCOPE,
    OPERATIONS,
    WRITE_OPERATIONS,
    known_fields,
)
from sim06.services.registry import event_examples, event_routes, event_schemas, schemas
from sim06.services.registry.events import REQUESTS as EVENT_REQUESTS

__all__ = [
    "BEARER",
    "EXCHANGE_PARAMETERS",
    "FEED_PARAMETERS",
    "FIELDS_PARAMETER",
    "GRANTED",
    "REQUEST_BODIES",
    "exchange_responses",
    "security",
    "soap_fault_responses",
]

TOKEN_URL = "/oauth/token"
BEARER = DocumentedScheme(
    "bearer",
    OAuth2(
        flows=OAuthFlows(
            clientCredentials=OAuthFlowClientCredentials(
                tokenUrl=TOKEN_URL,
                scopes={
                    **{
                        scope: f"operations: {scope.split(':')[1]}" for scope in OPERATIONS.values()
                    },
                    ACCESS_LOG_SCOPE: "read citizens' access logs (a citizen portal)",
                },
            )
        ),
        description="Agency access tokens (RFC 9068 JWTs, ES256) from the client credentials "
        "grant; certificate-bound (RFC 8705) when requested over mutual TLS.",
    ),
)


def security(*scopes: str) -> dict[str, Any]:
    """Route keyword arguments that put :data:`BEARER` with ``scopes`` in the contract."""
    return {"dependencies": [Security(BEARER, scopes=list(scopes))]}


def _granted(model: type[BaseModel]) -> type[BaseModel]:
    """``model`` with every top-level field optional: the answer after the field policy."""
    fields: dict[str, Any] = {
        name: (info.annotation, FieldInfo.merge_field_infos(info, default=None))
        for name, info in model.model_fields.items()
    }
    granted: type[BaseModel] = create_model(
        f"Granted{model.__name__}",
        __config__=ConfigDict(extra="forbid"),
        __doc__=f"The registry's {model.__name__} with only the fields the agency's grant for "
        "this purpose allows (and `fields` asks for): any field may be absent.",
        **fields,
    )
    return granted


GrantedVerifyResult = _granted(schemas.VerifyResult)


class GrantedBatchItem(BaseModel):
    """One item of a batch: its result cut to the granted fields, or its problem."""

    model_config = ConfigDict(extra="forbid")

    index: int
    result: GrantedVerifyResult | None  # type: ignore[valid-type]
    error: schemas.Problem | None


class GrantedBatchResult(BaseModel):
    """The registry's BatchResult, each result cut to the granted fields."""

    model_config = ConfigDict(extra="forbid")

    count: int
    results: list[GrantedBatchItem]


GRANTED: dict[str, type[BaseModel]] = {
    "lookup": _granted(schemas.CitizenRecord),
    "verify": GrantedVerifyResult,
    "verify-batch": GrantedBatchResult,
    "household": _granted(schemas.Household),
    "residence-confirmation": _granted(schemas.ResidenceConfirmation),
    **dict.fromkeys(WRITE_OPERATIONS, event_schemas.EventResult),
    "changes": event_schemas.FeedPage,
}

_ID = "^[A-Za-z0-9._:/-]{1,128}$"  # exchange._ID: what the gateway accepts
_HEADER_DOCS = {
    "client": ("Calling agency code (QCVN 102:2016), e.g. 000.21.01.H26; must match the token.",
               "000.21.01.H26"),
    "request_id": ("MaYeuCau: request id, unique per call (a replay is refused).",
                   "ubnd-ba-dinh-20260701-000123"),
    "procedure": ("MaDVC: administrative procedure code the exchange serves.",
                  "1.004222.000.00.00.H26"),
    "officer": ("MaCanBo: officer or system account accountable for the call.", "CB.H26.0002"),
    "purpose": ("Purpose of processing, one licensed for the procedure.", "residence"),
    "legal_basis": ("Legal basis (free text): UTF-8 as is, percent-encoded UTF-8, or an RFC 8187 "
                    "ext-value (UTF-8''Lu%E1%BA%ADt...).",
                    "Lu%E1%BA%ADt C%C6%B0 tr%C3%BA 2020"),
}  # fmt: skip
EXCHANGE_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": HEADERS[name],
        "in": "header",
        "required": True,
        "schema": {"type": "string", "minLength": 1}
        if name == "legal_basis"
        else {"type": "string", "pattern": _ID},
        "description": text,
        "example": example,
    }
    for name, (text, example) in _HEADER_DOCS.items()
]
_NAMES = "|".join(sorted(known_fields("lookup")))
FEED_PARAMETERS: list[dict[str, Any]] = [
    {"name": "after", "in": "query", "required": False,
     "description": "A cursor from the feed (next_cursor); 0 or absent: from the start.",
     "schema": {"type": "string", "pattern": "^[0-9]{1,18}$"}, "example": "0"},
    {"name": "since", "in": "query", "required": False,
     "description": "RFC 3339 date-time: the changes committed from then on (ignored with "
                    "after).",
     "schema": {"type": "string", "format": "date-time", "pattern": event_routes.RFC3339}},
    {"name": "limit", "in": "query", "required": False,
     "description": "Items per page (default and most: SIM06_REGISTRY_FEED_LIMIT, 1000).",
     "schema": {"type": "integer", "minimum": 1, "maximum": 1000}},
]  # fmt: skip
FIELDS_PARAMETER: dict[str, Any] = {
    "name": "fields",
    "in": "query",
    "required": False,
    "description": "Top-level fields of the record to return, comma-separated (data "
    "minimisation); a field the grant does not allow is refused (GATEWAY_FORBIDDEN_FIELD).",
    "schema": {
        "type": "string",
        "pattern": rf"^(?:\s*,)*\s*(?:{_NAMES})\s*(?:,\s*(?:(?:{_NAMES})\s*)?)*$",
    },
    "example": "pin,name,current_residence",
}


def _request_schemas() -> tuple[dict[str, Any], dict[str, Any]]:
    """The registry's VerifyRequest and BatchRequest, inlined: the gateway reads raw bodies,
    so FastAPI does not publish the registry's request models in this contract."""
    verify = schemas.VerifyRequest.model_json_schema()
    items = schemas.BatchRequest.model_fields["items"]
    batch = {
        "title": "BatchRequest",
        "type": "object",
        "additionalProperties": False,
        "required": ["items"],
        "properties": {
            "items": {
                "type": "array",
                "description": items.description,
                "items": {"anyOf": [verify, {"type": "object"}]},
            }
        },
    }
    return verify, batch


_DECLARATION = {"pin": "001090104217", "full_name": "NGUYEN VAN AN", "date_of_birth": "1990-05-12"}
REQUEST_BODIES: dict[str, dict[str, Any]] = {
    operation: {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema, "examples": examples}},
        }
    }
    for operation, schema, examples in (
        ("verify", _request_schemas()[0], {"by_pin": {"value": _DECLARATION}}),
        (
            "verify-batch",
            _request_schemas()[1],
            {
                "two_declarations": {
                    "value": {
                        "items": [
                            _DECLARATION,
                            {"cmnd": "131524689", "full_name": "Đặng Văn Tư", "birth_year": 1955},
                        ]
                    }
                }
            },
        ),
    )
}


def _inline(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` with its ``$defs`` references replaced by the definitions themselves (an
    embedded schema's ``#/$defs/...`` would resolve against the contract's root)."""
    defs = schema.get("$defs", {})

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.removeprefix("#/$defs/")])
            return {k: walk(v) for k, v in node.items() if k != "$defs"}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    inlined: dict[str, Any] = walk(schema)
    return inlined


REQUEST_BODIES.update(
    {
        operation: {
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {
                        "schema": _inline(EVENT_REQUESTS[kind].model_json_schema()),
                        "examples": event_examples.openapi_examples(kind),
                    }
                },
            }
        }
        for operation, kind in WRITE_OPERATIONS.items()
    }
)

# The codes each operation may answer: the registry's (passed through) and the gateway's.
_REGISTRY_CODES = {
    "lookup": ("INVALID_PIN", "CITIZEN_NOT_FOUND", "PIN_CANCELLED", "NOT_A_CITIZEN"),
    "verify": ("INVALID_PIN", "INVALID_CMND", "PIN_CANCELLED", "NOT_A_CITIZEN"),
    "verify-batch": ("BATCH_TOO_LARGE",),
    "household": (
        "INVALID_PIN",
        "CITIZEN_NOT_FOUND",
        "PIN_CANCELLED",
        "NOT_A_CITIZEN",
        "NO_HOUSEHOLD",
    ),
    "residence-confirmation": (
        "INVALID_PIN",
        "CITIZEN_NOT_FOUND",
        "PIN_CANCELLED",
        "NOT_A_CITIZEN",
        "CITIZEN_NOT_ALIVE",
    ),
    **{
        operation: ("IDEMPOTENCY_KEY_REUSED", *event_routes.EVENT_CODES[kind])
        for operation, kind in WRITE_OPERATIONS.items()
    },
    "changes": ("FEED_INVALID_CURSOR", "FEED_CURSOR_AHEAD"),
}
# What Gateway.authorize refuses, and the limits of the exchange: in both profiles.
_POLICY_REFUSALS = (
    "GATEWAY_CLIENT_MISMATCH",
    "004",
    "005",
    "GATEWAY_PURPOSE_NOT_ALLOWED",
    "GATEWAY_INSUFFICIENT_SCOPE",
    "GATEWAY_REQUEST_REPLAYED",
)
_LIMITS = ("GATEWAY_QUOTA_EXCEEDED", "GATEWAY_UPSTREAM_UNAVAILABLE", "GATEWAY_UPSTREAM_TIMEOUT")
GATEWAY_CODES = (
    "GATEWAY_UNAUTHENTICATED",
    "GATEWAY_MISSING_HEADER",
    *_POLICY_REFUSALS,
    *_LIMITS,
)


def _header(description: str, *, required: bool = True) -> dict[str, Any]:
    return {"description": description, "required": required, "schema": {"type": "string"}}


SIGNED = {
    "X-Request-Hash": _header("SHA-256 over method, path, X-MaYeuCau and the body (hex)."),
    "X-JWS-Signature": _header(
        "Detached JWS (RFC 7515 Appendix F) over the body and X-Request-Hash; keys at "
        "/.well-known/jwks.json."
    ),
    "X-MaYeuCau": _header("The request id, echoed when it is a plain id.", required=False),
}
_STATUS_HEADERS = {
    401: {"WWW-Authenticate": _header("Bearer challenge: error and error_description.")},
    429: {"Retry-After": _header("Seconds until the quota allows another request.")},
}


def exchange_responses(
    operation: str, *, links: dict[str, Any] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The responses of one JSON-profile operation: the granted answer and every problem."""
    codes = list(_REGISTRY_CODES[operation]) + list(GATEWAY_CODES)
    if operation == "lookup":
        codes.append("GATEWAY_FORBIDDEN_FIELD")
    out = openapi_responses(schemas.Problem, *codes)
    for status, headers in _STATUS_HEADERS.items():
        out[status]["headers"] = headers
    ok: dict[str, Any] = {
        "model": GRANTED[operation],
        "description": "The registry's answer cut to the granted fields, signed.",
        "headers": SIGNED,
    }
    if links:
        ok["links"] = links
    if operation in WRITE_OPERATIONS:
        replayed = {
            **ok,
            "description": "A retry with the same X-MaYeuCau: the first answer, with "
            "Idempotent-Replayed: true.",
        }
        return {201: {**ok, "description": "The event is registered (signed answer)."},
                200: replayed, **out}  # fmt: skip
    return {200: ok, **out}


def _link(operation_id: str, pin: str, description: str) -> dict[str, Any]:
    return {"operationId": operation_id, "parameters": {"pin": pin}, "description": description}


LINKS: dict[str, dict[str, Any]] = {
    "lookup": {
        "household": _link("registry-household", "$response.body#/pin",
                           "The household of the citizen just read, through the gateway."),
        "residenceConfirmation": _link(
            "registry-residence-confirmation", "$response.body#/pin",
            "The CT07 data of the citizen just read, through the gateway."),
        "accessLog": _link("citizens-access-log", "$response.body#/pin",
                           "Who else read this citizen's data."),
    },
    "verify": {
        "lookup": _link("registry-lookup", "$request.body#/pin",
                        "The record of the citizen just verified (when verified by PIN)."),
    },
    "household": {
        "head": _link("registry-lookup", "$response.body#/head_pin",
                      "The record of the household head."),
    },
}  # fmt: skip


SOAP_FAULT_CODES = (
    "GATEWAY_SOAP_FAULT",
    "GATEWAY_SOAP_INVALID",
    "GATEWAY_UNAUTHENTICATED",
    *_POLICY_REFUSALS,
    "INVALID_PIN",
    "INVALID_CMND",
    *_LIMITS,
)


def soap_fault_responses() -> dict[int | str, dict[str, Any]]:
    """The SOAP profile's refusals: a SOAP 1.1 Fault (``text/xml``) with the HTTP status of
    its code. They replace the generic problems at 400 and 422: these routes read raw bodies,
    so FastAPI's validation never answers for them."""
    by_status: dict[int, list[str]] = {}
    for code in SOAP_FAULT_CODES:
        by_status.setdefault(catalogue()[code].status, []).append(code)
    out: dict[int | str, dict[str, Any]] = {}
    for status, codes in sorted(by_status.items()):
        examples = {
            code: {"value": soap.fault(ProblemError(code, catalogue()[code].description))
                   .decode("utf-8")}
            for code in codes
        }  # fmt: skip
        out[status] = {
            "description": "SOAP Fault; detail/MaLoi is the code: " + ", ".join(codes) + ".",
            "content": {"text/xml": {"schema": {"type": "string"}, "examples": examples}},
            **({"headers": _STATUS_HEADERS[status]} if status in _STATUS_HEADERS else {}),
        }
    return out
