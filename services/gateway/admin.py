"""Admin API: register and list agencies (``Authorization: Bearer <admin token>``).

Agencies added here live in memory until the gateway restarts; the configured file is the
durable source. Secrets are never listed back.
"""

from __future__ import annotations

import hmac

import orjson
from fastapi import FastAPI, Request
from starlette.responses import Response

from sim06.services.common.problems import ProblemError
from sim06.services.common.settings import Settings
from sim06.services.gateway.agencies import AgencySpec, DuplicateAgency
from sim06.services.gateway.exchange import Gateway


def admin_authorized(settings: Settings, authorization: str | None) -> bool:
    """Constant-time check of ``Authorization: Bearer <admin token>``."""
    if not authorization or authorization[:7].lower() != "bearer ":
        return False
    return hmac.compare_digest(
        authorization[7:].strip().encode(), settings.gateway_admin_token.encode()
    )


def require_admin(settings: Settings, request: Request) -> None:
    if not admin_authorized(settings, request.headers.get("authorization")):
        raise ProblemError(
            "GATEWAY_ADMIN_UNAUTHORIZED",
            "Send 'Authorization: Bearer <SIM06_GATEWAY_ADMIN_TOKEN>'.",
            headers={"WWW-Authenticate": 'Bearer realm="sim06-gateway-admin"'},
        )


def install(app: FastAPI, gateway: Gateway, settings: Settings) -> None:
    """Add ``/admin/...`` routes to ``app``."""

    @app.get("/admin/agencies", tags=["admin"], name="list-agencies", summary="List agencies")
    async def list_agencies(request: Request) -> Response:
        require_admin(settings, request)
        agencies = [a.spec.public() for a in gateway.agencies.all()]
        return Response(
            orjson.dumps({"count": len(agencies), "data": agencies}), media_type="application/json"
        )

    @app.post(
        "/admin/agencies",
        tags=["admin"],
        name="add-agency",
        summary="Register an agency",
        status_code=201,
    )
    async def add_agency(request: Request, spec: AgencySpec) -> Response:
        require_admin(settings, request)
        try:
            agency = gateway.agencies.add(spec)
        except DuplicateAgency as exc:
            raise ProblemError("GATEWAY_AGENCY_EXISTS", str(exc)) from None
        return Response(
            orjson.dumps(agency.spec.public()), status_code=201, media_type="application/json"
        )

    @app.get(
        "/admin/audit/verify",
        tags=["admin"],
        name="verify-audit",
        summary="Verify the audit log against its signed tree heads",
    )
    async def verify_audit(request: Request) -> Response:
        require_admin(settings, request)
        report = gateway.audit.verify()  # SQLite or PostgreSQL; commits pending records first
        return Response(
            orjson.dumps(
                {"ok": report.ok, "records": report.records, "index": report.index,
                 "problem": report.problem, "anchored": report.anchored, "heads": report.heads}
            ),
            media_type="application/json",
        )  # fmt: skip
