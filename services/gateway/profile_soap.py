"""SOAP profile handler: authentication schemes, policy, audit and signature around
:mod:`services.gateway.soap` (the envelopes themselves).

Two entry points share one exchange (:func:`soap_exchange`):

- ``POST /soap/dancu``: the envelope as the body; a gateway ``Bearer`` token or the observed
  direct ``Timestamp`` + ``Basic`` digest scheme (domain §6.3, pattern 1).
- ``POST /lgsp/dancu``: the envelope wrapped in the JSON the observed OpenCPS adapter sends to a
  provincial LGSP (pattern 2); see :mod:`services.gateway.lgsp`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import xml.etree.ElementTree as ET
from collections.abc import Awaitable, Callable, Mapping
from typing import Annotated, Literal

from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from sim06.services.common.header_text import header_text
from sim06.services.common.metrics import note_agency
from sim06.services.common.problems import ProblemError
from sim06.services.gateway import lgsp, soap, soap_schema
from sim06.services.gateway.agencies import Agency
from sim06.services.gateway.contract_docs import soap_fault_responses
from sim06.services.gateway.exchange import Context, Gateway
from sim06.services.gateway.oauth import AccessToken, TokenError
from sim06.services.gateway.signing import ResponseSigner, request_hash

PATH = "/soap/dancu"
_CLOCK_SKEW_MS = 300_000

Authenticator = Callable[[soap.SoapCall], tuple[AccessToken, Agency]]
_XML_ANSWER: dict[int | str, dict[str, object]] = {
    200: {
        "description": "SOAP 1.1 envelope (answers and Faults alike are text/xml)",
        "content": {"text/xml": {"schema": {"type": "string"}}},
    },
    **soap_fault_responses(),
}


def _document_answer(route: str) -> dict[int | str, dict[str, object]]:
    """The documents route's answer, with the route's WSDL (default address) as the example."""
    example = soap_schema.wsdl(route).decode("utf-8")
    return {
        200: {
            "description": "The WSDL 1.1 (?wsdl) or one of its XSDs (?xsd=<name>), addressed to "
            "the server that answers",
            "content": {"text/xml": {"schema": {"type": "string"}, "example": example}},
        },
    }


def _document(request: Request, route: str, xsd: str | None) -> Response:
    """The WSDL of ``route`` (or its XSD ``xsd``), addressed to the server the client called."""
    base = soap_schema.base_url(request.url.scheme, request.url.netloc)
    body = soap_schema.wsdl(route, base) if xsd is None else soap_schema.xsd(xsd, route, base)
    return Response(body, media_type=soap.SOAP_MEDIA)


def _documents_endpoint(route: str) -> Callable[..., Awaitable[Response]]:
    """The ``GET`` handler of ``route``'s WSDL and XSDs (the route is not a parameter)."""

    async def documents(
        request: Request,
        wsdl: Annotated[str | None, Query(description="Toolkits ask ?wsdl: the WSDL")] = None,
        xsd: Annotated[
            Literal["dancu.xsd", "congdan.xsd", "qldc.xsd"] | None,
            Query(description="One of the XSDs the WSDL imports; absent: the WSDL"),
        ] = None,
    ) -> Response:
        del wsdl  # ?wsdl and a plain GET both answer the WSDL
        return _document(request, route, xsd)

    return documents


def _direct(gateway: Gateway, request: Request, authorization: str) -> tuple[AccessToken, Agency]:
    """The observed direct-to-C06 scheme: Timestamp + Basic user:hex(sha256(...))."""
    stamp = request.headers.get("timestamp", "")
    if not stamp.isdigit() or abs(int(stamp) - time.time() * 1000) > _CLOCK_SKEW_MS:
        raise TokenError("Timestamp (ms since epoch) is missing or more than 5 minutes off.")
    try:
        user, digest = (
            base64.b64decode(authorization[6:].strip(), validate=True).decode().split(":", 1)
        )
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise TokenError("Malformed Basic credentials.") from None
    agency = gateway.agencies.by_client(user)
    secret = agency.spec.client_secret if agency is not None else None
    url = f"{request.url.scheme}://{request.url.netloc}{request.url.path}"
    expected = hashlib.sha256(f"{url}{user}{stamp}{secret or ''}".encode()).hexdigest()
    if agency is None or secret is None or not hmac.compare_digest(expected, digest.lower()):
        raise TokenError("Unknown client or wrong digest.")
    token = AccessToken(user, agency.code, agency.scopes, time.time() + 60, "")
    note_agency(agency.code)  # the requests metric's agency label
    return token, agency


