"""One exchange through the gateway: authenticate, authorise, forward, filter, sign, audit.

The checks run in this order, each with its stable code (contracts/errors.yaml):

    access token            401 GATEWAY_UNAUTHENTICATED (+ WWW-Authenticate)
    exchange headers        400 GATEWAY_MISSING_HEADER
    X-Road-Client = token   403 GATEWAY_CLIENT_MISMATCH
    quota                   429 GATEWAY_QUOTA_EXCEEDED (+ Retry-After)
    MaYeuCau unused         409 GATEWAY_REQUEST_REPLAYED (reads; a write's MaYeuCau is its
                            idempotency key: a retry answers the first result)
    procedure licensed      403 004
    officer permitted       403 005
    purpose + operation     403 GATEWAY_PURPOSE_NOT_ALLOWED
    requested fields        403 GATEWAY_FORBIDDEN_FIELD
    token scope             403 GATEWAY_INSUFFICIENT_SCOPE
    registry                its own problems, passed through (``source: registry``)
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sim06.services.audit import AuditEntry, AuditLog
from sim06.services.common.header_text import header_text
from sim06.services.common.metrics import note_agency
from sim06.services.common.problems import ProblemError
from sim06.services.gateway.agencies import Agency, AgencyDirectory
from sim06.services.gateway.oauth import AccessToken, TokenError, TokenService
from sim06.services.gateway.policy import OPERATIONS, WRITE_OPERATIONS, Grant
from sim06.services.gateway.quota import QuotaTracker
from sim06.services.gateway.registry_client import RegistryClient
from sim06.services.gateway.replay import ReplayCache

HEADERS = {
    "client": "x-road-client",
    "request_id": "x-mayeucau",
    "procedure": "x-madvc",
    "officer": "x-macanbo",
    "purpose": "x-purpose",
    "legal_basis": "x-legal-basis",
}
_ID = re.compile(r"^[A-Za-z0-9._:/-]{1,128}$")
_CLIENT, _REQUEST_ID, _PROCEDURE, _OFFICER, _PURPOSE, _LEGAL_BASIS = HEADERS.values()


@dataclass(slots=True)
class Context:
    """Who asks, for which procedure and purpose: what the audit record is made of."""

    client: str = ""
    request_id: str = ""
    procedure: str = ""
    officer: str = ""
    purpose: str = ""
    legal_basis: str = ""
    agency: Agency | None = None
    started: float = field(default_factory=time.perf_counter)


def context_from_headers(headers: Any) -> Context:
    """Read the X-Road-style headers (validated later, so a refusal is still audited)."""
    get = headers.get
    return Context(
        client=(get(_CLIENT) or "").strip()[:300],
        request_id=(get(_REQUEST_ID) or "").strip()[:300],
        procedure=(get(_PROCEDURE) or "").strip()[:300],
        officer=(get(_OFFICER) or "").strip()[:300],
        purpose=(get(_PURPOSE) or "").strip()[:300],
        # Vietnamese legal bases: raw UTF-8, percent-encoded or RFC 8187 (header_text).
        legal_basis=header_text(get(_LEGAL_BASIS))[:300],
    )


def _check_headers(ctx: Context) -> None:
    match = _ID.match
    if ctx.legal_basis and (
        match(ctx.client)
        and match(ctx.request_id)
        and match(ctx.procedure)
        and match(ctx.officer)
        and match(ctx.purpose)
    ):
        return  # every header present and well-formed: no error list to build
    errors = []
    for name in ("client", "request_id", "procedure", "officer", "purpose", "legal_basis"):
        value = getattr(ctx, name)
        header = HEADERS[name]
        if not value:
            errors.append({"parameter": header, "in": "header", "rule": "required",
                           "reason": f"{header} is required"})  # fmt: skip
        elif name != "legal_basis" and not match(value):
            errors.append({"parameter": header, "in": "header", "rule": "pattern",
                           "reason": f"{header} must match {_ID.pattern}"})  # fmt: skip
    raise ProblemError(
        "GATEWAY_MISSING_HEADER",
        "Every exchange names the client agency, request id (MaYeuCau), procedure (MaDVC), "
        "officer (MaCanBo), purpose and legal basis.",
        errors=errors,
    )


class Gateway:
    """The policy engine and its state, shared by the JSON and SOAP profiles."""

    def __init__(
        self,
        agencies: AgencyDirectory,
        tokens: TokenService,
        audit: AuditLog,
        registry: RegistryClient,
        *,
        request_id_ttl: float = 86_400.0,
    ) -> None:
        self.agencies = agencies
        self.tokens = tokens
        self.audit = audit
        self.registry = registry
        self.quota = QuotaTracker()
        self.request_ids = ReplayCache()
        self.request_id_ttl = request_id_ttl

    def authenticate(self, authorization: str | None) -> tuple[AccessToken, Agency]:
        """The token and agency of a ``Bearer`` header; :class:`TokenError` otherwise."""
        if not authorization or authorization[:7].lower() != "bearer ":
            raise TokenError("A Bearer access token from /oauth/token is required.")
        token = self.tokens.verify(authorization[7:].strip())
        agency = self.agencies.by_client(token.client_id)
        if agency is None:
            raise TokenError("The client of this token is no longer registered.")
        note_agency(agency.code)  # the requests metric's agency label
        return token, agency

    def authorize(
        self,
        ctx: Context,
        token: AccessToken,
        agency: Agency,
        operation: str,
        requested: frozenset[str] | None = None,
        *,
        check_headers: bool = True,
    ) -> Grant:
        """Apply every rule of the module docstring; the grant that filters the answer."""
        ctx.agency = agency
        if check_headers:
            _check_headers(ctx)
            if ctx.client != agency.code:
                raise ProblemError(
                    "GATEWAY_CLIENT_MISMATCH",
                    f"X-Road-Client {ctx.client} is not the agency of the token ({agency.code}).",
                )
        wait = self.quota.take(agency.code, agency.spec.quota_per_minute)
        if wait is not None:
            raise ProblemError(
                "GATEWAY_QUOTA_EXCEEDED",
                f"Quota of {agency.spec.quota_per_minute} requests per minute used; "
                f"retry in {wait} s.",
                headers={"Retry-After": str(wait)},
            )
        if operation not in WRITE_OPERATIONS and not self.request_ids.first_use(
            f"{agency.code}|{ctx.request_id}", self.request_id_ttl
        ):
            raise ProblemError(
                "GATEWAY_REQUEST_REPLAYED", f"MaYeuCau {ctx.request_id} was already used."
            )
        if ctx.procedure not in agency.procedures:
            raise ProblemError(
                "004", f"Procedure {ctx.procedure} is not licensed for agency {agency.code}."
            )
        permitted = agency.officers.get(ctx.officer)
        if permitted is None:
            raise ProblemError("005", f"Officer {ctx.officer} is unknown to agency {agency.code}.")
        if ctx.procedure not in permitted:
            raise ProblemError(
                "005", f"Officer {ctx.officer} may not run procedure {ctx.procedure}."
            )
        grant = agency.grants.get((ctx.procedure, ctx.purpose, operation))
        if grant is None:
            allowed = agency.purposes[ctx.procedure]
            detail = (
                f"Purpose {ctx.purpose!r} does not allow {operation} under {ctx.procedure}."
                if ctx.purpose in allowed
                else f"Purpose {ctx.purpose!r} is not licensed for {ctx.procedure}; "
                f"licensed: {list(allowed)}."
            )
            raise ProblemError("GATEWAY_PURPOSE_NOT_ALLOWED", detail)
        if requested is not None and not grant.allows(requested):
            assert grant.fields is not None
            raise ProblemError(
                "GATEWAY_FORBIDDEN_FIELD",
                f"Not granted for purpose {ctx.purpose!r}: {sorted(requested - grant.fields)}.",
            )
        if OPERATIONS[operation] not in token.scopes:
            raise ProblemError(
                "GATEWAY_INSUFFICIENT_SCOPE",
                f"The access token lacks the scope {OPERATIONS[operation]}.",
                headers={
                    "WWW-Authenticate": f'Bearer error="insufficient_scope", '
                    f'scope="{OPERATIONS[operation]}"'
                },
            )
        return grant

    async def forward(
        self, operation: str, pin: str | None, body: dict[str, Any] | None
    ) -> dict[str, Any]:
        """Call the registry operation."""
        if operation == "lookup":
            assert pin is not None
            return await self.registry.record(pin)
        if operation == "household":
            assert pin is not None
            return await self.registry.household(pin)
        if operation == "residence-confirmation":
            assert pin is not None
            return await self.registry.residence_confirmation(pin)
        assert body is not None
        if operation == "verify":
            return await self.registry.verify(body)
        return await self.registry.verify_batch(body)

    def record(
        self,
        ctx: Context,
        operation: str,
        *,
        pins: list[str],
        status: int,
        outcome: str,
        fields: list[str],
        request_hash: str,
        response_hash: str,
        digests: list[dict[str, str | None]] | None = None,
    ) -> Awaitable[None]:
        """Queue the audit record of this exchange; await the result (the commit when durable).

        Not a coroutine itself: the caller awaits the log's own append directly."""
        now = datetime.now(UTC)
        agency = ctx.agency
        hidden = agency.hidden_days.get((ctx.procedure, ctx.purpose), 0) if agency else 0
        return self.audit.append(
            AuditEntry(
                ts=now.isoformat(timespec="microseconds"),
                agency=agency.code if agency is not None else "",
                officer=ctx.officer,
                procedure=ctx.procedure,
                purpose=ctx.purpose,
                legal_basis=ctx.legal_basis,
                request_id=ctx.request_id,
                operation=operation,
                status=status,
                outcome=outcome,
                latency_ms=round((time.perf_counter() - ctx.started) * 1000, 3),
                request_hash=request_hash,
                response_hash=response_hash,
                pins=pins,
                fields=fields,
                hidden_until=(
                    (now + timedelta(days=hidden)).isoformat(timespec="microseconds")
                    if hidden and status < 400
                    else None
                ),
                digests=digests,
            )
        )
