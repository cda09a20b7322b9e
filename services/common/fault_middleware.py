"""The ASGI middleware that applies latency profiles and faults, and its admin API.

Faults as a production client sees them (on a live uvicorn server):

    timeout    no answer until the client gives up (held up to hold_seconds, then 504)
    reset      TCP RST: SO_LINGER=0 on the socket, then abort (httpx.RemoteProtocolError/
               ReadError "connection reset")
    truncated  Content-Length promises the whole body, half is sent, the connection closes
    http_503   503 problem+json SIM_FAULT_UNAVAILABLE with Retry-After (also a scheduled
               outage, whose Retry-After is the time left in its window)
    http_429   429 SIM_FAULT_RATE_LIMITED with Retry-After; http_500 SIM_FAULT_INTERNAL;
               http_502 SIM_FAULT_BAD_GATEWAY (problem+json, RFC 9457)
    slow_body  the real answer, sent in small chunks with pauses (slow_body_ms in all)
    malformed  a 200 whose JSON body is cut and corrupted (Content-Length correct), so the
               client's parser fails

``reset`` and ``truncated`` need the connection's transport, which uvicorn's protocol objects
expose on their ``receive`` method; without one (an in-process ASGI client) ``reset`` raises
``ConnectionResetError`` and ``truncated`` sends a short body.

Admin API (every service): ``GET /__sim06/faults`` shows the state, ``PUT /__sim06/faults``
changes it (JSON :class:`FaultUpdate`). Outside the embedded demo it needs
``Authorization: Bearer <SIM06_GATEWAY_ADMIN_TOKEN>``. With ``SIM06_REDIS_URL`` the state is
shared by every replica (:class:`services.common.redis_state.RedisFaultState`): a PUT to one
is in force on all within half a second (503 NOT_READY if Redis does not answer).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import socket
import struct
import time
from typing import Any

import orjson
from fastapi import FastAPI
from pydantic import ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.services.common.faults import (
    FAULT_HEADER,
    PROFILE_HEADER,
    Decision,
    Exchange,
    FaultController,
    FaultUpdate,
    InvalidOverride,
    SharedFaultState,
    SharedStateUnavailable,
)
from sim06.services.common.problems import PROBLEM_MEDIA_TYPE, problem_body
from sim06.services.common.settings import Settings

ADMIN_PATH = "/__sim06/faults"
# fault kind -> (catalogue code, sends Retry-After)
STATUS_FAULTS = {
    "http_503": ("SIM_FAULT_UNAVAILABLE", True),
    "http_429": ("SIM_FAULT_RATE_LIMITED", True),
    "http_500": ("SIM_FAULT_INTERNAL", False),
    "http_502": ("SIM_FAULT_BAD_GATEWAY", False),
}
SLOW_CHUNK = 64  # bytes per piece of a slow body
SLOW_PIECES = 20  # at most this many pauses, whatever the body's size
EXEMPT = ("/__sim06/", "/healthz", "/readyz", "/metrics")  # a scrape sees no injected fault


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


_OVERRIDES = (PROFILE_HEADER.encode(), FAULT_HEADER.encode())


def _overridden(scope: Scope) -> bool:
    """Whether the request asks for its own latency profile or fault (one pass over headers)."""
    return any(key in _OVERRIDES for key, _ in scope.get("headers", ()))


async def _send_json(
    send: Send, status: int, body: Any, media: str = "application/json", **headers: str
) -> None:
    raw = orjson.dumps(body)
    items = [(b"content-type", media.encode()), (b"content-length", str(len(raw)).encode())]
    items += [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()]
    await send({"type": "http.response.start", "status": status, "headers": items})
    await send({"type": "http.response.body", "body": raw})


async def _problem(send: Send, code: str, detail: str, path: str, **headers: str) -> int:
    body = problem_body(code, detail, instance=path, extra={"source": "sim06-faults"})
    await _send_json(send, body["status"], body, PROBLEM_MEDIA_TYPE, **headers)
    return int(body["status"])


def _transport(receive: Receive) -> Any:
    """uvicorn's transport of this connection (its protocol cycle's ``receive`` is bound)."""
    owner = getattr(receive, "__self__", None)
    return getattr(owner, "transport", None)


async def _wait_disconnect(receive: Receive, limit: float) -> bool:
    """True once the client has gone away, False after ``limit`` seconds."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(limit):
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return True
    return False


