"""Webhooks of the change feed: admin routes, the deliverer in the lifespan, the reset part.

POST   /admin/webhooks                          register a subscription (201, Location)
GET    /admin/webhooks                          list them, with cursor and last attempt
GET    /admin/webhooks/{webhook_id}             one of them
DELETE /admin/webhooks/{webhook_id}             remove it and its delivery log (204)
GET    /admin/webhooks/{webhook_id}/deliveries  the attempts, newest first (?limit, ?event_id)

All need ``Authorization: Bearer <SIM06_GATEWAY_ADMIN_TOKEN>``. ``install`` also wraps the app's
lifespan so the deliverer (:mod:`.webhook_delivery`) runs while the app serves, and registers
the ``gateway.webhooks`` part of ``/__sim06`` snapshots and resets.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import replace
from typing import Annotated, Any, Literal

import orjson
from fastapi import Body, FastAPI, Path, Query, Request
from pydantic import BaseModel, Field
from starlette.responses import Response

from sim06.services.common.keys import KeyStore
from sim06.services.common.problems import ProblemError, openapi_responses
from sim06.services.common.settings import Settings
from sim06.services.gateway.admin import require_admin
from sim06.services.gateway.exchange import Gateway
from sim06.services.gateway.webhook_delivery import WebhookDeliverer, WebhookSigner
from sim06.services.gateway.webhooks import (
    ID_PATTERN,
    DuplicateWebhook,
    Subscription,
    WebhookSpec,
    WebhookStore,
    load_webhooks,
    spec_errors,
    subscription_of,
)
from sim06.services.registry.schemas import Problem
from sim06.services.testing.state import Part, parts_of

JSON = "application/json"


class Delivery(BaseModel):
    """One delivery attempt."""

    seq: int
    subscription: str
    cursor: str
    event_id: str = Field(description="The webhook-id sent (the same on every retry).")
    event_time: str = Field(description="Commit time of the event (the item's `time`).")
    attempt: int = Field(description="1 for the first attempt at this item, then 2, 3 ...")
    status: int | None = Field(
        default=None, description="The subscriber's HTTP status; null: no answer."
    )
    error: str | None = Field(
        default=None, description="Why no status came (timeout, connection refused)."
    )
    latency_ms: float
    time: str = Field(description="When the attempt started, RFC 3339 UTC.")


class Webhook(BaseModel):
    """A subscription as the admin API shows it."""

    id: str
    agency: str
    procedure: str
    purpose: str
    url: str
    description: str
    legal_basis: str
    after: str | None = None
    source: Literal["config", "admin"]
    created: str
    cursor: str | None = Field(
        default=None, description="Delivered up to this feed cursor; null: not started yet."
    )
    paused: str | None = Field(
        default=None, description="Why nothing is delivered now (grant revoked, host refused)."
    )
    last_attempt: Delivery | None = None


class WebhookList(BaseModel):
    count: int
    data: list[Webhook]


class DeliveryList(BaseModel):
    count: int
    data: list[Delivery]


_SPEC = {
    "id": "mai-tang-deaths", "agency": "mai-tang-ba-dinh", "procedure": "SIM06.XH.MAITANG",
    "purpose": "funeral-allowance", "url": "http://127.0.0.1:9100/hooks/sim06",
    "description": "Start the funeral allowance", "legal_basis": "Nghi dinh 20/2021/ND-CP",
}  # fmt: skip
_ATTEMPT = {
    "seq": 7, "subscription": "mai-tang-deaths", "cursor": "42",
    "event_id": "3f1c0d4b9a7e52c86d0e1f2a", "event_time": "2026-12-01T08:30:00.000000Z",
    "attempt": 1, "status": 204, "error": None, "latency_ms": 3.2,
    "time": "2026-12-01T08:30:00.120Z",
}  # fmt: skip
_WEBHOOK = {**_SPEC, "after": None, "source": "admin", "created": "2026-12-01T08:00:00.000Z",
            "cursor": "42", "paused": None, "last_attempt": _ATTEMPT}  # fmt: skip
_ID = Annotated[str, Path(pattern=ID_PATTERN, examples=["mai-tang-deaths"])]


def _ok(model: type[BaseModel], example: Any, description: str) -> dict[str, Any]:
    return {"model": model, "description": description,
            "content": {JSON: {"example": example}}}  # fmt: skip


def _problems(*codes: str) -> dict[int | str, dict[str, Any]]:
    return openapi_responses(Problem, "GATEWAY_ADMIN_UNAUTHORIZED", *codes)


def install(app: FastAPI, gateway: Gateway, keys: KeyStore, settings: Settings) -> WebhookDeliverer:
    """Add the routes, run the deliverer in the lifespan; the deliverer (``app.state.webhooks``).

    The webhooks file is checked here: a subscription the agencies cannot serve fails start-up."""
    allowed = settings.gateway_webhook_hosts
    path = settings.gateway_webhooks_file
    config = load_webhooks(path, gateway.agencies, allowed) if path is not None else []
    store = WebhookStore(
        settings.data_dir / "webhooks.db", config, keep=settings.gateway_webhook_log_size
    )
    deliverer = WebhookDeliverer(store, gateway, WebhookSigner(keys), settings)
    app.state.webhooks = deliverer
    _run_in_lifespan(app, deliverer)

    def restore(token: Any) -> None:
        store.restore(token)
        deliverer.sync()

    parts_of(app.state).add(Part("gateway.webhooks", store.snapshot, restore, store.initial))

    def view(sub: Subscription) -> dict[str, Any]:
        last = store.deliveries(sub.id, 1)
        return {**sub.public(), "paused": deliverer.paused(sub),
                "last_attempt": last[0] if last else None}  # fmt: skip

    def found(webhook_id: str) -> Subscription:
        sub = store.get(webhook_id)
        if sub is None:
            raise ProblemError(
                "GATEWAY_WEBHOOK_NOT_FOUND", f"No webhook has the id {webhook_id!r}."
            )
        return sub

    def reply(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
        return Response(orjson.dumps(data), status_code=status, media_type=JSON, headers=headers)

    @app.post(
        "/admin/webhooks",
        tags=["admin"],
        name="add-webhook",
        summary="Register a webhook of the change feed",
        status_code=201,
        responses={
            201: _ok(Webhook, {**_WEBHOOK, "last_attempt": None}, "The subscription."),
            **_problems("GATEWAY_WEBHOOK_INVALID", "GATEWAY_WEBHOOK_EXISTS"),
        },
    )
    async def add_webhook(
        request: Request,
        spec: Annotated[WebhookSpec, Body(openapi_examples={"funeral": {"value": _SPEC}})],
    ) -> Response:
        require_admin(settings, request)
        errors = spec_errors(spec, gateway.agencies, allowed)
        head = await deliverer.head()
        after = head if spec.after is None else int(spec.after)
        if after > head:
            reason = f"after {after} is past the newest cursor ({head})"
            errors.append({"pointer": "/after", "rule": "feed_position", "reason": reason})
        if errors:
            raise ProblemError(
                "GATEWAY_WEBHOOK_INVALID", f"{len(errors)} problem(s); see 'errors'.", errors=errors
            )
        webhook_id = spec.id or f"wh-{secrets.token_hex(6)}"
        sub = replace(subscription_of(spec, "admin", webhook_id), cursor=after,
                      cursor_event=await deliverer.key_at(after))  # fmt: skip
        try:
            store.add(sub)
        except DuplicateWebhook as exc:
            raise ProblemError("GATEWAY_WEBHOOK_EXISTS", str(exc)) from None
        deliverer.sync()
        return reply(view(sub), 201, {"Location": f"/admin/webhooks/{webhook_id}"})

    @app.get(
        "/admin/webhooks",
        tags=["admin"],
        name="list-webhooks",
        summary="List the webhooks of the change feed",
        responses={
            200: _ok(WebhookList, {"count": 1, "data": [_WEBHOOK]}, "The subscriptions."),
            **_problems(),
        },
    )
    async def list_webhooks(request: Request) -> Response:
        require_admin(settings, request)
        data = [view(sub) for sub in store.all()]
        return reply({"count": len(data), "data": data})

    @app.get(
        "/admin/webhooks/{webhook_id}",
        tags=["admin"],
        name="get-webhook",
        summary="One webhook of the change feed",
        responses={
            200: _ok(Webhook, _WEBHOOK, "The subscription."),
            **_problems("GATEWAY_WEBHOOK_NOT_FOUND"),
        },
    )
    async def get_webhook(request: Request, webhook_id: _ID) -> Response:
        require_admin(settings, request)
        return reply(view(found(webhook_id)))

    @app.delete(
        "/admin/webhooks/{webhook_id}",
        tags=["admin"],
        name="delete-webhook",
        summary="Remove a webhook and its delivery log",
        status_code=204,
        responses={204: {"description": "Removed."}, **_problems("GATEWAY_WEBHOOK_NOT_FOUND")},
    )
    async def delete_webhook(request: Request, webhook_id: _ID) -> Response:
        require_admin(settings, request)
        if not store.delete(webhook_id):
            found(webhook_id)  # raises the 404
        deliverer.sync()
        return Response(status_code=204)

    @app.get(
        "/admin/webhooks/{webhook_id}/deliveries",
        tags=["admin"],
        name="list-webhook-deliveries",
        summary="The delivery log of a webhook, newest attempt first",
        responses={
            200: _ok(DeliveryList, {"count": 1, "data": [_ATTEMPT]}, "The attempts."),
            **_problems("GATEWAY_WEBHOOK_NOT_FOUND"),
        },
    )
    async def list_deliveries(
        request: Request,
        webhook_id: _ID,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        event_id: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
    ) -> Response:
        require_admin(settings, request)
        found(webhook_id)
        data = store.deliveries(webhook_id, limit, event_id)
        return reply({"count": len(data), "data": data})

    return deliverer


def _run_in_lifespan(app: FastAPI, deliverer: WebhookDeliverer) -> None:
    """Start the deliverer once the app's own lifespan has started; stop it before that
    lifespan ends (the registry client and the audit log are still open)."""
    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: FastAPI) -> AsyncIterator[Any]:
        async with inner(application) as state:
            await deliverer.start()
            try:
                yield state
            finally:
                await deliverer.stop()

    app.router.lifespan_context = lifespan
