"""``install_testing_tools(app, settings)``: snapshot/reset and expectations on any sim06 app.

Admin API (kept out of the published contracts; outside the embedded demo it needs
``Authorization: Bearer <SIM06_GATEWAY_ADMIN_TOKEN>``, like ``/__sim06/faults``):

    POST   /__sim06/snapshot      save the mutable state as the restore point ({"parts": [...]});
                                  {"name": "..."} saves a named point besides it (scenarios)
    POST   /__sim06/reset         restore it (the state at the first request if none was saved;
                                  {"to": "startup"} forces that; {"parts": [...]} restores some;
                                  {"name": "..."} restores a named point, 404 if never saved)
    GET    /__sim06/state         the parts this service can save
    PUT    /__sim06/expectations  add an expectation (see expectations.py)
    GET    /__sim06/expectations  list them with their hit counts
    DELETE /__sim06/expectations  remove them all

A pure ASGI middleware: with no expectation stored, a request costs one prefix test and one
truth test, and no body is ever read.
"""

from __future__ import annotations

import base64
import hmac
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.services.common.problems import PROBLEM_MEDIA_TYPE, problem_body
from sim06.services.common.settings import Settings
from sim06.services.testing.expectations import (
    Expectation,
    ExpectationIn,
    ExpectationStore,
    Operation,
    match_operation,
    resolve_pin,
)
from sim06.services.testing.state import StateParts, discover_parts, register_part

__all__ = ["TestingMiddleware", "install_testing_tools"]

PREFIX = "/__sim06/"
ADMIN_PATHS = frozenset(
    {"/__sim06/snapshot", "/__sim06/reset", "/__sim06/state", "/__sim06/expectations"}
)
_ADMIN_MAX = 65_536


class StateRequest(BaseModel):
    """Body of snapshot and reset (optional)."""

    model_config = ConfigDict(extra="forbid")

    parts: list[str] | None = Field(default=None, max_length=64)
    to: str = Field(default="snapshot", pattern="^(snapshot|startup)$")
    name: str | None = Field(default=None, pattern=r"^[A-Za-z0-9._-]{1,64}$")


async def _json(send: Send, status: int, body: Any, media: str = "application/json") -> None:
    raw = orjson.dumps(body) if body is not None else b""
    headers = [(b"content-length", str(len(raw)).encode())]
    if body is not None:
        headers.append((b"content-type", media.encode()))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": raw})


async def _problem(send: Send, code: str, detail: str, path: str, **extra: Any) -> None:
    body = problem_body(code, detail, instance=path, extra=extra or None)
    await _json(send, body["status"], body, PROBLEM_MEDIA_TYPE)


async def _read(receive: Receive, limit: int) -> bytes | None:
    """The whole request body, or None past ``limit`` bytes."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands ``body`` over once, then the real channel (disconnects)."""
    sent = False

    async def again() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return again


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return ""