def _authenticate(gateway: Gateway, request: Request) -> tuple[AccessToken, Agency]:
    authorization = request.headers.get("authorization") or ""
    if authorization[:6].lower() == "basic ":
        return _direct(gateway, request, authorization)
    return gateway.authenticate(authorization)


def _context(headers: Mapping[str, str], call: soap.SoapCall, agency: Agency) -> Context:
    values = call.values
    procedure = values.get("MaDVC") or (
        agency.spec.default_procedure if call.name == "XacThucThongTinCongDan" else None
    )
    ctx = Context(
        client=values.get("MaDonVi") or agency.code,
        request_id=values.get("MaYeuCau", ""),
        procedure=procedure or "",
        officer=values.get("MaCanBo", ""),
        purpose=(headers.get("x-purpose") or "").strip(),
        legal_basis=header_text(headers.get("x-legal-basis"))[:300],
        agency=agency,
    )
    missing = [n for n, v in (("MaYeuCau", ctx.request_id), ("MaCanBo", ctx.officer),
                              ("MaDVC", ctx.procedure)) if not v]  # fmt: skip
    if missing:
        raise ProblemError("GATEWAY_SOAP_FAULT", f"Missing elements: {missing}.")
    if ctx.client != agency.code:
        raise ProblemError(
            "GATEWAY_CLIENT_MISMATCH", f"MaDonVi {ctx.client} is not the caller ({agency.code})."
        )
    if not ctx.purpose and ctx.procedure in agency.purposes:
        operation = soap.OPERATIONS[call.name]
        ctx.purpose = next(
            (p for p in agency.purposes[ctx.procedure]
             if (ctx.procedure, p, operation) in agency.grants),
            agency.purposes[ctx.procedure][0],
        )  # fmt: skip
    return ctx


async def soap_exchange(
    gateway: Gateway,
    signer: ResponseSigner,
    *,
    path: str,
    raw: bytes,
    headers: Mapping[str, str],
    unwrap: Callable[[bytes], bytes],
    authenticate: Authenticator,
) -> Response:
    """One audited, signed SOAP exchange.

    ``raw`` is the HTTP body (hashed into ``X-Request-Hash``); ``unwrap`` extracts the SOAP
    envelope from it (identity for plain SOAP); ``authenticate`` names the caller once the
    envelope is parsed. Refusals are SOAP Faults, audited like answers.
    """
    ctx = Context()
    operation, pins, fields, status, outcome = "soap", [], [], 200, "ok"
    out: dict[str, str] = {}
    forwarded = False
    try:
        call = soap.parse(unwrap(raw))
        operation = soap.OPERATIONS[call.name]
        ctx.request_id = call.values.get("MaYeuCau", "")
        ctx.officer = call.values.get("MaCanBo", "")
        decl = soap.declaration(call.values)
        if call.name != "XacThucThongTinCongDan" and "pin" not in decl:
            raise ProblemError(
                "GATEWAY_SOAP_FAULT", "This slice looks up by SoDinhDanh only (not SoCMND)."
            )
        pins = [decl["pin"][:32]] if "pin" in decl else []
        token, agency = authenticate(call)
        ctx = _context(headers, call, agency)
        grant = gateway.authorize(ctx, token, agency, operation, check_headers=False)
        forwarded = True
        result = await gateway.registry.verify(decl)
        if call.name == "XacThucThongTinCongDan":
            element = ET.Element(f"{{{soap.NS_DAN}}}KetQuaXacThucResponse")
            soap.sub(element, f"{{{soap.NS_DAN}}}MaYeuCau", ctx.request_id)
            soap.sub(element, f"{{{soap.NS_DAN}}}TonTai", str(result["matched"]).lower())
            fields = ["matched"]
        else:
            allowed = grant.fields
            if call.name == "TraCuuThongTinCongDan":
                element = ET.Element(f"{{{soap.NS_DAN}}}TraCuuThongTinCongDanResponse")
            else:  # XacMinhThongTinNhanThan: the identity part of what the grant allows
                element = ET.Element(f"{{{soap.NS_MIC}}}XacMinhThongTinNhanThanResponse")
                allowed = soap.IDENTITY_FIELDS & (allowed or soap.IDENTITY_FIELDS)
            records = []
            if result["matched"]:
                records.append(await gateway.registry.record(decl["pin"]))
            collection = soap.collection(element, ctx.request_id, records)
            for record in records:
                fields = soap.congdan(collection, record, allowed)
        payload = soap.envelope(element)
    except TokenError as exc:
        status, outcome = 401, "GATEWAY_UNAUTHENTICATED"
        payload = soap.fault(ProblemError(outcome, str(exc)))
        out["WWW-Authenticate"] = exc.www_authenticate()
    except ProblemError as exc:
        status, outcome = exc.spec.status, exc.spec.code
        payload = soap.fault(exc, source="registry" if forwarded else "gateway")
        out.update(exc.headers or {})
    rq_hash = request_hash("POST", path, ctx.request_id, raw)
    await gateway.record(
        ctx,
        operation,
        pins=pins,
        status=status,
        outcome=outcome,
        fields=fields,
        request_hash=rq_hash,
        response_hash=hashlib.sha256(payload).hexdigest(),
    )
    out["X-Request-Hash"] = rq_hash
    out["X-JWS-Signature"] = signer.sign(payload, rq_hash)
    return Response(payload, status_code=status, media_type=soap.SOAP_MEDIA, headers=out)


