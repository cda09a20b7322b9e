"""The lookup fast path: ``GET /v1/registry/citizens/{pin}`` served without FastAPI's routing.

A lookup is the gateway's busiest exchange, and FastAPI's per-request machinery (route matching
over every route, ``Request`` and ``URL`` objects, the middleware chain) costs about as much as
the exchange itself. This pure ASGI middleware recognises exactly
``GET /v1/registry/citizens/<12 ASCII digits>`` with no query string and no root path, reads the
headers the exchange needs straight from ``scope["headers"]``, and runs the same
:meth:`JsonProfile.exchange <services.gateway.profile_json.JsonProfile.exchange>` as the FastAPI
route (token check, policy, replay and quota, audit append, signature), rendered by the same
:class:`~services.gateway.profile_json.Reply`. So the answer, its headers and its audit record
are those of the FastAPI route, which stays declared for the OpenAPI contract and serves every
other request (other PIN shapes, ``?fields=``, other operations and methods).

It sits inside Starlette's ``ServerErrorMiddleware``: an unexpected error still becomes the
500 problem of the other routes.
"""

from __future__ import annotations

from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from sim06.services.common.metrics import mark_route
from sim06.services.gateway.exchange import HEADERS
from sim06.services.gateway.profile_json import Incoming, JsonProfile, Reply

PREFIX = "/v1/registry/citizens/"
_PIN_END = len(PREFIX) + 12
ROUTE = "/v1/registry/citizens/{pin}"  # the metrics label of the route this path stands in for
# The headers an exchange reads, by their raw (lowercase) name.
_WANTED = {name.encode("ascii"): name for name in ("authorization", *HEADERS.values())}
_ENCODED: dict[str, bytes] = {}  # reply header name -> its lowercase bytes (a handful of names)


def exchange_headers(
    raw: Iterable[tuple[bytes, bytes]], refuse: frozenset[bytes] = frozenset()
) -> dict[str, str] | None:
    """The headers an exchange reads, first value of each (as Starlette's ``Headers.get``), or
    None if a header named in ``refuse`` is present (one pass over the headers for both).

    ASGI servers send header names lowercased, which is what Starlette compares with too.
    """
    out: dict[str, str] = {}
    for name, value in raw:
        key = _WANTED.get(name)
        if key is not None:
            if key not in out:
                out[key] = value.decode("latin-1")
        elif name in refuse:
            return None
    return out


def is_lookup_path(path: str) -> bool:
    """Whether ``path`` (no query string) is a lookup the fast path serves."""
    if len(path) != _PIN_END or not path.startswith(PREFIX):
        return False
    pin = path[len(PREFIX) :]
    return pin.isascii() and pin.isdigit()


def lookup_pin(scope: Scope) -> str | None:
    """The PIN if ``scope`` is a lookup the fast path serves, else None."""
    if scope["type"] != "http" or scope["method"] != "GET":
        return None
    path: str = scope["path"]
    if scope.get("query_string") or scope.get("root_path") or not is_lookup_path(path):
        return None
    return path[len(PREFIX) :]


class LookupFastPath:
    """Serve plain lookups through :class:`JsonProfile` directly; pass the rest to ``app``."""

    def __init__(self, app: ASGIApp, profile: JsonProfile) -> None:
        self.app = app
        self.profile = profile

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        pin = lookup_pin(scope)
        if pin is None:
            await self.app(scope, receive, send)
            return
        headers = exchange_headers(scope["headers"])
        assert headers is not None  # nothing refused
        mark_route(scope, ROUTE)
        request = Incoming("GET", scope["path"], "", headers)
        reply = await self.profile.exchange(request, "lookup", pin)
        await send_reply(reply, send)


def reply_headers(reply: Reply) -> list[tuple[bytes, bytes]]:
    """The answer's headers as :meth:`Reply.response` would send them, in Starlette's order:
    the reply's own, then content-length and content-type."""
    names = _ENCODED
    headers = [
        (names.get(k) or names.setdefault(k, k.lower().encode("latin-1")), v.encode("latin-1"))
        for k, v in reply.headers.items()
    ]
    headers.append((b"content-length", str(len(reply.payload)).encode("ascii")))
    headers.append((b"content-type", reply.media.encode("ascii")))
    return headers


def header_lines(headers: Iterable[tuple[bytes, bytes]]) -> bytes:
    """``headers`` as HTTP/1.1 header lines (for an answer written by the connection's
    protocol: :mod:`services.common.admission_http`)."""
    return b"".join([b"%s: %s\r\n" % pair for pair in headers])


async def send_reply(reply: Reply, send: Send) -> None:
    """Send ``reply`` as :meth:`Reply.response` would, without building a Starlette response
    (its header normalisation is a measurable share of a lookup)."""
    await send(
        {"type": "http.response.start", "status": reply.status, "headers": reply_headers(reply)}
    )
    await send({"type": "http.response.body", "body": reply.payload})