def reset_connection(receive: Receive) -> bool:
    """Close the connection with a TCP RST; False if no transport is reachable."""
    transport = _transport(receive)
    if transport is None:
        return False
    sock = transport.get_extra_info("socket")
    if sock is not None:
        # l_onoff=1, l_linger=0: close() discards the send buffer and sends RST, not FIN.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
    return True


class FaultMiddleware:
    """Delays, then answers, fails or passes each request as the controller decides."""

    def __init__(
        self, app: ASGIApp, controller: FaultController, service: str, settings: Settings
    ) -> None:
        self.app = app
        self.controller = controller
        self.service = service
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path == ADMIN_PATH:
            await self._admin(scope, receive, send)
            return
        if path.startswith(EXEMPT):
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        controller = self.controller
        if controller.quiet(self.service) and not _overridden(scope):
            # Nothing to delay or inject whatever the path or client (the usual case): skip the
            # draw and the scope matching, still record the exchange for the console.
            decision = Decision(controller.state.profile, 0.0, None)
            status = await self._apply(decision, scope, receive, send)
            self._record(scope, status, started, decision)
            return
        try:
            decision = self.controller.decide(
                self.service, _header(scope, PROFILE_HEADER.encode()),
                _header(scope, FAULT_HEADER.encode()), path, _header(scope, b"x-road-client"),
            )  # fmt: skip
        except InvalidOverride as exc:
            status = await _problem(send, "SIM_FAULT_INVALID", str(exc), path)
            self._record(scope, status, started, None)
            return
        if decision.delay_ms > 0:
            await asyncio.sleep(decision.delay_ms / 1000)
        status = await self._apply(decision, scope, receive, send)
        self._record(scope, status, started, decision)

    def _record(self, scope: Scope, status: int, started: float, d: Decision | None) -> None:
        self.controller.record(
            Exchange(
                at=time.time(), service=self.service, method=scope["method"], path=scope["path"],
                status=status, ms=(time.perf_counter() - started) * 1000,
                profile=d.profile if d else "-", fault=d.fault if d else None,
            )
        )  # fmt: skip

    async def _apply(self, d: Decision, scope: Scope, receive: Receive, send: Send) -> int:
        state = self.controller.state
        path = scope["path"]
        if d.fault in STATUS_FAULTS:
            code, retry = STATUS_FAULTS[d.fault]
            what = "scheduled outage" if d.retry_after is not None else f"injected fault {d.fault}"
            headers = {"retry_after": str(d.retry_after or state.retry_after)} if retry else {}
            return await _problem(send, code, f"{what} ({self.service})", path, **headers)
        if d.fault in ("slow_body", "malformed"):
            return await self._rewritten(d.fault, scope, receive, send)
        if d.fault == "timeout":
            if await _wait_disconnect(receive, state.hold_seconds):
                return 499  # the client gave up, as intended
            return await _problem(
                send, "SIM_FAULT_TIMEOUT", f"held {state.hold_seconds:g} s ({self.service})", path
            )
        if d.fault == "reset":
            if not reset_connection(receive):
                raise ConnectionResetError(f"injected fault reset ({self.service})")
            await _wait_disconnect(receive, 1.0)  # let uvicorn see the close before we return
            return 0
        if d.fault == "truncated":
            return await self._truncated(scope, receive, send)
        status = 0

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, tracking_send)
        return status

    async def _captured(self, scope: Scope, receive: Receive) -> tuple[Message, bytes]:
        """The app's answer: its start message and whole body."""
        start: Message = {}
        chunks: list[bytes] = []

        async def capture(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, capture)
        return start, b"".join(chunks)

    async def _rewritten(self, kind: str, scope: Scope, receive: Receive, send: Send) -> int:
        start, body = await self._captured(scope, receive)
        status = int(start.get("status", 200))
        if kind == "malformed":
            # Any prefix of JSON cut mid-way, followed by "<", is invalid JSON: the parser fails.
            body, status = body[: len(body) // 2] + b"<!-- upstream error -->", 200
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        if kind == "malformed" or not body:
            await send({"type": "http.response.body", "body": body})
            return status
        pieces = [body[i : i + SLOW_CHUNK] for i in range(0, len(body), SLOW_CHUNK)]
        pieces = pieces[: SLOW_PIECES - 1] + [b"".join(pieces[SLOW_PIECES - 1 :])]
        pause = self.controller.state.slow_body_ms / 1000 / len(pieces)
        for i, piece in enumerate(pieces):
            await asyncio.sleep(pause)
            last = i == len(pieces) - 1
            await send({"type": "http.response.body", "body": piece, "more_body": not last})
        return status

    async def _truncated(self, scope: Scope, receive: Receive, send: Send) -> int:
        start, body = await self._captured(scope, receive)
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(max(len(body), 2)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body[: len(body) // 2],
                    "more_body": True})  # fmt: skip
        transport = _transport(receive)
        if transport is not None:
            transport.close()  # FIN before the promised bytes: an incomplete body
            await _wait_disconnect(receive, 1.0)
        else:
            await send({"type": "http.response.body", "body": b""})
        return int(start.get("status", 0))

    def _authorized(self, scope: Scope) -> bool:
        if self.settings.gateway_embedded:
            return True
        given = _header(scope, b"authorization") or ""
        expected = "Bearer " + self.settings.gateway_admin_token
        return hmac.compare_digest(given.encode(), expected.encode())

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        method = scope["method"]
        path = scope["path"]
        if not self._authorized(scope):
            await _problem(send, "GATEWAY_ADMIN_UNAUTHORIZED", "Send the admin token.", path)
            return
        if method == "GET":
            await _send_json(send, 200, self.controller.snapshot())
            return
        if method != "PUT":
            await _problem(send, "METHOD_NOT_ALLOWED", "Use GET or PUT.", path, allow="GET, PUT")
            return
        raw = b""
        while True:
            message = await receive()
            raw += message.get("body", b"")
            if len(raw) > 65_536:
                await _problem(send, "PAYLOAD_TOO_LARGE", "The body is too large.", path)
                return
            if not message.get("more_body"):
                break
        try:
            change = FaultUpdate.model_validate_json(raw or b"{}")
            snapshot = self.controller.update(change)
        except ValidationError as exc:
            errors = [{"pointer": "/" + "/".join(map(str, e["loc"])), "rule": e["type"],
                       "reason": e["msg"]} for e in exc.errors()]  # fmt: skip
            body = problem_body("VALIDATION_FAILED", "Invalid fault settings.", instance=path,
                                errors=errors)  # fmt: skip
            await _send_json(send, 422, body, PROBLEM_MEDIA_TYPE)
            return
        except InvalidOverride as exc:
            await _problem(send, "SIM_FAULT_INVALID", str(exc), path)
            return
        except SharedStateUnavailable as exc:
            await _problem(send, "NOT_READY", f"The shared fault state is unavailable: {exc}",
                           path, retry_after="1")  # fmt: skip
            return
        await _send_json(send, 200, snapshot)


def install_faults(
    app: FastAPI, settings: Settings, service: str, controller: FaultController | None = None
) -> FaultController:
    """Wrap ``app`` with the fault middleware (outermost); returns the controller it uses.

    Without a ``controller`` and with ``settings.redis_url``, the new controller shares its
    state with every replica through Redis (``<redis_prefix>faults:state``).
    """
    ctl = controller or FaultController.from_settings(settings, shared_state(settings))
    app.add_middleware(FaultMiddleware, controller=ctl, service=service, settings=settings)
    app.state.faults = ctl
    return ctl


def shared_state(settings: Settings) -> SharedFaultState | None:
    """The Redis fault state of ``settings.redis_url``, or None (this process only)."""
    if not settings.redis_url:
        return None
    from sim06.services.common.redis_state import RedisFaultState

    return RedisFaultState(settings.redis_url, prefix=settings.redis_prefix)


__all__ = ["ADMIN_PATH", "FaultMiddleware", "install_faults", "reset_connection", "shared_state"]