def install(app: FastAPI, gateway: Gateway, signer: ResponseSigner) -> None:
    """Add ``POST /soap/dancu`` and the LGSP wrapper ``POST /lgsp/dancu`` to ``app``, and on
    both paths ``GET ?wsdl`` / ``?xsd=<name>`` (:mod:`services.gateway.soap_schema`)."""

    for route, route_name in ((PATH, "dancu-wsdl"), (lgsp.PATH, "lgsp-dancu-wsdl")):
        app.add_api_route(
            route,
            _documents_endpoint(route),
            methods=["GET"],
            tags=["soap"],
            name=route_name,
            response_class=Response,
            responses=_document_answer(route),
            summary="WSDL 1.1 (?wsdl) and XSDs (?xsd=<name>) of the SOAP profile, for toolkits",
        )

    @app.post(
        PATH,
        tags=["soap"],
        name="dancu",
        response_class=Response,
        responses=_XML_ANSWER,
        summary="SOAP 1.1: XacThucThongTinCongDan, TraCuuThongTinCongDan (observed shapes)",
        openapi_extra={
            "requestBody": {"content": {"text/xml": {"schema": {"type": "string"}}}},
        },
    )
    async def dancu(request: Request) -> Response:
        return await soap_exchange(
            gateway,
            signer,
            path=PATH,
            raw=await request.body(),
            headers=request.headers,
            unwrap=lambda raw: raw,
            authenticate=lambda _call: _authenticate(gateway, request),
        )

    @app.post(
        lgsp.PATH,
        tags=["soap"],
        name="lgsp-dancu",
        response_class=Response,
        responses=_XML_ANSWER,
        summary="SOAP via a provincial LGSP: JSON-wrapped envelope (observed OpenCPS shape)",
        description=lgsp.DESCRIPTION,
        openapi_extra={"requestBody": {"content": {"application/json": {"schema": lgsp.SCHEMA}}}},
    )
    async def lgsp_dancu(request: Request) -> Response:
        wrapped = lgsp.LgspRequest(gateway, request.headers)
        return await soap_exchange(
            gateway,
            signer,
            path=lgsp.PATH,
            raw=await request.body(),
            headers=request.headers,
            unwrap=wrapped.unwrap,
            authenticate=wrapped.authenticate,
        )
