"""HTTP edge shared by the services: problem+json handlers and the body-size limit.

Validation happens here, at the edge, so the domain core only ever sees well-formed input.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from redis.exceptions import RedisError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.services.common.problems import ProblemError, problem_response

log = logging.getLogger("sim06.http")

_JSON_TYPES = ("application/json", "application/problem+json")

# What the edge says for each generic problem (also the contracts' examples: openapi_docs.py).
SEND_JSON = "Send the body as JSON with 'Content-Type: application/json'."
NOT_JSON = "The request body is not valid JSON."
BAD_CONTENT_LENGTH = "The Content-Length header is not a valid number."


def not_found_detail(path: str) -> str:
    """The detail of NOT_FOUND for ``path``."""
    return f"No operation at {path}."


def method_not_allowed_detail(method: str, path: str) -> str:
    """The detail of METHOD_NOT_ALLOWED for ``method path``."""
    return f"{method} is not allowed on {path}."


def too_large_detail(max_bytes: int) -> str:
    """The detail of PAYLOAD_TOO_LARGE for a limit of ``max_bytes``."""
    return f"The body must be at most {max_bytes} bytes."


def validation_detail(count: int) -> str:
    """The detail of VALIDATION_FAILED for ``count`` errors."""
    return f"{count} field(s) break the contract; see 'errors'."


def _is_json(request: Request) -> bool:
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return content_type in _JSON_TYPES or content_type.endswith("+json")


def validation_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    """Turn pydantic error dicts into ``{pointer|parameter, rule, reason}`` items."""
    out: list[dict[str, str]] = []
    for err in errors:
        loc = tuple(err.get("loc", ()))
        item: dict[str, str] = {
            "rule": str(err.get("type", "invalid")),
            "reason": err.get("msg", ""),
        }
        if loc and loc[0] == "body":
            item["pointer"] = "/" + "/".join(
                str(p).replace("~", "~0").replace("/", "~1") for p in loc[1:]
            )
        elif loc:
            item["parameter"] = ".".join(str(p) for p in loc[1:]) or str(loc[0])
            item["in"] = str(loc[0])
        out.append(item)
    return out


async def _on_problem(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ProblemError)
    return problem_response(
        exc.spec.code,
        exc.detail,
        instance=request.url.path,
        errors=exc.errors,
        headers=exc.headers,
        extra=exc.extra,
    )


async def _on_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    path = request.url.path
    if request.method in ("POST", "PUT", "PATCH") and any(
        e.get("loc", ("",))[0] == "body" for e in errors
    ):
        if not _is_json(request):
            return problem_response("UNSUPPORTED_MEDIA_TYPE", SEND_JSON, instance=path)
        if any(e.get("type") == "json_invalid" for e in errors):
            return problem_response(
                "MALFORMED_BODY", NOT_JSON, instance=path, errors=validation_errors(errors)
            )
    return problem_response(
        "VALIDATION_FAILED",
        validation_detail(len(errors)),
        instance=path,
        errors=validation_errors(errors),
    )


async def _on_http(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    path = request.url.path
    if exc.status_code == 405:
        # Starlette's Allow names only the first route that matched the path; a path such as
        # /v1/citizens/verify also matches /v1/citizens/{pin}, so collect every matching route.
        matching = [
            route
            for route in request.app.routes
            if isinstance(route, Route) and route.methods and route.path_regex.match(path)
        ]
        exact = [route for route in matching if route.path == path]
        allowed = sorted({method for route in exact or matching for method in route.methods or ()})
        headers = {"Allow": ", ".join(allowed)} if allowed else dict(exc.headers or {})
        return problem_response(
            "METHOD_NOT_ALLOWED",
            method_not_allowed_detail(request.method, path),
            instance=path,
            headers=headers,
        )
    if exc.status_code == 404:
        return problem_response("NOT_FOUND", not_found_detail(path), instance=path)
    if exc.status_code == 413:
        return problem_response("PAYLOAD_TOO_LARGE", str(exc.detail), instance=path)
    if exc.status_code == 400:
        return problem_response("MALFORMED_BODY", str(exc.detail), instance=path)
    return problem_response("INTERNAL_ERROR", str(exc.detail), instance=path)


def unexpected_problem(exc: Exception, method: str, path: str) -> Response:
    """The answer to an exception no handler expected.

    Shared state gone (Redis unreachable, ``SIM06_REDIS_URL``) is an outage, not a bug: the
    replicas cannot enforce one quota or refuse a replayed request id without it, so they fail
    closed with 503 ``SHARED_STATE_UNAVAILABLE`` and Retry-After rather than answer unchecked.
    Anything else is a sim06 bug (500), logged with its type only: request data may hold
    personal data or secrets.
    """
    if isinstance(exc, ProblemError):  # raised where no handler runs (the gateway's express lane)
        return problem_response(
            exc.spec.code, exc.detail, instance=path, errors=exc.errors, headers=exc.headers,
            extra=exc.extra,
        )  # fmt: skip
    if isinstance(exc, RedisError):
        log.error("shared state unavailable (%s) on %s %s", type(exc).__name__, method, path)
        return problem_response(
            "SHARED_STATE_UNAVAILABLE",
            "The state the replicas share (Redis) cannot be reached; retry shortly.",
            instance=path,
            headers={"Retry-After": "1"},
        )
    log.error("unhandled %s on %s %s", type(exc).__name__, method, path)
    return problem_response(
        "INTERNAL_ERROR", "Unexpected error; this is a sim06 bug.", instance=path
    )


async def _on_unexpected(request: Request, exc: Exception) -> Response:
    return unexpected_problem(exc, request.method, request.url.path)


def operation_id(route: Any) -> str:
    """Stable operation ids for every service's contract: ``{tag}-{name}``."""
    return f"{route.tags[0]}-{route.name}" if route.tags else str(route.name)


def install_problem_handlers(app: FastAPI) -> None:
    """Render every error of ``app`` as RFC 9457 problem+json."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    app.add_exception_handler(Exception, _on_unexpected)


class BodyLimitMiddleware:
    """Refuse bodies larger than ``max_bytes`` with 413, whether declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = -1
                if declared < 0 or declared > self.max_bytes:
                    await self._refuse(scope, send, declared)
                    return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    too_large = True
                    raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._refuse(scope, send, received)

    async def _refuse(self, scope: Scope, send: Send, size: int) -> None:
        detail = too_large_detail(self.max_bytes) if size >= 0 else BAD_CONTENT_LENGTH
        code = "PAYLOAD_TOO_LARGE" if size >= 0 else "MALFORMED_BODY"
        response = problem_response(code, detail, instance=scope.get("path"))
        await response(scope, _drain_receive, send)


class _BodyTooLarge(Exception):
    pass


async def _drain_receive() -> Message:
    return {"type": "http.disconnect"}
