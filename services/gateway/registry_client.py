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

from services.common.http import validation_errors
from services.common.problems import ProblemError, catalogue
from services.registry import schemas
from services.registry.service import RegistryService

_verify_request = TypeAdapter(schemas.VerifyRequest)
_batch_request = TypeAdapter(schemas.BatchRequest)


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

    def __init__(self, service: RegistryService) -> None:
        self.service = service

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
    ) -> None:
        self._client = httpx.AsyncClient(base_url=base_url, timeout=timeout, transport=transport)

    async def _call(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        data = orjson.loads(await self._call_bytes(method, path, body))
        if not isinstance(data, dict):
            raise ProblemError(
                "GATEWAY_UPSTREAM_UNAVAILABLE", "The population registry answered a non-object."
            )
        return data

    async def _call_bytes(self, method: str, path: str, body: Any = None) -> bytes:
        try:
            if body is None:
                response = await self._client.request(method, path)
            else:
                response = await self._client.request(
                    method,
                    path,
                    content=orjson.dumps(body),
                    headers={"content-type": "application/json"},
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
            return response.content
        code = data.get("code") if isinstance(data, dict) else None
        if isinstance(code, str) and code in catalogue() and not code.startswith("GATEWAY_"):
            raise ProblemError(code, str(data.get("detail", "")), errors=data.get("errors"))
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

    async def aclose(self) -> None:
        await self._client.aclose()
