"""JSON profile: the registry operations under ``/v1/registry/...`` with X-Road-style headers.

Every answer, success or problem, carries ``X-Request-Hash`` and ``X-JWS-Signature`` (see
:mod:`services.gateway.signing`) and is appended to the audit log before it is sent. Problems
say where they arose: ``"source": "gateway"`` (the exchange layer refused or failed) or
``"source": "registry"`` (the population database answered that way), as X-Road separates
``Client.*``/``Server.*`` faults from the provider's own errors.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from sim06.services.common.problems import PROBLEM_MEDIA_TYPE, ProblemError, problem_body
from sim06.services.gateway import contract_docs
from sim06.services.gateway.exchange import Context, Gateway, context_from_headers
from sim06.services.gateway.oauth import TokenError
from sim06.services.gateway.policy import OPERATIONS, WRITE_OPERATIONS, known_fields
from sim06.services.gateway.signing import ResponseSigner, request_hash
from sim06.services.registry import schemas
from sim06.services.registry.event_routes import SUMMARIES

ALL_LOOKUP_FIELDS = sorted(known_fields("lookup"))
_ID_OK = re.compile(r"[A-Za-z0-9._:/-]+").fullmatch  # request ids echoed back as they came

OPENAPI_EXTRA: dict[str, Any] = {"parameters": contract_docs.EXCHANGE_PARAMETERS}
PIN_OPENAPI_EXTRA: dict[str, Any] = {
    "parameters": [
        {
            "name": "pin",
            "in": "path",
            "required": True,
            # Published, not enforced by the route: the registry says which rule a PIN breaks.
            "schema": {"type": "string", "pattern": schemas.PIN_PATTERN},
            "description": "Personal identification number (số định danh cá nhân), 12 digits.",
            "example": "001090104217",
        },
        *contract_docs.EXCHANGE_PARAMETERS,
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


def _limit(raw: str | None) -> int | None:
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 6):
        raise ProblemError(
            "FEED_INVALID_CURSOR",
            "limit is a whole number of items",
            errors=[{"parameter": "limit", "in": "query", "rule": "feed_position",
                     "reason": "limit is a whole number of items"}],
        )  # fmt: skip
    return int(raw)


def _json_body(headers: Mapping[str, str], raw: bytes) -> dict[str, Any]:
    media = (headers.get("content-type") or "").split(";", 1)[0].strip().lower()
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


def _requested_fields(raw: str | None) -> frozenset[str] | None:
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


@dataclass(frozen=True, slots=True)
class Incoming:
    """What an exchange reads of its HTTP request, whichever way the request was parsed.

    ``headers`` maps lowercase names to the first value sent (Starlette's ``Headers.get``);
    ``path`` and ``query`` are the request URL's; ``fields`` is the ``fields`` query parameter.
    """

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: bytes = b""
    fields: str | None = None

    @property
    def query_params(self) -> dict[str, str]:
        """The query string's parameters (the first value of each)."""
        from urllib.parse import parse_qsl

        found: dict[str, str] = {}
        for key, value in parse_qsl(self.query, keep_blank_values=True):
            found.setdefault(key, value)
        return found

    @classmethod
    async def of(cls, request: Request) -> Incoming:
        """The exchange inputs of a Starlette request (reads the body of a POST)."""
        url = request.url
        return cls(
            method=request.method,
            path=url.path,
            query=url.query,
            headers=request.headers,
            body=await request.body() if request.method == "POST" else b"",
            fields=request.query_params.get("fields"),
        )


@dataclass(frozen=True, slots=True)
class Reply:
    """A signed, audited answer: ``response()`` renders it (the same bytes on every path)."""

    status: int
    payload: bytes
    media: str
    headers: dict[str, str]

    def response(self) -> Response:
        return Response(
            self.payload, status_code=self.status, media_type=self.media, headers=self.headers
        )


class JsonProfile:
    """The handler shared by the five operations (and the lookup fast path)."""

    def __init__(self, gateway: Gateway, signer: ResponseSigner) -> None:
        self.gateway = gateway
        self.signer = signer

    async def exchange(self, request: Incoming, operation: str, pin: str | None) -> Reply:
        """Authenticate, authorise, forward, filter, audit (durably) and sign one exchange."""
        gw = self.gateway
        ctx: Context = context_from_headers(request.headers)
        raw = request.body
        pins = [pin[:32]] if pin is not None else []
        headers: dict[str, str] = {}
        fields: list[str] = []
        digests: list[dict[str, str | None]] = []
        forwarded = False
        try:
            token, agency = gw.authenticate(request.headers.get("authorization"))
            ctx.agency = agency
            body = _json_body(request.headers, raw) if request.method == "POST" else None
            if body is not None:
                pins = _pins_of(operation, body)
            requested = _requested_fields(request.fields) if operation == "lookup" else None
            grant = gw.authorize(ctx, token, agency, operation, requested)
            forwarded = True
            if operation in WRITE_OPERATIONS:
                assert body is not None
                written = await gw.registry.register(
                    WRITE_OPERATIONS[operation],
                    body,
                    f"{agency.code}|{ctx.request_id}",
                    agency.code,
                    ctx.officer,
                )
                answer = orjson.loads(written.body)
                digests = answer.get("records") or []
                pins = [str(d["pin"]) for d in digests] or pins
                data = grant.filter(answer)
                fields = grant.returned(data)
                payload = written.body if grant.fields is None else orjson.dumps(data)
                if written.replayed:
                    headers["Idempotent-Replayed"] = "true"
                status = 200 if written.replayed else 201
                media = "application/json"
                outcome = "replayed" if written.replayed else "ok"
            elif operation == "changes":
                query = request.query_params
                page = await gw.registry.changes(
                    query.get("after"), query.get("since"), _limit(query.get("limit"))
                )
                data = orjson.loads(page)
                pins = list(dict.fromkeys(item["pin"] for item in data["items"]))
                if grant.fields is not None:
                    data = grant.filter(data)
                    page = orjson.dumps(data)
                fields = grant.returned(data)
                payload = page
            elif operation == "lookup" and grant.fields is None and requested is None:
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
            if operation not in WRITE_OPERATIONS:
                status, outcome, media = 200, "ok", "application/json"
        except TokenError as exc:
            status, outcome, media = 401, "GATEWAY_UNAUTHENTICATED", PROBLEM_MEDIA_TYPE
            payload = orjson.dumps(
                problem_body(outcome, str(exc), instance=request.path,
                             extra={"source": "gateway"})
            )  # fmt: skip
            headers["WWW-Authenticate"] = exc.www_authenticate()
        except ProblemError as exc:
            code = exc.spec.code
            source = "registry" if forwarded and not code.startswith("GATEWAY_") else "gateway"
            status, outcome, media = exc.spec.status, code, PROBLEM_MEDIA_TYPE
            # The registry's extension members (replaced_by, subject_type) reach the agency.
            payload = orjson.dumps(
                problem_body(code, exc.detail, instance=request.path, errors=exc.errors,
                             extra={**(exc.extra or {}), "source": source})
            )  # fmt: skip
            headers.update(exc.headers or {})
        path = request.path + (f"?{request.query}" if request.query else "")
        rq_hash = request_hash(request.method, path, ctx.request_id, raw)
        signature = self.signer.sign_soon(payload, rq_hash)  # ready by the time the audit is
        await gw.record(
            ctx,
            operation,
            pins=pins,
            status=status,
            outcome=outcome,
            fields=fields,
            request_hash=rq_hash,
            response_hash=hashlib.sha256(payload).hexdigest(),
            digests=digests or None,
        )
        headers["X-Request-Hash"] = rq_hash
        headers["X-JWS-Signature"] = await signature
        if _ID_OK(ctx.request_id):
            headers["X-MaYeuCau"] = ctx.request_id
        return Reply(status, payload, media, headers)


def install(app: FastAPI, gateway: Gateway, signer: ResponseSigner) -> JsonProfile:
    """Add the ``/v1/registry/...`` routes to ``app``; the profile serving them.

    ``{pin:pin}`` is the registry's convertor: ``GET .../citizens/verify`` is a 405, not the
    lookup of a PIN "verify"."""
    profile = JsonProfile(gateway, signer)

    # (method, path, operation, summary, whether the path carries the PIN)
    routes: list[tuple[str, str, str, str, bool]] = [
        ("GET", "/v1/registry/citizens/{pin:pin}", "lookup",
         "Look up a citizen, filtered to the fields the purpose grants", True),
        ("POST", "/v1/registry/citizens/verify", "verify",
         "Verify declared identity data (body: the registry's VerifyRequest)", False),
        ("POST", "/v1/registry/citizens/verify-batch", "verify-batch",
         "Verify up to 1,000 declarations (body: the registry's BatchRequest)", False),
        ("GET", "/v1/registry/citizens/{pin:pin}/household", "household",
         "The citizen's household (replaces the household book)", True),
        ("GET", "/v1/registry/citizens/{pin:pin}/residence-confirmation",
         "residence-confirmation",
         "Residence confirmation (CT07) data", True),
        *(("POST", f"/v1/registry/{kind}", operation, SUMMARIES[kind], False)
          for operation, kind in WRITE_OPERATIONS.items()),
        ("GET", "/v1/registry/changes", "changes",
         "The change feed, each item's changes cut to the fields the purpose grants", False),
    ]  # fmt: skip
    for method, path, operation, summary, has_pin in routes:
        extra = dict(PIN_OPENAPI_EXTRA if has_pin else OPENAPI_EXTRA)
        if operation == "lookup":
            extra["parameters"] = [*extra["parameters"], contract_docs.FIELDS_PARAMETER]
        if operation == "changes":
            extra["parameters"] = [*extra["parameters"], *contract_docs.FEED_PARAMETERS]
        extra.update(contract_docs.REQUEST_BODIES.get(operation, {}))
        app.add_api_route(
            path,
            _endpoint(profile, operation, has_pin),
            methods=[method],
            status_code=201 if operation in WRITE_OPERATIONS else 200,
            name=operation,
            tags=["registry"],
            summary=summary,
            responses=contract_docs.exchange_responses(
                operation, links=contract_docs.LINKS.get(operation)
            ),
            openapi_extra=extra,
            **contract_docs.security(OPERATIONS[operation]),
        )
    return profile


def _endpoint(profile: JsonProfile, operation: str, has_pin: bool) -> Any:
    """The route handler of one operation: the same exchange for all of them."""

    async def endpoint(request: Request) -> Response:
        # The PIN is read from the path directly: no per-request dependency solving.
        pin = request.path_params["pin"] if has_pin else None
        reply = await profile.exchange(await Incoming.of(request), operation, pin)
        return reply.response()

    return endpoint
