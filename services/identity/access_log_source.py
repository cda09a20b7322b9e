"""Where the account page reads a citizen's access log: the gateway, over HTTP.

The page calls ``GET /v1/citizens/{pin}/access-log`` with a short-lived access token of the
logged-in citizen (``citizen_token.py``), exactly as a citizen portal would, so the gateway
applies the same rules (own PIN only, covert records hidden until their date). In ``sim06 up``
(one process) pass ``transport=httpx.ASGITransport(gateway_app)``: the same HTTP exchange,
no socket.
"""

from __future__ import annotations

from typing import Any, Protocol
from urllib.parse import quote

import httpx

__all__ = ["AccessLogError", "AccessLogSource", "HttpAccessLogSource"]


class AccessLogError(Exception):
    """The access log could not be read; ``str(exc)`` is safe to show, ``status`` is HTTP."""

    def __init__(self, message: str, status: int = 503) -> None:
        super().__init__(message)
        self.status = status


class AccessLogSource(Protocol):
    """Reads ``{"pin", "count", "accesses": [...]}`` of one citizen."""

    async def accesses(
        self, pin: str, token: str, filters: dict[str, str]
    ) -> dict[str, Any]:  # pragma: no cover - protocol
        """The citizen's access log with ``filters`` (since, until, agency, purpose)."""
        ...


class HttpAccessLogSource:
    """:class:`AccessLogSource` over the gateway's HTTP API."""

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 5.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:  # created on first use: inside the serving event loop
            self._client = httpx.AsyncClient(
                base_url=self.base_url, transport=self._transport, timeout=self._timeout
            )
        return self._client

    async def accesses(self, pin: str, token: str, filters: dict[str, str]) -> dict[str, Any]:
        try:
            response = await self._http().get(
                f"/v1/citizens/{quote(pin, safe='')}/access-log",
                params={k: v for k, v in filters.items() if v},
                headers={"Authorization": f"Bearer {token}"},
            )
        except httpx.HTTPError as exc:
            raise AccessLogError(f"the gateway cannot be reached ({type(exc).__name__})") from None
        if response.status_code != 200:
            try:
                detail = str(response.json().get("detail", ""))
            except ValueError:
                detail = ""
            status = 400 if response.status_code == 422 else 503
            raise AccessLogError(f"the gateway answered {response.status_code} {detail}", status)
        body: dict[str, Any] = response.json()
        return body

    async def aclose(self) -> None:
        """Close the HTTP client."""
        if self._client is not None:
            await self._client.aclose()
            self._client = None
