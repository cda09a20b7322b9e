"""Strict mode: every request checked against the app's own OpenAPI before the app sees it.

Like Prism's validation, but in front of a stateful service. A request that breaks the
contract is answered with problem+json naming the JSON pointer (body) or parameter and the
JSON Schema rule:

    undocumented media type        → 415 UNSUPPORTED_MEDIA_TYPE
    body that is not JSON          → 400 MALFORMED_BODY
    parameter or body off-schema   → 422 CONTRACT_VIOLATION  errors: [{pointer, rule, reason}]

Paths and methods the contract does not document (pages, ``/docs``, the journal) pass through:
the app answers them (404/405 problems). So do the requests of operations marked
``x-sim06-own-errors`` (OAuth/OIDC endpoints): a standard fixes their error shape (RFC 6749
§5.2: 400 ``invalid_request``, ``unsupported_grant_type``...), which the endpoint answers.
With ``responses=True`` the app's JSON responses are checked too, and one that breaks the
contract becomes a 500 RESPONSE_CONTRACT_VIOLATION: a sim06 bug detector for tests. Non-JSON
responses (HTML pages, redirects) are not checked.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.services.common.openapi_docs import OWN_ERRORS
from sim06.services.common.problems import problem_response
from sim06.services.contract.index import (
    ContractIndex,
    content_pointer,
    media_matches,
    operation_pointer,
)
from sim06.services.contract.openapi import Operation, deref

__all__ = ["StrictContractMiddleware"]

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class StrictContractMiddleware:
    """Validate requests (and optionally JSON responses) against the contract of ``index``."""

    def __init__(
        self, app: ASGIApp, index: ContractIndex, max_body_bytes: int, responses: bool = False
    ) -> None:
        self.app = app
        self.index = index
        self.max_body_bytes = max_body_bytes
        self.responses = responses

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        found = self.index.find(scope["method"], _path(scope))
        if found is None:
            await self.app(scope, receive, send)
            return
        op, path_params = found
        if op.spec.get(OWN_ERRORS):  # the standard's error, not CONTRACT_VIOLATION
            if self.responses:
                send = _ResponseCheck(self.index, op, scope, send)
            await self.app(scope, receive, send)
            return
        errors = self._parameters(op, path_params, scope)
        if op.spec.get("requestBody") is not None and scope["method"] in _BODY_METHODS:
            messages, complete = await _read_body(receive, self.max_body_bytes)
            receive = _replay(messages, receive)
            if complete:  # an oversized body is left to the body-size limit (413)
                refusal = self._body(op, scope, b"".join(m.get("body", b"") for m in messages))
                if isinstance(refusal, tuple):
                    await problem_response(*refusal, instance=scope["path"])(scope, receive, send)
                    return
                errors += refusal
        if errors:
            detail = f"{len(errors)} violation(s) of {op.label}'s contract; see 'errors'."
            response = problem_response(
                "CONTRACT_VIOLATION", detail, instance=scope["path"], errors=errors
            )
            await response(scope, receive, send)
            return
        if self.responses:
            send = _ResponseCheck(self.index, op, scope, send)
        await self.app(scope, receive, send)

    def _parameters(
        self, op: Operation, path_params: Mapping[str, str], scope: Scope
    ) -> list[dict[str, str]]:
        if not op.parameters:
            return []
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        headers: dict[str, list[str]] = {}
        for name, value in scope["headers"]:
            headers.setdefault(name.decode("latin-1").lower(), []).append(value.decode("latin-1"))
        cookies = _cookies(headers.get("cookie", []))
        errors: list[dict[str, str]] = []
        for i, param in enumerate(op.parameters):
            where, name = str(param.get("in")), str(param.get("name"))
            values = {
                "path": {k: [v] for k, v in path_params.items()},
                "query": query,
                "header": headers,
                "cookie": cookies,
            }.get(where, {})
            raw = values.get(name.lower() if where == "header" else name)
            if raw is None:
                if param.get("required"):
                    errors.append(_param_error(where, name, "required", f"{name} is required"))
                continue
            pointer, types = self.index.parameter_schema(op, i)
            arg: Any = list(raw) if "array" in types else _coerce(raw[-1], types)
            for problem in self.index.violations(pointer, arg):
                errors.append(_param_error(where, name, problem["rule"], problem["reason"]))
        return errors

    def _body(
        self, op: Operation, scope: Scope, body: bytes
    ) -> list[dict[str, str]] | tuple[str, str]:
        spec = deref(self.index.doc, op.spec["requestBody"])
        content: Mapping[str, Any] = spec.get("content") or {}
        if not body:
            if spec.get("required"):
                return [{"pointer": "", "rule": "required", "reason": "a request body is required"}]
            return []
        content_type = _header(scope, b"content-type")
        media = media_matches(content, content_type)
        if media is None:
            expected = ", ".join(content) or "none"
            return "UNSUPPORTED_MEDIA_TYPE", f"Send the body as one of: {expected}."
        base = media.split(";", 1)[0].lower()
        if base == "application/x-www-form-urlencoded":
            form = parse_qs(body.decode("latin-1"), keep_blank_values=True)
            instance: Any = {k: v[-1] for k, v in form.items()}
        elif base == "application/json" or base.endswith("+json"):
            try:
                instance = orjson.loads(body)
            except orjson.JSONDecodeError:
                return "MALFORMED_BODY", "The request body is not valid JSON."
        else:  # multipart and binary bodies are the app's business
            return []
        if "schema" not in (content.get(media) or {}):
            return []
        base_pointer = f"{operation_pointer(op)}/requestBody"
        pointer = content_pointer(base_pointer, op.spec["requestBody"], media)
        return self.index.violations(pointer, instance)


class _ResponseCheck:
    """A ``send`` that holds the response until it is complete, then checks it."""

    def __init__(self, index: ContractIndex, op: Operation, scope: Scope, send: Send) -> None:
        self.index, self.op, self.scope, self.send = index, op, scope, send
        self.start: Message | None = None
        self.chunks: list[bytes] = []

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.start = message
            return
        if message["type"] != "http.response.body" or self.start is None:
            if self.start is not None:  # e.g. pathsend: not a JSON body, nothing to check
                await self.send(self.start)
                self.start = None
            await self.send(message)
            return
        self.chunks.append(message.get("body", b""))
        if message.get("more_body", False):
            return
        body = b"".join(self.chunks)
        errors = self._check(self.start, body)
        if errors:
            status = self.start["status"]
            detail = f"{self.op.label} answered {status} with a response that breaks its contract"
            response = problem_response(
                "RESPONSE_CONTRACT_VIOLATION",
                f"{detail}: {errors[0]['pointer'] or '/'} {errors[0]['reason']} (a sim06 bug).",
                instance=self.scope["path"],
                errors=errors,
            )
            await response(self.scope, _no_body, self.send)
            return
        await self.send(self.start)
        await self.send({"type": "http.response.body", "body": body})

    def _check(self, start: Message, body: bytes) -> list[dict[str, str]]:
        content_type = ""
        for name, value in start.get("headers", []):
            if name.lower() == b"content-type":
                content_type = value.decode("latin-1")
        base = content_type.split(";", 1)[0].strip().lower()
        if not body or not (base == "application/json" or base.endswith("+json")):
            return []  # pages, redirects and empty bodies are outside the JSON contract
        status = str(start["status"])
        responses: Mapping[str, Any] = self.op.spec.get("responses") or {}
        key = next((k for k in (status, f"{status[0]}XX", "default") if k in responses), None)
        if key is None:
            documented = ", ".join(responses) or "none"
            reason = f"status {status} is not documented (documented: {documented})"
            return [{"pointer": "", "rule": "status", "reason": reason}]
        entry = deref(self.index.doc, responses[key])
        content: Mapping[str, Any] = entry.get("content") or {}
        media = media_matches(content, base)
        if media is None:
            documented = ", ".join(content) or "no body"
            reason = f"{base} is not documented for status {status} (documented: {documented})"
            return [{"pointer": "", "rule": "media-type", "reason": reason}]
        if "schema" not in (content.get(media) or {}):
            return []
        try:
            instance = orjson.loads(body)
        except orjson.JSONDecodeError:
            return [{"pointer": "", "rule": "json", "reason": "the body is not valid JSON"}]
        base_pointer = f"{operation_pointer(self.op)}/responses/{key}"
        pointer = content_pointer(base_pointer, responses[key], media)
        return self.index.violations(pointer, instance)


async def _read_body(receive: Receive, limit: int) -> tuple[list[Message], bool]:
    """The request's body messages; False when it exceeds ``limit`` (left for the app)."""
    messages: list[Message] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return messages, False
        size += len(message.get("body", b""))
        if size > limit:
            return messages, False
        if not message.get("more_body", False):
            return messages, True


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replay() -> Message:
        return pending.pop(0) if pending else await receive()

    return replay


async def _no_body() -> Message:
    return {"type": "http.disconnect"}


def _path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    return path[len(root) :] if root and path.startswith(root) else path


def _header(scope: Scope, name: bytes) -> str:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return ""


def _cookies(headers: list[str]) -> dict[str, list[str]]:
    jar: dict[str, list[str]] = {}
    for header in headers:
        for part in header.split(";"):
            name, sep, value = part.strip().partition("=")
            if sep:
                jar.setdefault(name, []).append(value)
    return jar


def _coerce(value: str, types: set[str]) -> Any:
    """A parameter's text as the JSON type its schema wants, when it reads as one."""
    if "integer" in types:
        try:
            return int(value)
        except ValueError:
            pass
    if "number" in types:
        try:
            return float(value)
        except ValueError:
            pass
    if "boolean" in types and value in ("true", "false"):
        return value == "true"
    if "null" in types and value == "" and "string" not in types:
        return None
    return value


def _param_error(where: str, name: str, rule: str, reason: str) -> dict[str, str]:
    return {"parameter": name, "in": where, "rule": rule, "reason": reason}
