"""How the gateway reaches the population registry: in process or over HTTP.

Both implementations return plain data or raise ``ProblemError``: the registry's own problems
keep their code (the gateway passes them through, marked ``source: registry``); failing to
reach the registry becomes ``GATEWAY_UPSTREAM_UNAVAILABLE`` or ``GATEWAY_UPSTREAM_TIMEOUT``.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import httpx
import orjson
from pydantic import TypeAdapter, ValidationError

from sim06.mock_registry.store.events import Committed
from sim06.services.common.http import validation_errors
from sim06.services.common.problems import ProblemError, catalogue
from sim06.services.registry import schemas
from sim06.services.registry.events import REQUESTS, EventService
from sim06.services.registry.service import RegistryService

_verify_request = TypeAdapter(schemas.VerifyRequest)
_batch_request = TypeAdapter(schemas.BatchRequest)
_event_requests = {kind: TypeAdapter(model) for kind, model in REQUESTS.items()}


class RegistryClient(Protocol):
    """The registry operations the gateway forwards."""

    async def record(self, pin: str) -> dict[str, Any]: ...

    async def record_bytes(self, pin: str) -> bytes:
        """The record as the registry serialised it (forwarded as is when nothing is filtered)."""
        ...

    async def verify(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def verify_batch(self, body: dict[str, Any]) -> dict[str, Any]: ...

    async def household(self, pin: str) -> dict[str, Any]: ...

    async def residence_confirmation(self, pin: str) -> dict[str, Any]: ...

    async def register(
        self, kind: str, body: dict[str, Any], key: str, actor: str, officer: str
    ) -> Committed:
        """Register a civil-status event (``kind`` is the registry route: births, deaths...)."""
        ...

    async def changes(self, after: str | None, since: str | None, limit: int | None) -> bytes:
        """One page of the change feed, as the registry serialised it."""
        ...

    async def aclose(self) -> None: ...


def _invalid(exc: ValidationError) -> ProblemError:
    errors = validation_errors([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()])
    return ProblemError(
        "VALIDATION_FAILED", f"{len(errors)} field(s) break the contract; see 'errors'.",
        errors=errors,
    )  # fmt: skip


class InProcessRegistryClient:
    """The embedded default: calls :class:`RegistryService` directly (no network hop).

    The calls are tiny SQLite page-cache reads, cheaper than a hop to a thread pool, so they
    run on the event loop like the registry's own handlers do.
    """

    def __init__(self, service: RegistryService, events: EventService | None = None) -> None:
        self.service = service
        self.events = events or EventService(service.settings, service.store)

    async def record(self, pin: str) -> dict[str, Any]:
        return self.service.record(pin)

    async def record_bytes(self, pin: str) -> bytes:
        return self.service.record_bytes(pin)

    async def verify(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            request = _verify_request.validate_python(body)
        except ValidationError as exc:
            raise _invalid(exc) from None
        return self.service.verify(request)

    async def verify_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            request = _batch_request.validate_python(body)
        except ValidationError as exc:
            raise _invalid(exc) from None
        return self.service.verify_batch(request.items)

    async def household(self, pin: str) -> dict[str, Any]:
        return self.service.household(pin)

    async def residence_confirmation(self, pin: str) -> dict[str, Any]:
        return self.service.residence_confirmation(pin)

    async def register(
        self, kind: str, body: dict[str, Any], key: str, actor: str, officer: str
    ) -> Committed:
        try:
            request = _event_requests[kind].validate_python(body)
        except ValidationError as exc:
            raise _invalid(exc) from None
        return await self.events.submit(kind, request, key, actor=actor, officer=officer)

    async def changes(self, after: str | None, since: str | None, limit: int | None) -> bytes:
        return self.events.feed(after, since, limit)

    async def aclose(self) -> None:
        return None


class HttpRegistryClient:
    """The registry behind ``base_url`` (docker-compose, several machines)."""

    def __init__(
        self,
        base_url: str,
        *,
        timeout: float = 5.0,
        transport: httpx.AsyncBaseTransport | None = None,
        write_token: str = "",
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)
        self._write = {"authorization": f"Bearer {write_token}"}

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = orjson.loads(await self._call_bytes(method, path, body))
        if not isinstance(data, dict):
            raise ProblemError(
                "GATEWAY_UPSTREAM_UNAVAILABLE", "The population registry answered a non-object."
            )
        return data

    async def _call_bytes(self, method: str, path: str, body: Any = None) -> bytes:
        return (await self._send(method, path, body)).content

    async def _send(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        try:
            if body is None:
                response = await self._client.request(method, path, params=params)
            else:
                response = await self._client.request(
                    method,
                    path,
                    content=orjson.dumps(body),
                    headers={"content-type": "application/json", **(headers or {})},
                )
        except httpx.TimeoutException:
            raise ProblemError(
                "GATEWAY_UPSTREAM_TIMEOUT", "The population registry did not answer in time."
            ) from None
        except httpx.TransportError:
            raise ProblemError(
                "GATEWAY_UPSTREAM_UNAVAILABLE", "The population registry cannot be reached."
            ) from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.is_success and isinstance(data, dict):
            return response
        code = data.get("code") if isinstance(data, dict) else None
        if isinstance(code, str) and code in catalogue() and not code.startswith("GATEWAY_"):
            assert isinstance(data, dict)
            known = {"type", "title", "title_vi", "status", "detail", "code", "instance", "errors"}
            extra = {k: v for k, v in data.items() if k not in known} or None
            raise ProblemError(
                code, str(data.get("detail", "")), errors=data.get("errors"), extra=extra
            )
        raise ProblemError(
            "GATEWAY_UPSTREAM_UNAVAILABLE",
            f"The population registry answered {response.status_code} without a known problem.",
        )

    async def record(self, pin: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/citizens/{quote(pin, safe='')}")

    async def record_bytes(self, pin: str) -> bytes:
        return await self._call_bytes("GET", f"/v1/citizens/{quote(pin, safe='')}")

    async def verify(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/v1/citizens/verify", body)

    async def verify_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        return await self._call("POST", "/v1/citizens/verify-batch", body)

    async def household(self, pin: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/citizens/{quote(pin, safe='')}/household")

    async def residence_confirmation(self, pin: str) -> dict[str, Any]:
        return await self._call("GET", f"/v1/citizens/{quote(pin, safe='')}/residence-confirmation")

    async def register(
        self, kind: str, body: dict[str, Any], key: str, actor: str, officer: str
    ) -> Committed:
        headers = {**self._write, "idempotency-key": key, "x-sim06-actor": actor,
                   "x-sim06-officer": officer}  # fmt: skip
        response = await self._send("POST", f"/v1/{kind}", body, headers)
        replayed = response.headers.get("idempotent-replayed") == "true"
        return Committed(201, response.content, replayed)

    async def changes(self, after: str | None, since: str | None, limit: int | None) -> bytes:
        params = {k: str(v) for k, v in (("after", after), ("since", since), ("limit", limit))
                  if v is not None}  # fmt: skip
        return (await self._send("GET", "/v1/changes", params=params)).content

    async def aclose(self) -> None:
        await self._client.aclose()
