"""The gateway's in-process registry hop as a span of its own (tracing on only).

Over HTTP the hop is already two spans (the gateway's CLIENT span from
:class:`services.common.tracing.TracingTransport`, the registry's SERVER span). In process there
is no request to trace, so :class:`TracedRegistryClient` wraps each call in a span under the
registry's service name: a trace shows the same hops whichever way the gateway is deployed.
"""

from __future__ import annotations

from typing import Any

from sim06.mock_registry.store.events import Committed
from sim06.services.common.tracing import span
from sim06.services.gateway.registry_client import RegistryClient

_SERVICE = "registry"


def _hop(operation: str, **attributes: Any) -> Any:
    return span(_SERVICE, f"registry {operation}", {"sim06.hop": "in-process", **attributes})


class TracedRegistryClient:
    """A :class:`RegistryClient` whose every call is a span (see the module docstring)."""

    def __init__(self, inner: RegistryClient) -> None:
        self.inner = inner

    async def record(self, pin: str) -> dict[str, Any]:
        with _hop("lookup"):
            return await self.inner.record(pin)

    async def record_bytes(self, pin: str) -> bytes:
        with _hop("lookup"):
            return await self.inner.record_bytes(pin)

    async def verify(self, body: dict[str, Any]) -> dict[str, Any]:
        with _hop("verify"):
            return await self.inner.verify(body)

    async def verify_batch(self, body: dict[str, Any]) -> dict[str, Any]:
        with _hop("verify-batch"):
            return await self.inner.verify_batch(body)

    async def household(self, pin: str) -> dict[str, Any]:
        with _hop("household"):
            return await self.inner.household(pin)

    async def residence_confirmation(self, pin: str) -> dict[str, Any]:
        with _hop("residence-confirmation"):
            return await self.inner.residence_confirmation(pin)

    async def register(
        self, kind: str, body: dict[str, Any], key: str, actor: str, officer: str
    ) -> Committed:
        with _hop(f"register {kind}", **{"sim06.agency": actor}):
            return await self.inner.register(kind, body, key, actor, officer)

    async def changes(self, after: str | None, since: str | None, limit: int | None) -> bytes:
        with _hop("changes"):
            return await self.inner.changes(after, since, limit)

    async def aclose(self) -> None:
        await self.inner.aclose()

    def __getattr__(self, name: str) -> Any:
        # The wrapped client's own attributes (the in-process one's ``service`` and ``events``).
        return getattr(self.inner, name)
