"""The lookup fast path: ``GET /v1/citizens/{pin}`` answered without FastAPI's routing.

The registry's busiest operation is a lookup whose answer is the stored JSON, unchanged; next to
that, FastAPI's per-request machinery (route matching, ``Request`` objects, parameter solving,
the exception middleware) is most of the cost. This pure ASGI layer sits innermost among the
middlewares — inside the fault injection, the test harness's expectations and the contract
journal, so all of those still see the request — and answers exactly
``GET /v1/citizens/<12 ASCII digits>`` (no query string) when the citizen exists. Anything
else, including a malformed, unknown or cancelled PIN, goes on to the FastAPI route, which
stays declared for the contract and renders every error. A test proves both paths answer the
same bytes. When none of those layers would do anything, the express lane (``express.py``)
answers the same lookups before the whole stack.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sim06.mock_registry.ids import is_valid_pin
from sim06.mock_registry.store import CitizenStore
from sim06.services.common.metrics import mark_route
from sim06.services.registry.service import CANCELLED

PREFIX = "/v1/citizens/"
_PIN_END = len(PREFIX) + 12
_JSON = (b"content-type", b"application/json")
ROUTE = "/v1/citizens/{pin}"  # the metrics label of the route this path stands in for


def find_record(store: CitizenStore, scope: Scope) -> bytes | None:
    """The stored record ``scope`` asks for if it is a lookup a fast path answers (``GET
    /v1/citizens/<12 digits>``, no query string, a live citizen), else None."""
    path: str = scope["path"]
    if (
        len(path) != _PIN_END
        or scope["method"] != "GET"
        or not path.startswith(PREFIX)
        or scope.get("query_string")
        or scope.get("root_path")
    ):
        return None
    pin = path[len(PREFIX) :]
    # A page-cache hit of a few microseconds: cheaper than a hop to a thread pool.
    raw = store.get(pin) if is_valid_pin(pin) else None
    if raw is None or CANCELLED in raw:  # a cancelled PIN's 410: the route
        return None
    return raw


def response_start(raw: bytes) -> Message:
    """The ``http.response.start`` of ``raw`` as the route's Response sends it (Starlette puts
    content-length before content-type)."""
    length = (b"content-length", b"%d" % len(raw))
    return {"type": "http.response.start", "status": 200, "headers": [length, _JSON]}


_JSON_LINE = b"%s: %s\r\n" % _JSON


def header_lines(raw: bytes) -> bytes:
    """:func:`response_start`'s headers as HTTP/1.1 lines, for an answer written whole."""
    return b"content-length: %d\r\n%s" % (len(raw), _JSON_LINE)


class LookupFastPath:
    """Serve existing citizens' records straight from the store; pass the rest to ``app``."""

    def __init__(self, app: ASGIApp, store: CitizenStore) -> None:
        self.app = app
        self.store = store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = find_record(self.store, scope) if scope["type"] == "http" else None
        if raw is None:
            await self.app(scope, receive, send)
            return
        mark_route(scope, ROUTE)
        await send(response_start(raw))
        await send({"type": "http.response.body", "body": raw})
