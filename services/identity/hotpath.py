"""Direct dispatch of the endpoints every login crosses: /authorize, /token, /userinfo.

These endpoints take the raw ``Request`` and parse it themselves (``forms.py``), so FastAPI's
work before calling them (trying each route in turn, solving an empty dependency list,
wrapping the call) buys nothing there, yet cost about a fifth of a login's server time. The
routes stay registered (OpenAPI, 405 for other methods, the other paths); this middleware
sends an exact method and path match straight to the same endpoint function. It sits inside
the body limit and the server-error handler, so those apply as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any

from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute

from sim06.services.common.metrics import mark_route

__all__ = ["HOT_ROUTES", "HotPaths", "hot_endpoints"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Endpoint = Callable[[Request], Awaitable[Response]]

# Route names (see app.py and login.py) of the per-login endpoints.
HOT_ROUTES = ("authorize-get", "authorize-post", "token", "userinfo-get", "userinfo-post")


def hot_endpoints(routes: Iterable[BaseRoute]) -> dict[tuple[str, str], Endpoint]:
    """``{(method, path): endpoint}`` of the routes named in :data:`HOT_ROUTES`."""
    table: dict[tuple[str, str], Endpoint] = {}
    for route in routes:
        if isinstance(route, APIRoute) and route.name in HOT_ROUTES:
            for method in (route.methods or set()) & {"GET", "POST"}:
                table[(method, route.path)] = route.endpoint
    missing = set(HOT_ROUTES) - {r.name for r in routes if isinstance(r, APIRoute)}
    if missing:
        raise RuntimeError(f"hot routes not registered: {sorted(missing)}")
    return table


class HotPaths:
    """ASGI middleware: exact ``(method, path)`` matches go straight to their endpoint."""

    def __init__(self, app: ASGIApp, endpoints: dict[tuple[str, str], Endpoint]) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            endpoint = self.endpoints.get((scope["method"], scope["path"]))
            if endpoint is not None:
                mark_route(scope, scope["path"])  # one of the few hot routes' literal paths
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