class TestingMiddleware:
    """Serves the admin API and applies expectations; otherwise passes requests through."""

    __test__ = False  # not a pytest test class, whatever its name says

    def __init__(self, app: ASGIApp, owner: FastAPI, settings: Settings) -> None:
        self.app = app
        self.owner = owner
        self.settings = settings
        self.expectations: ExpectationStore = owner.state.sim06_expectations
        self.parts: StateParts | None = None

    def _parts(self) -> StateParts:
        # Found at the first request: ``sim06 up`` installs the fault controller after
        # create_app, so the startup state is taken once everything is in place.
        if self.parts is None:
            self.parts = discover_parts(self.owner.state)
            self.parts.startup = self.parts.capture_startup()
        return self.parts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.parts is None:
            self._parts()
        path: str = scope["path"]
        if path.startswith(PREFIX) and path in ADMIN_PATHS:
            await self._admin(scope, receive, send)
            return
        if not self.expectations:
            await self.app(scope, receive, send)
            return
        await self._expect(scope, receive, send)

    # --- expectations -------------------------------------------------------------------

    async def _expect(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = match_operation(scope["method"], scope["path"])
        if found is None or not self.expectations.wants(found[0].id):
            await self.app(scope, receive, send)
            return
        op, pin = found
        body: bytes | None = None
        if pin is None:
            body = await _read(receive, self.settings.max_body_bytes)
            if body is None:  # too large: let the service refuse it as it always does
                await self.app(scope, receive, send)
                return
            receive = _replay(body, receive)
            pin = _pin_in(op, scope, body)
        expectation = self.expectations.take(op.id, pin) if pin else None
        if expectation is None:
            await self.app(scope, receive, send)
            return
        await self._apply(expectation, op, body, scope, receive, send)

    async def _apply(
        self, e: Expectation, op: Operation, body: bytes | None,
        scope: Scope, receive: Receive, send: Send,
    ) -> None:  # fmt: skip
        outcome = e.outcome
        path = scope["path"]
        if outcome.code is not None:
            detail = outcome.detail or f"forced by sim06 expectation {e.id}"
            problem = problem_body(outcome.code, detail, instance=path,
                                   extra={"source": "sim06-expectation"})  # fmt: skip
            raw = orjson.dumps(problem)
            headers = [(b"content-type", PROBLEM_MEDIA_TYPE.encode()),
                       (b"content-length", str(len(raw)).encode())]  # fmt: skip
            if problem["status"] in (429, 503):
                headers.append((b"retry-after", b"1"))
            await send({"type": "http.response.start", "status": problem["status"],
                        "headers": headers})  # fmt: skip
            await send({"type": "http.response.body", "body": raw})
        elif outcome.fault is not None:
            await self._fault(outcome.fault, scope, receive, send)
        elif outcome.verdict is not None and op.id == "chip-verify":
            tampered = _tamper_chip(body or b"")
            await self.app(scope, _replay(tampered, receive), send)
        elif outcome.verdict is not None:
            await self.app(scope, receive, _rewrite(send, lambda d: _verdict(d, outcome.verdict)))
        elif outcome.oauth_error is not None:
            error = outcome.oauth_error
            await self.app(scope, receive, _redirect_error(send, error, self._consume_code))

    async def _fault(self, kind: str, scope: Scope, receive: Receive, send: Send) -> None:
        from sim06.services.common.fault_middleware import FaultMiddleware
        from sim06.services.common.faults import Decision, FaultController

        controller = getattr(self.owner.state, "faults", None)
        if controller is None:
            controller = FaultController.from_settings(self.settings)
        injector = FaultMiddleware(self.app, controller, "expectation", self.settings)
        await injector._apply(Decision("expectation", 0.0, kind), scope, receive, send)

    def _consume_code(self, code: str) -> None:
        provider = getattr(self.owner.state, "provider", None)
        if provider is not None:
            provider.state.take(f"code:{code}")  # the RP never saw it: nobody may redeem it

    # --- admin API ----------------------------------------------------------------------

    def _authorized(self, scope: Scope) -> bool:
        if self.settings.gateway_embedded:
            return True
        given = _header(scope, b"authorization")
        expected = "Bearer " + self.settings.gateway_admin_token
        return hmac.compare_digest(given.encode(), expected.encode())

    async def _admin(self, scope: Scope, receive: Receive, send: Send) -> None:
        path, method = scope["path"], scope["method"]
        if not self._authorized(scope):
            await _problem(send, "GATEWAY_ADMIN_UNAUTHORIZED", "Send the admin token.", path)
            return
        allowed = {
            "/__sim06/snapshot": "POST", "/__sim06/reset": "POST", "/__sim06/state": "GET",
            "/__sim06/expectations": "GET, PUT, DELETE",
        }[path]  # fmt: skip
        if method not in allowed.split(", "):
            await _problem(send, "METHOD_NOT_ALLOWED", f"Use {allowed}.", path)
            return
        raw = await _read(receive, _ADMIN_MAX) if method in ("POST", "PUT") else b""
        if raw is None:
            await _problem(send, "PAYLOAD_TOO_LARGE", "The body is too large.", path)
            return
        try:
            await self._route(path, method, raw, send)
        except ValidationError as exc:
            errors = [{"pointer": "/" + "/".join(map(str, err["loc"])), "rule": err["type"],
                       "reason": err["msg"]} for err in exc.errors()]  # fmt: skip
            body = problem_body("VALIDATION_FAILED", "Invalid request.", instance=path,
                                errors=errors)  # fmt: skip
            await _json(send, 422, body, PROBLEM_MEDIA_TYPE)
        except KeyError as exc:
            await _problem(send, "VALIDATION_FAILED", str(exc.args[0]), path)

    async def _route(self, path: str, method: str, raw: bytes, send: Send) -> None:
        service = self.owner.title
        parts = self._parts()
        if path == "/__sim06/expectations":
            if method == "GET":
                items = [e.document() for e in self.expectations.items]
                await _json(send, 200, {"service": service, "count": len(items),
                                        "expectations": items})  # fmt: skip
            elif method == "DELETE":
                await _json(send, 200, {"cleared": self.expectations.clear()})
            else:
                added = self.expectations.add(ExpectationIn.model_validate_json(raw or b"{}"))
                await _json(send, 201, added.document())
            return
        if path == "/__sim06/state":
            await _json(send, 200, {"service": service, "parts": sorted(parts.parts),
                                    "saved": parts.saved is not None})  # fmt: skip
            return
        request = StateRequest.model_validate_json(raw or b"{}")
        if path == "/__sim06/snapshot":
            tokens = parts.capture(request.parts)
            if request.name is not None:
                parts.named[request.name] = tokens
                await _json(send, 200, {"service": service, "saved": sorted(tokens),
                                        "name": request.name})  # fmt: skip
                return
            parts.saved = {**(parts.saved or {}), **tokens}
            await _json(send, 200, {"service": service, "saved": sorted(tokens)})
            return
        if request.name is not None:
            named = parts.named.get(request.name)
            if named is None:
                await _problem(send, "SNAPSHOT_NOT_FOUND",
                               f"No snapshot named {request.name!r} was saved.", path)  # fmt: skip
                return
            restored = parts.restore(named, request.parts)
            await _json(send, 200, {"service": service, "restored": restored,
                                    "to": request.name})  # fmt: skip
            return
        point = parts.saved if request.to == "snapshot" and parts.saved else parts.startup
        restored = parts.restore(point or {}, request.parts)
        to = "snapshot" if point is parts.saved and parts.saved else "startup"
        await _json(send, 200, {"service": service, "restored": restored, "to": to})


def _pin_in(op: Operation, scope: Scope, body: bytes) -> str | None:
    if op.pin == "login_hint":
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if scope["method"] == "POST":
            query.update(parse_qsl(body.decode("utf-8", "replace")))
        hint = query.get("login_hint")
        return resolve_pin(hint) if hint else None
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = data.get(op.body_field) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def _tamper_chip(body: bytes) -> bytes:
    """The chip files with one bit of DG2 (else DG13) flipped: its SOD hash no longer holds."""
    try:
        data = orjson.loads(body)
        name = "dg2Data" if data.get("dg2Data") else "dg13Data"
        raw = bytearray(base64.b64decode(data[name]))
        raw[-1] ^= 0x01  # the last byte is content (image or text), never a TLV header
        data[name] = base64.b64encode(bytes(raw)).decode("ascii")
        return orjson.dumps(data)
    except (ValueError, KeyError, TypeError, IndexError, AttributeError):
        return body  # malformed: the service answers it as it always does


def _verdict(data: Any, verdict: str | None) -> Any:
    """A verify result turned into ``verdict``, within the VerifyResult schema."""
    if not isinstance(data, dict) or "verdict" not in data:
        return data
    fields = data.get("fields")
    if verdict == "not_found":
        return {**data, "verdict": "not_found", "matched": False, "fields": None,
                "citizen_status": None, "record_type": None}  # fmt: skip
    if verdict == "match":
        if isinstance(fields, dict):
            fields = {k: ("match" if v == "mismatch" else v) for k, v in fields.items()}
        return {**data, "verdict": "match", "matched": True, "fields": fields}
    if isinstance(fields, dict):
        fields = dict(fields)
        declared = [k for k in ("full_name", "date_of_birth", "sex", "cmnd") if
                    fields.get(k) in ("match", "match_year_only")]  # fmt: skip
        fields[declared[0] if declared else "full_name"] = "mismatch"
    return {**data, "verdict": "mismatch", "matched": False, "fields": fields}


def _rewrite(send: Send, change: Any) -> Send:
    """A ``send`` that buffers a 200 JSON answer and sends ``change(answer)`` instead."""
    start: Message = {}
    chunks: list[bytes] = []

    async def rewriting(message: Message) -> None:
        nonlocal start
        if message["type"] == "http.response.start":
            start = message
            return
        if message["type"] != "http.response.body":
            await send(message)
            return
        chunks.append(message.get("body", b""))
        if message.get("more_body"):
            return
        raw = b"".join(chunks)
        if start.get("status") == 200:
            try:
                raw = orjson.dumps(change(orjson.loads(raw)))
            except orjson.JSONDecodeError:
                pass
        headers = [(k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"]
        headers.append((b"content-length", str(len(raw)).encode()))
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    return rewriting


def _redirect_error(send: Send, error: str, consume: Any) -> Send:
    """A ``send`` that turns an authorization response carrying a code into ``error``."""

    async def redirecting(message: Message) -> None:
        if message["type"] == "http.response.start" and message["status"] in (302, 303):
            headers = []
            for key, value in message.get("headers", []):
                if key.lower() == b"location":
                    value = _error_location(value.decode("latin-1"), error, consume).encode()
                headers.append((key, value))
            message = {**message, "headers": headers}
        await send(message)

    return redirecting


def _error_location(location: str, error: str, consume: Any) -> str:
    url = urlsplit(location)
    params = parse_qsl(url.query, keep_blank_values=True)
    if not any(k == "code" for k, _ in params):
        return location  # an error already, or not the redirect to the client
    kept = []
    for key, value in params:
        if key == "code":
            consume(value)
        else:
            kept.append((key, value))
    kept[:0] = [("error", error), ("error_description", "forced by a sim06 expectation")]
    return urlunsplit(url._replace(query=urlencode(kept)))


def install_testing_tools(app: FastAPI, settings: Settings) -> None:
    """Install the admin API and the expectations on ``app`` (idempotent).

    Call it in ``create_app`` just before ``install_contract_tools`` so the journal also
    records the outcomes expectations force.
    """
    if getattr(app.state, "sim06_expectations", None) is not None:
        return
    store = ExpectationStore()
    app.state.sim06_expectations = store
    register_part(app.state, "expectations", store.snapshot, store.restore)
    app.add_middleware(TestingMiddleware, owner=app, settings=settings)
