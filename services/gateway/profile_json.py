"""JSON profile: the registry operations under ``/v1/registry/...`` with X-Road-style headers.

Every answer, success or problem, carries ``X-Request-Hash`` and ``X-JWS-Signature`` (see
:mod:`services.gateway.signing`) and is appended to the audit log before it is sent. Problems
say where they arose: ``"source": "gateway"`` (the exchange layer refused or failed) or
``"source": "registry"`` (the population database answered that way), as X-Road separates
``Client.*``/``Server.*`` faults from the provider's own errors.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from services.common.problems import PROBLEM_MEDIA_TYPE, ProblemError, problem_body
from services.gateway.exchange import HEADERS, Context, Gateway, context_from_headers
from services.gateway.oauth import TokenError
from services.gateway.policy import known_fields
from services.gateway.signing import ResponseSigner, request_hash
from services.registry import schemas

ALL_LOOKUP_FIELDS = sorted(known_fields("lookup"))
_ID_OK = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/-")

_HEADER_DOCS = {
    "client": "Calling agency code (QCVN 102:2016), e.g. 000.21.01.H26; must match the token.",
    "request_id": "MaYeuCau: request id, unique per call (a replay is refused).",
    "procedure": "MaDVC: administrative procedure code the lookup serves.",
    "officer": "MaCanBo: officer or system account accountable for the call.",
    "purpose": "Purpose of processing, one licensed for the procedure (e.g. residence).",
    "legal_basis": "Legal basis (free text; percent-encode non-Latin-1 characters).",
}
OPENAPI_EXTRA: dict[str, Any] = {
    "parameters": [
        {
            "name": HEADERS[name],
            "in": "header",
            "required": True,
            "schema": {"type": "string"},
            "description": text,
        }
        for name, text in _HEADER_DOCS.items()
    ],
    "security": [{"bearer": []}],
}


PIN_OPENAPI_EXTRA: dict[str, Any] = {
    **OPENAPI_EXTRA,
    "parameters": [
        {
            "name": "pin",
            "in": "path",
            "required": True,
            "schema": {"type": "string", "pattern": schemas.PIN_PATTERN},
            "description": "Personal identification number (số định danh cá nhân), 12 digits.",
            "example": "001090104217",
        },
        *OPENAPI_EXTRA["parameters"],
    ],
}


def _pins_of(operation: str, body: dict[str, Any]) -> list[str]:
    if operation == "verify":
        pin = body.get("pin")
        return [pin[:32]] if isinstance(pin, str) else []
    items = body.get("items")
    if not isinstance(items, list):
        return []
    return [
        i["pin"][:32]
        for i in items[:10_000]
        if isinstance(i, dict) and isinstance(i.get("pin"), str)
    ]


def _json_body(request: Request, raw: bytes) -> dict[str, Any]:
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media != "application/json" and not media.endswith("+json"):
        raise ProblemError(
            "UNSUPPORTED_MEDIA_TYPE", "Send the body as JSON with 'Content-Type: application/json'."
        )
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProblemError("MALFORMED_BODY", "The request body is not valid JSON.") from None
    if not isinstance(body, dict):
        raise ProblemError("VALIDATION_FAILED", "The request body must be a JSON object.")
    return body


def _requested_fields(request: Request) -> frozenset[str] | None:
    raw = request.query_params.get("fields")
    if raw is None:
        return None
    names = frozenset(n.strip() for n in raw.split(",") if n.strip())
    unknown = sorted(names - known_fields("lookup"))
    if unknown or not names:
        raise ProblemError(
            "VALIDATION_FAILED",
            "fields lists top-level fields of the citizen record, comma-separated.",
            errors=[{"parameter": "fields", "in": "query", "rule": "enum",
                     "reason": f"unknown fields {unknown}" if unknown else "empty"}],
        )  # fmt: skip
    return names


class JsonProfile:
    """The handler shared by the five operations."""

    def __init__(self, gateway: Gateway, signer: ResponseSigner) -> None:
        self.gateway = gateway
        self.signer = signer

    async def exchange(self, request: Request, operation: str, pin: str | None) -> Response:
        gw = self.gateway
        ctx: Context = context_from_headers(request.headers)
        raw = b""
        pins = [pin[:32]] if pin is not None else []
        headers: dict[str, str] = {}
        fields: list[str] = []
        forwarded = False
        try:
            if request.method == "POST":
                raw = await request.body()
            token, agency = gw.authenticate(request.headers.get("authorization"))
            ctx.agency = agency
            body = _json_body(request, raw) if request.method == "POST" else None
            if body is not None:
                pins = _pins_of(operation, body)
            requested = _requested_fields(request) if operation == "lookup" else None
            grant = gw.authorize(ctx, token, agency, operation, requested)
            forwarded = True
            if operation == "lookup" and grant.fields is None and requested is None:
                # Nothing to filter: forward the registry's bytes (the hot path of the benchmark).
                assert pin is not None
                payload = await gw.registry.record_bytes(pin)
                fields = ALL_LOOKUP_FIELDS
            else:
                data = grant.filter(await gw.forward(operation, pin, body))
                if requested is not None:
                    data = {k: v for k, v in data.items() if k in requested}
                fields = grant.returned(data)
                payload = orjson.dumps(data)
            status, outcome, media = 200, "ok", "application/json"
        except TokenError as exc:
            status, outcome, media = 401, "GATEWAY_UNAUTHENTICATED", PROBLEM_MEDIA_TYPE
            payload = orjson.dumps(
                problem_body(outcome, str(exc), instance=request.url.path,
                             extra={"source": "gateway"})
            )  # fmt: skip
            headers["WWW-Authenticate"] = exc.www_authenticate()
        except ProblemError as exc:
            code = exc.spec.code
            source = "registry" if forwarded and not code.startswith("GATEWAY_") else "gateway"
            status, outcome, media = exc.spec.status, code, PROBLEM_MEDIA_TYPE
            payload = orjson.dumps(
                problem_body(code, exc.detail, instance=request.url.path, errors=exc.errors,
                             extra={"source": source})
            )  # fmt: skip
            headers.update(exc.headers or {})
        path = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        rq_hash = request_hash(request.method, path, ctx.request_id, raw)
        await gw.record(
            ctx,
            operation,
            pins=pins,
            status=status,
            outcome=outcome,
            fields=fields,
            request_hash=rq_hash,
            response_hash=hashlib.sha256(payload).hexdigest(),
        )
        headers["X-Request-Hash"] = rq_hash
        headers["X-JWS-Signature"] = self.signer.sign(payload, rq_hash)
        if ctx.request_id and set(ctx.request_id) <= _ID_OK:
            headers["X-MaYeuCau"] = ctx.request_id
        return Response(payload, status_code=status, media_type=media, headers=headers)


def install(app: FastAPI, gateway: Gateway, signer: ResponseSigner) -> None:
    """Add the ``/v1/registry/...`` routes to ``app``."""
    profile = JsonProfile(gateway, signer)
    common: dict[str, Any] = {"tags": ["registry"], "openapi_extra": OPENAPI_EXTRA}
    with_pin: dict[str, Any] = {"tags": ["registry"], "openapi_extra": PIN_OPENAPI_EXTRA}

    @app.get(
        "/v1/registry/citizens/{pin}",
        name="lookup",
        summary="Look up a citizen, filtered to the fields the purpose grants",
        description="Optional `fields=a,b` narrows the answer further (data minimisation).",
        responses={200: {"model": schemas.CitizenRecord}},
        **with_pin,
    )
    async def lookup(request: Request) -> Response:
        # The PIN is read from the path directly: no per-request dependency solving.
        pin = request.path_params["pin"]
        return await profile.exchange(request, "lookup", pin)

    @app.post(
        "/v1/registry/citizens/verify",
        name="verify",
        summary="Verify declared identity data (body: the registry's VerifyRequest)",
        responses={200: {"model": schemas.VerifyResult}},
        **common,
    )
    async def verify(request: Request) -> Response:
        return await profile.exchange(request, "verify", None)

    @app.post(
        "/v1/registry/citizens/verify-batch",
        name="verify-batch",
        summary="Verify up to 1,000 declarations (body: the registry's BatchRequest)",
        responses={200: {"model": schemas.BatchResult}},
        **common,
    )
    async def verify_batch(request: Request) -> Response:
        return await profile.exchange(request, "verify-batch", None)

    @app.get(
        "/v1/registry/citizens/{pin}/household",
        name="household",
        summary="The citizen's household (replaces the household book)",
        responses={200: {"model": schemas.Household}},
        **with_pin,
    )
    async def household(request: Request) -> Response:
        # The PIN is read from the path directly: no per-request dependency solving.
        pin = request.path_params["pin"]
        return await profile.exchange(request, "household", pin)

    @app.get(
        "/v1/registry/citizens/{pin}/residence-confirmation",
        name="residence-confirmation",
        summary="Residence confirmation (CT07) data",
        responses={200: {"model": schemas.ResidenceConfirmation}},
        **with_pin,
    )
    async def residence_confirmation(request: Request) -> Response:
        # The PIN is read from the path directly: no per-request dependency solving.
        pin = request.path_params["pin"]
        return await profile.exchange(request, "residence-confirmation", pin)
