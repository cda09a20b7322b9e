"""Citizen access log ("who looked at my data", after Estonia's Data Tracker).

``GET /v1/citizens/{pin}/access-log`` lists the successful exchanges that read a citizen's data:
when, which agency and officer, which procedure, purpose and legal basis, which fields. Records
of covert purposes (``hide_from_citizen_days``) appear only once that period has passed.

Authentication for now: the admin token, or a gateway access token with the scope
``citizen:access-log`` (an agency such as a citizen portal). The identity service will add the
citizen's own access token (only their own PIN).
"""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
from fastapi import FastAPI, Query, Request
from starlette.responses import Response

from mock_registry.ids import is_valid_pin
from services.common.problems import ProblemError
from services.common.settings import Settings
from services.gateway.admin import admin_authorized
from services.gateway.exchange import Gateway
from services.gateway.oauth import TokenError
from services.gateway.policy import ACCESS_LOG_SCOPE
from services.registry.service import invalid_pin


def _instant(value: str | None, name: str) -> str | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ProblemError(
            "VALIDATION_FAILED",
            f"{name} must be an ISO 8601 date or date-time.",
            errors=[{"parameter": name, "in": "query", "rule": "format", "reason": "ISO 8601"}],
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _authorize(gateway: Gateway, settings: Settings, request: Request) -> None:
    authorization = request.headers.get("authorization")
    if admin_authorized(settings, authorization):
        return
    try:
        token, _ = gateway.authenticate(authorization)
    except TokenError as exc:
        raise ProblemError(
            "GATEWAY_UNAUTHENTICATED",
            str(exc),
            headers={"WWW-Authenticate": exc.www_authenticate()},
        ) from None
    if ACCESS_LOG_SCOPE not in token.scopes:
        raise ProblemError(
            "GATEWAY_INSUFFICIENT_SCOPE", f"The access token lacks the scope {ACCESS_LOG_SCOPE}."
        )


def install(app: FastAPI, gateway: Gateway, settings: Settings) -> None:
    """Add the access-log route to ``app``."""

    @app.get(
        "/v1/citizens/{pin}/access-log",
        tags=["citizens"],
        name="access-log",
        summary="Who accessed this citizen's data, when and for what purpose",
    )
    async def access_log(
        request: Request,
        pin: str,
        since: str | None = Query(None, description="From (inclusive), ISO 8601."),
        until: str | None = Query(None, description="Until (exclusive), ISO 8601."),
        agency: str | None = Query(None, description="Only this agency code."),
        purpose: str | None = Query(None, description="Only this purpose."),
        limit: int = Query(1000, ge=1, le=10_000),
    ) -> Response:
        _authorize(gateway, settings, request)
        if not is_valid_pin(pin):
            raise invalid_pin(pin)
        now = datetime.now(UTC).isoformat(timespec="microseconds")
        rows = gateway.audit.accesses(
            pin,
            now=now,
            since=_instant(since, "since"),
            until=_instant(until, "until"),
            agency=agency,
            purpose=purpose,
            limit=limit,
        )
        for row in rows:
            known = gateway.agencies.by_code(row["agency"])
            row["agency_name"] = known.spec.name if known else None
            row["agency_name_vi"] = known.spec.name_vi if known else None
        body = {"pin": pin, "count": len(rows), "accesses": rows}
        return Response(orjson.dumps(body), media_type="application/json")
