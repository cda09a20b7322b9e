"""The registry's write routes and change feed (``/v1/births`` ..., ``/v1/changes``).

POST /v1/births              đăng ký khai sinh: issues the child's PIN        ┐ Authorization:
POST /v1/deaths              đăng ký khai tử                                  │ Bearer <write token>
POST /v1/residence-changes   thường trú, tạm trú, tạm vắng                    │ Idempotency-Key
POST /v1/marriages           đăng ký kết hôn                                  │ (a retry answers
POST /v1/divorces            ghi chú ly hôn                                   │ the first result)
POST /v1/corrections         cải chính hộ tịch (may cancel and re-issue the PIN) ┘
GET  /v1/changes             the change feed: ?after=<cursor> | ?since=<RFC 3339>, &limit

The write token is the gateway's (agencies write through the gateway, which checks their write
purpose); with it, ``X-Sim06-Actor`` / ``X-Sim06-Officer`` name the agency and officer for the
feed and the record.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import Depends, FastAPI, Header, Query, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from starlette.responses import Response

from sim06.services.common.problems import ProblemError
from sim06.services.registry import event_schemas
from sim06.services.registry.credentials import authorized
from sim06.services.registry.events import KINDS, REQUESTS, EventService

JSON = "application/json"

SUMMARIES = {
    "births": "Register a birth (đăng ký khai sinh): the population database issues the PIN",
    "deaths": "Register a death (đăng ký khai tử): residence deleted, card revoked, VNeID locked",
    "residence-changes": "Register or delete a permanent or temporary residence, or an absence",
    "marriages": "Register a marriage (đăng ký kết hôn): marital status and spouse on both",
    "divorces": "Record a divorce (ghi chú ly hôn) from a court's final judgment",
    "corrections": "Correct civil-status data; a new birth year or sex re-issues the PIN",
}
# The refusals each event may answer (contracts/errors.yaml), besides the write's own.
EVENT_CODES: dict[str, tuple[str, ...]] = {
    "births": ("EVENT_DATE_IN_FUTURE", "EVENT_UNKNOWN_COMMUNE", "EVENT_PARENT_NOT_FOUND",
               "EVENT_PARENT_INVALID", "EVENT_PARENT_DECEASED", "EVENT_RESIDENCE_INVALID",
               "BIRTH_ALREADY_REGISTERED", "PIN_SERIALS_EXHAUSTED"),
    "deaths": ("CITIZEN_NOT_FOUND", "PIN_CANCELLED", "EVENT_CITIZEN_DECEASED",
               "EVENT_DATE_IN_FUTURE", "EVENT_DEATH_BEFORE_BIRTH", "EVENT_UNKNOWN_COMMUNE"),
    "residence-changes": ("CITIZEN_NOT_FOUND", "PIN_CANCELLED", "EVENT_CITIZEN_DECEASED",
                          "EVENT_DATE_IN_FUTURE", "EVENT_UNKNOWN_COMMUNE",
                          "EVENT_RESIDENCE_INVALID"),
    "marriages": ("CITIZEN_NOT_FOUND", "PIN_CANCELLED", "EVENT_CITIZEN_DECEASED",
                  "EVENT_DATE_IN_FUTURE", "EVENT_UNKNOWN_COMMUNE", "MARRIAGE_NOT_ALLOWED"),
    "divorces": ("CITIZEN_NOT_FOUND", "PIN_CANCELLED", "EVENT_CITIZEN_DECEASED",
                 "EVENT_DATE_IN_FUTURE", "DIVORCE_NOT_MARRIED"),
    "corrections": ("CITIZEN_NOT_FOUND", "PIN_CANCELLED", "EVENT_CITIZEN_DECEASED",
                    "EVENT_DATE_IN_FUTURE", "CORRECTION_NO_CHANGE", "PIN_SERIALS_EXHAUSTED"),
}  # fmt: skip
WRITE_CODES = ("REGISTRY_WRITE_UNAUTHORIZED", "IDEMPOTENCY_KEY_REQUIRED", "IDEMPOTENCY_KEY_REUSED")
WRITE_BEARER = HTTPBearer(
    auto_error=False,
    scheme_name="registryWriteToken",
    description="The registry's write credential (DATA_DIR/keys/registry-write.token), held by "
    "the gateway.",
)
_WRITE_CREDENTIALS = Security(WRITE_BEARER)
RFC3339 = (  # an RFC 3339 date-time, offset required
    r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
    r"([Zz]|[+-][0-9]{2}:[0-9]{2})$"
)
_SINCE = Query(
    default=None,
    pattern=RFC3339,
    json_schema_extra={"format": "date-time"},
    description="RFC 3339 date-time: the changes committed from then on (ignored with after).",
)


def install_event_routes(app: FastAPI, events: EventService, token: str, errors: Any) -> None:
    """Add the write routes and the feed to the registry ``app``.

    ``errors(*codes)`` is the registry's OpenAPI problem declaration; ``token`` the write
    credential."""

    async def require_write(
        credentials: HTTPAuthorizationCredentials | None = _WRITE_CREDENTIALS,
    ) -> None:
        # A dependency runs before the body is validated: no write token, no other answer.
        given = f"Bearer {credentials.credentials}" if credentials is not None else None
        if not authorized(given, token):
            raise ProblemError(
                "REGISTRY_WRITE_UNAUTHORIZED",
                "Civil-status events are written through the gateway, which holds the registry's "
                "write credential.",
                headers={"WWW-Authenticate": 'Bearer realm="sim06-registry"'},
            )

    for kind in KINDS:
        app.add_api_route(
            f"/v1/{kind}",
            _endpoint(events, kind, REQUESTS[kind]),
            methods=["POST"],
            name=kind,
            tags=["events"],
            summary=SUMMARIES[kind],
            status_code=201,
            dependencies=[Depends(require_write)],
            response_model=event_schemas.EventResult,
            responses={
                200: {
                    "model": event_schemas.EventResult,
                    "description": "A retry with the same Idempotency-Key: the first answer "
                    "(header Idempotent-Replayed: true).",
                },
                **errors(*WRITE_CODES, *EVENT_CODES[kind]),
            },
        )

    most = events.settings.registry_feed_limit

    @app.get(
        "/v1/changes",
        tags=["events"],
        name="changes",
        summary="The change feed: every event in commit order, gap-free, resumable",
        response_model=event_schemas.FeedPage,
        responses=errors("FEED_INVALID_CURSOR", "FEED_CURSOR_AHEAD"),
    )
    async def changes(
        after: str | None = Query(
            default=None,
            pattern=r"^[0-9]{1,18}$",
            description="A cursor from the feed (next_cursor); 0 or absent: from the start.",
        ),
        since: str | None = _SINCE,
        limit: int | None = Query(default=None, ge=1, le=most, description="Items per page."),
    ) -> Response:
        return Response(events.feed(after, since, limit), media_type=JSON)


def _endpoint(events: EventService, kind: str, model: type[BaseModel]) -> Any:
    """The route handler of one event kind, its body typed by ``model`` for FastAPI."""

    async def endpoint(
        request: Request,
        body: Any,
        idempotency_key: str = Header(
            alias="Idempotency-Key",
            description="The request id: a retry with the same key answers the first result.",
            min_length=1,
            max_length=300,
        ),
    ) -> Response:
        headers = request.headers
        committed = await events.submit(
            kind,
            body,
            idempotency_key.strip(),
            actor=(headers.get("x-sim06-actor") or "")[:64],
            officer=(headers.get("x-sim06-officer") or "")[:64],
        )
        out = {"Idempotent-Replayed": "true"} if committed.replayed else {}
        return Response(
            committed.body,
            status_code=200 if committed.replayed else committed.status,
            media_type=JSON,
            headers=out,
        )

    signature = inspect.signature(endpoint)
    params = [
        p.replace(annotation=model) if p.name == "body" else p
        for p in signature.parameters.values()
    ]
    endpoint.__signature__ = signature.replace(parameters=params)  # type: ignore[attr-defined]
    endpoint.__name__ = f"register_{kind.replace('-', '_')}"
    return endpoint
