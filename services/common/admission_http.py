"""Admission control at the connection: refuse a request before the ASGI app is reached.

A refusal by :class:`~services.common.admission.AdmissionMiddleware` comes after uvicorn has
built the request's ASGI scope, created its task and run it through the middleware: most of
what a registry lookup costs, so at twice the capacity refusing the excess alone takes the core
(benchmarks/RESULTS.md, "Overload": 56-67 us against 70-92 us of CPU; here 23-28 us).
:class:`AdmissionHttpProtocol` is uvicorn's httptools protocol that asks the same controller as
soon as a request's headers are parsed, and when refused writes the problem+json answer (503
``SERVICE_OVERLOADED`` / 429 ``AGENCY_SHARE_EXCEEDED``, ``Retry-After``) straight to the
socket: no scope, no task, no app.

    uvicorn --http sim06.services.common.admission_http:AdmissionHttpProtocol ...
    uvicorn.Config(app, http=AdmissionHttpProtocol)       (``sim06 up``)

One controller, two entry points: the protocol finds the app's controller
(``app.state.admission``, set by :func:`~services.common.admission.install_admission`) and
charges admitted requests itself; their task runs with
:data:`~services.common.admission.PRECHARGED` set, so the middleware (and the gateway's express
lane) pass them without charging twice, and a wrapper around the app closes them whatever the
inner layers do. Without this protocol (in-process test clients, other servers) the middleware
decides, as before. Here the controller counts what it admitted but the loop has not started
yet, against a cap that keeps their wait near ``SIM06_ADMISSION_QUEUE_MS``
(:meth:`~services.common.admission.Admission.admit` with ``queued``).

HTTP/1.1 stays intact: a refused request's body is read and discarded by the parser, the
connection is kept alive (``Connection: close`` when the request asked for it, on HTTP/1.0
without keep-alive, or when the client is not reading its answers); a request pipelined behind
one still running, one expecting ``100-continue`` and an upgrade go the ordinary way (the
middleware decides), so answers never overtake each other. Never-shed paths
(``/healthz``, ``/readyz``, admin, ...) always pass. Every answer's head goes out in one write
with its body's first part (:class:`HeadWithBody`). An app with a :data:`ProtocolLane`
(``answer_in_protocol``: the registry's lookups) may answer an admitted ``GET`` here too,
synchronously, without an ASGI task; what it declines runs as usual. An app with a
:data:`LaterLane` (``answer_in_protocol_later``: the gateway's lookups, which wait for their audit
commit) takes an admitted plain-HTTP ``GET`` as a coroutine of its own that answers through the
protocol when ready: no scope, cycle or ASGI messages; requests pipelined behind it wait for it
as behind any unfinished answer.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from functools import partial
from typing import Any

import orjson
from starlette.types import Receive, Scope, Send
from uvicorn.config import Config
from uvicorn.protocols.http import httptools_impl
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from sim06.services.common.admission import EXEMPT, PRECHARGED, Admission
from sim06.services.common.problems import PROBLEM_MEDIA_TYPE, problem_body

__all__ = [
    "COMPATIBLE",
    "PROTOCOL",
    "AdmissionHttpProtocol",
    "HeadWithBody",
    "LaterLane",
    "ProtocolLane",
    "admission_protocol",
    "body_prefix",
    "controller_of",
    "lane_of",
    "refusal_bytes",
]

# This protocol extends uvicorn's internals (tested with uvicorn 0.55): if a later uvicorn lacks
# what it overrides, the servers keep uvicorn's own protocol and the middleware decides alone.
STATUS_LINE: dict[int, bytes] = getattr(httptools_impl, "STATUS_LINE", {})
COMPATIBLE: bool = bool(STATUS_LINE) and all(
    callable(getattr(HttpToolsProtocol, name, None))
    for name in ("on_headers_complete", "on_body", "on_message_complete", "_start_asgi_task",
                 "data_received", "connection_lost")
)  # fmt: skip

# uvicorn --http PROTOCOL
PROTOCOL = (
    "sim06.services.common.admission_http:AdmissionHttpProtocol" if COMPATIBLE else "httptools"
)

_EXEMPT = tuple(prefix.encode("ascii") for prefix in EXEMPT)
_LINKS = 8  # how many wrappers (proxy headers, ...) may stand between uvicorn and the app
_JOIN_MAX = 65_536  # HeadWithBody: bodies up to this size go out in one write with their head
# An app's answer written by the protocol: (path, request headers, write(head lines, body)) ->
# whether it answered. Synchronous, no task: only for answers ready at once (registry lookups).
ProtocolLane = Callable[[str, list[tuple[bytes, bytes]], Callable[[bytes, bytes], None]], bool]
# An answer written when ready: (status, its header lines, body).
Respond = Callable[[int, bytes, bytes], None]
# An app's answer made by a coroutine of its own: (path, request headers, respond) -> the
# coroutine, which calls respond exactly once, or None to decline (the request runs as usual).
LaterLane = Callable[[str, list[tuple[bytes, bytes]], Respond], Coroutine[Any, Any, None] | None]
_CHARGE = "sim06.admission"  # scope key: (charge, cost, key, app) of a request charged here
log = logging.getLogger("sim06.admission")
_LATER = -1  # ``refused`` while a later lane's answer is being made


def _wrapped(app: Any) -> Iterator[Any]:
    """``app``, then the app it wraps (``.app``), and so on, up to :data:`_LINKS` of them."""
    for _ in range(_LINKS):
        if app is None:
            return
        yield app
        app = getattr(app, "app", None)


def controller_of(app: Any) -> Admission | None:
    """The admission controller of ``app`` or of the app it wraps (``.app``), if any."""
    for each in _wrapped(app):
        state = getattr(each, "state", None)
        found = getattr(state, "_state", {}).get("admission") if state is not None else None
        if isinstance(found, Admission):
            return found
    return None


def lane_of(app: Any) -> ProtocolLane | None:
    """The protocol lane of ``app`` or of the app it wraps (``.app``), if it has one."""
    lane: ProtocolLane | None = _method_of(app, "answer_in_protocol")
    return lane


def later_lane_of(app: Any) -> LaterLane | None:
    """The later lane of ``app`` or of the app it wraps (``.app``), if it has one."""
    lane: LaterLane | None = _method_of(app, "answer_in_protocol_later")
    return lane


def _method_of(app: Any, name: str) -> Any:
    for each in _wrapped(app):
        found = getattr(each, name, None)
        if found is not None:
            return found
    return None


class _Pending:
    """What stands in uvicorn's ``cycle`` while a later lane makes its answer: a request
    pipelined behind it is queued as behind any unfinished answer (uvicorn's own rule), and
    a shutdown or a lost connection finds what they look for."""

    __slots__ = ("disconnected", "keep_alive", "message_event", "response_complete", "scope")

    def __init__(self, keep_alive: bool) -> None:
        self.response_complete = False
        self.disconnected = False
        self.keep_alive = keep_alive
        self.scope: dict[str, Any] = _IN_PROGRESS
        self.message_event = self  # connection_lost sets it: nothing waits on it

    def set(self) -> None:
        """As ``asyncio.Event.set``: nobody waits for a request body here."""


_IN_PROGRESS: dict[str, Any] = {"type": "http"}


def refusal_bytes(
    ctl: Admission,
    status: int,
    path: str,
    *,
    defaults: bytes = b"",
    keep_alive: bool = True,
    head: bool = False,
    prefix: bytes | None = None,
) -> bytes:
    """The whole HTTP/1.1 answer refusing a request for ``path`` (``defaults``: the server's
    own header lines, e.g. ``date``; ``prefix``: :func:`body_prefix`, if already made)."""
    if prefix is None:
        prefix = body_prefix(ctl, status)
    body = b"".join((prefix, orjson.dumps(path), b"}"))
    lines = (
        STATUS_LINE[status],
        b"content-type: application/problem+json\r\ncontent-length: ",
        str(len(body)).encode("ascii"),
        b"\r\nretry-after: ", ctl.retry_after.encode("ascii"), b"\r\n",
        defaults,
        b"" if keep_alive else b"connection: close\r\n",
        b"\r\n",
        b"" if head else body,
    )  # fmt: skip
    return b"".join(lines)


def body_prefix(ctl: Admission, status: int) -> bytes:
    """The refusal's problem document up to its ``instance`` (the request's path, appended
    per request), made once: the same document the middleware sends."""
    document = orjson.dumps(ctl.problem(status))
    return document[:-1] + b',"instance":'


class AdmissionHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools HTTP/1.1 protocol with admission decided per request's headers."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.admission = controller_of(self.app)
        self.lane = lane_of(self.app)
        self.later = later_lane_of(self.app)
        self.refused: int = 0  # 0, or the status of the answer written here, its body discarded
        self.close_after = False
        self.active_at = 0.0  # loop time of the last bytes received
        self.idle_timer: asyncio.TimerHandle | None = None
        self._defaults: tuple[object, bytes] = (None, b"")
        self._prefixes: dict[int, bytes] = {}

    def data_received(self, data: bytes) -> None:
        self.active_at = self.loop.time()
        super().data_received(data)

    # --- parser callbacks -----------------------------------------------------------------------

    def on_headers_complete(self) -> None:
        ctl = self.admission
        if ctl is None or not ctl.enabled or not self._decidable():
            super().on_headers_complete()
            return
        url: bytes = self.url
        query = url.find(b"?")
        raw = url if query < 0 else url[:query]
        if raw.startswith(_EXEMPT):
            super().on_headers_complete()
            return
        scope = self.scope
        method = self.parser.get_method().decode("ascii")
        path = raw.decode("latin-1")
        # What the cost and key functions read (uvicorn fills in the rest for admitted ones).
        scope["method"], scope["path"] = method, path
        cost = ctl.cost(scope)  # type: ignore[arg-type]
        key = ctl.key(scope)  # type: ignore[arg-type]
        ctl.arrivals += 1
        charge = ctl.admit(cost, key, queued=True, loop=self.loop)
        if charge < 0:
            parser = self.parser
            keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
            self._refuse(ctl, -charge, path, method, keep_alive)
            # The body, if any, still arrives: the parser reads it and on_body drops it.
            self.refused = -charge
            return
        ctl.queue_mark(self.loop)
        lane = self.lane
        if lane is not None and method == "GET" and query < 0 and not self.flow.write_paused:
            # The app answers here, without a task, if it can (else it runs as usual, charged
            # once): the units are taken and given back around its synchronous answer.
            parser = self.parser
            keep_alive = parser.get_http_version() != "1.0" and parser.should_keep_alive()
            started = time.monotonic()
            if lane(path, self.headers, partial(self._answer, keep_alive)):
                ctl.started(charge, key)
                ctl.close(charge, cost, key, started)
                ctl.ran()
                self.refused = 200  # answered: the rest of the request is read and dropped
                self.close_after = not keep_alive
                return
        later = self.later
        if (
            later is not None and method == "GET" and query < 0 and not self.flow.write_paused
            and self.scheme == "http" and not self.root_path
        ):  # fmt: skip
            parser = self.parser
            pending = _Pending(parser.get_http_version() != "1.0" and parser.should_keep_alive())
            respond = partial(self._respond, pending, charge, cost, key, time.monotonic())
            job = later(path, self.headers, respond)
            if job is not None:
                ctl.started(charge, key)
                self.cycle = pending  # type: ignore[assignment]
                self.refused = _LATER  # the rest of the request (none for a GET) is dropped
                task = self.loop.create_task(job)
                self.tasks.add(task)
                task.add_done_callback(partial(self._later_done, pending, respond))
                return
        app = self.app  # read now: a subclass may wrap it per connection (mTLS)
        scope[_CHARGE] = (charge, cost, key, app)  # type: ignore[literal-required]
        self.app = self._admitted
        try:
            super().on_headers_complete()
        finally:
            self.app = app

    def on_body(self, body: bytes) -> None:
        if not self.refused:
            super().on_body(body)

    def on_message_complete(self) -> None:
        if not self.refused:
            super().on_message_complete()
            return
        if self.refused == _LATER:  # its answer ends it (_respond)
            self.refused = 0
            return
        self.refused = 0
        if self.close_after:
            self.server_state.total_requests += 1
            self.transport.close()
            return
        self._after_refusal()

    def _after_refusal(self) -> None:
        self.server_state.total_requests += 1
        # As after any answer, the connection may now idle for the keep-alive timeout. One
        # timer per connection, pushed back lazily: a timer per refusal would cost more than
        # the rest of the refusal.
        if self.idle_timer is None:
            self.idle_timer = self.loop.call_later(self.timeout_keep_alive, self._idle_check)

    def connection_lost(self, exc: Exception | None) -> None:
        if self.idle_timer is not None:
            self.idle_timer.cancel()
            self.idle_timer = None
        super().connection_lost(exc)

    # --- helpers --------------------------------------------------------------------------------

    def _decidable(self) -> bool:
        """Whether this request can be answered here: nothing before it on this connection
        still unanswered, no ``100-continue`` owed, no upgrade."""
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete or self.pipeline:
            return False
        return not (self.expect_100_continue or self.parser.should_upgrade())

    def _default_lines(self) -> bytes:
        """The server's own header lines (``date``, ...), joined once per list uvicorn makes."""
        defaults = self.server_state.default_headers
        if self._defaults[0] is not defaults:  # uvicorn replaces the list when the date changes
            self._defaults = (defaults, b"".join(b"%s: %s\r\n" % pair for pair in defaults))
        return self._defaults[1]

    def _answer(self, keep_alive: bool, head: bytes, body: bytes) -> None:
        """Write a lane's 200 answer: ``head`` holds its own header lines, as uvicorn would
        after the server's (``Connection: close`` when the request asked for it)."""
        self.transport.write(
            b"".join((
                b"HTTP/1.1 200 OK\r\n", self._default_lines(), head,
                b"" if keep_alive else b"connection: close\r\n", b"\r\n", body,
            ))
        )  # fmt: skip

    def _respond(
        self,
        pending: _Pending,
        charge: int,
        cost: int,
        key: str | None,
        started: float,
        status: int,
        head: bytes,
        body: bytes,
    ) -> None:
        """Write a later lane's answer (``head``: its own header lines) and end its request as
        uvicorn ends one: the next pipelined request starts, or the keep-alive timer runs."""
        if pending.response_complete:
            return
        pending.response_complete = True
        ctl = self.admission
        assert ctl is not None
        ctl.close(charge, cost, key, started)
        ctl.ran()
        transport = self.transport
        if transport.is_closing():  # the client left meanwhile
            return
        keep_alive = pending.keep_alive  # a shutdown may have cleared it
        transport.write(
            b"".join((
                STATUS_LINE[status], self._default_lines(), head,
                b"" if keep_alive else b"connection: close\r\n", b"\r\n", body,
            ))
        )  # fmt: skip
        if keep_alive:
            self.on_response_complete()
        else:
            self.server_state.total_requests += 1
            transport.close()

    def _later_done(self, pending: _Pending, respond: Respond, task: asyncio.Task[None]) -> None:
        """A later lane's task ended: forgotten; one that failed to answer (a bug) leaves its
        client a 500, not a hung request."""
        self.tasks.discard(task)
        if pending.response_complete:
            return
        if not task.cancelled() and task.exception() is not None:
            log.error("later lane failed: %s", type(task.exception()).__name__)
        pending.keep_alive = False
        body = orjson.dumps(
            problem_body("INTERNAL_ERROR", "Unexpected error; this is a sim06 bug.")
        )
        head = b"content-type: %s\r\ncontent-length: %d\r\n" % (
            PROBLEM_MEDIA_TYPE.encode("ascii"), len(body)
        )  # fmt: skip
        respond(500, head, body)

    def _refuse(
        self, ctl: Admission, status: int, path: str, method: str, keep_alive: bool
    ) -> None:
        """Write the refusal; ``keep_alive`` False: with ``Connection: close``."""
        keep_alive = keep_alive and not self.flow.write_paused  # a client that does not read
        prefix = self._prefixes.get(status)
        if prefix is None:
            prefix = self._prefixes[status] = body_prefix(ctl, status)
        answer = refusal_bytes(
            ctl, status, path, defaults=self._default_lines(), keep_alive=keep_alive,
            head=method == "HEAD", prefix=prefix,
        )  # fmt: skip
        self.transport.write(answer)
        self.close_after = not keep_alive

    def _start_asgi_task(self, cycle: Any, app: Any) -> None:
        # One write per answer sent in one go (see HeadWithBody). A HEAD answer has no body to
        # wait for: held, its head could be overtaken by a refusal this protocol writes itself.
        cycle.transport = HeadWithBody(
            cycle.transport, self.loop, hold=cycle.scope["method"] != "HEAD"
        )
        # A pipelined request starts from the task that answered the one before it, whose
        # context the new task would copy: it must not look charged already.
        if PRECHARGED.get() is None:
            super()._start_asgi_task(cycle, app)
        else:
            context = contextvars.copy_context()
            context.run(PRECHARGED.set, None)
            context.run(super()._start_asgi_task, cycle, app)

    def _idle_check(self) -> None:
        """Close the connection once no bytes came for the keep-alive timeout after a refusal
        (after an admitted request's answer, uvicorn's own timer has taken over)."""
        self.idle_timer = None
        cycle = self.cycle
        if self.transport.is_closing() or self.refused:
            return
        if cycle is not None and cycle.scope is not None and not cycle.response_complete:
            return  # a request in progress: its answer arms uvicorn's timer
        if self.timeout_keep_alive_task is not None:
            return  # uvicorn's timer runs (the last answer came from the app)
        left = self.active_at + self.timeout_keep_alive - self.loop.time()
        if left > 0:
            self.idle_timer = self.loop.call_later(left, self._idle_check)
        else:
            self.transport.close()

    async def _admitted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The app, for a request charged in on_headers_complete; its units freed at the end."""
        charge, cost, key, app = scope.pop(_CHARGE)
        ctl = self.admission
        assert ctl is not None
        PRECHARGED.set(ctl)  # this task's context only
        ctl.started(charge, key)
        started = time.monotonic()
        try:
            await app(scope, receive, send)
        finally:
            ctl.close(charge, cost, key, started)
            ctl.ran()


class HeadWithBody:
    """A response's transport that sends its head with the first part of its body.

    uvicorn writes a response's status line and headers as soon as the app sends
    ``http.response.start``, then each body part: two ``send`` system calls (and, over
    loopback, two TCP segments to process) for an answer the app sends in one go, about a tenth
    of a registry lookup's CPU. The head is held until the body's first write, and written alone
    at the loop's next turn if the app waits in between: headers are never held behind the app's
    own waiting. uvicorn writes every non-HEAD answer's body, empty or not, so a head held is
    written by the end of its answer (``hold=False`` for HEAD). Everything else is the
    connection's transport's.
    """

    __slots__ = ("head", "loop", "started", "transport")

    def __init__(self, transport: Any, loop: asyncio.AbstractEventLoop, hold: bool = True) -> None:
        self.transport = transport
        self.loop = loop
        self.head: bytes | None = None
        self.started = not hold  # whether the first write is behind (or need not be held)

    def write(self, data: bytes) -> None:
        head = self.head
        if head is not None:
            self.head = None
            if len(data) <= _JOIN_MAX:
                self.transport.write(head + data)
            else:  # not worth copying a large body: two writes
                self.transport.write(head)
                self.transport.write(data)
        elif self.started:
            self.transport.write(data)
        else:  # the first write of the cycle: its head (or a 100 Continue)
            self.started = True
            self.head = data
            self.loop.call_soon(self.flush)

    def flush(self) -> None:
        """Write the head if it is still held."""
        head = self.head
        if head is not None:
            self.head = None
            self.transport.write(head)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def is_closing(self) -> bool:
        return bool(self.transport.is_closing())

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


def admission_protocol(base: type[asyncio.Protocol] = HttpToolsProtocol) -> type[asyncio.Protocol]:
    """:class:`AdmissionHttpProtocol` on top of ``base``, another subclass of uvicorn's
    httptools protocol (e.g. the gateway's mTLS protocol): both behaviours, one class. Any
    other protocol (h11) is returned as it is: its requests are admitted by the middleware."""
    if not COMPATIBLE:
        return base
    if issubclass(base, AdmissionHttpProtocol) or not issubclass(base, HttpToolsProtocol):
        return base
    if base is HttpToolsProtocol:
        return AdmissionHttpProtocol
    return type(f"Admission{base.__name__}", (AdmissionHttpProtocol, base), {})
