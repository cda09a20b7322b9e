"""Admission control: a bounded amount of work per service, in cost units; the excess refused.

Every service mounts :class:`AdmissionMiddleware` outermost in ``create_app`` (one
:func:`install_admission` call). A request costs 1 unit unless its route declares more (a batch
costs about one unit per item: :class:`BodyCost`). Beyond the service's limit the request is
answered at once, before any of its work:

    503 SERVICE_OVERLOADED       the service has no room (Retry-After)
    429 AGENCY_SHARE_EXCEEDED    keyed services (the gateway): this agency holds its share of
                                 the limit while others want room too (Retry-After)

Never refused: ``/healthz``, ``/readyz``, ``/metrics``, ``/__sim06/*`` (admin and testing,
offline docs assets), ``/docs``, ``/redoc``, ``/openapi.json``, ``/.well-known/*`` (keys).

What "in use" means. The units of requests in flight, plus the units of requests that finished
since the event loop last ran the controller's timer (every :data:`TICK_S`). Services run a
request's synchronous work in one piece, so a burst of queued requests would otherwise each find
nothing in flight and all be let in, one after the other; counted this way, the limit bounds the
work done in one turn of the loop, which is what a request waiting behind them waits for. How
late the timer fires is the event-loop delay (the time a request arriving now waits before the
service sees it); it and the time per unit of finished requests drive the limit
(:class:`~services.common.admission_limit.GradientLimit`).

A request costing more than half the limit counts as half of it, and requests costing more than
one unit are admitted only up to three quarters of the limit: a 1,000-item batch still runs on a
quiet service, but a flood of batches cannot crowd out single lookups. When the timer is late by
more than the target (more than four targets for single requests) and a quarter of the limit is
in use, requests are refused whatever the units say: the loop is that far behind.

Fair shares (the gateway, keyed by X-Road-Client): an agency alone may use the whole limit;
once another agency holds units too, each may hold at most ``agency_share`` of the limit (429
beyond it), and an agency under its share is admitted even past the limit (by at most one
share) while another holds more than its share, so a flood never locks a newcomer out.

Two entry points, one controller. Served by uvicorn with
:class:`~services.common.admission_http.AdmissionHttpProtocol` (``sim06 up``, the services'
processes), the connection's protocol asks :meth:`Admission.admit` with ``queued=True`` as soon
as a request's headers are parsed, and writes a refusal straight to the socket; it decides
before the loop runs any of what it admitted, so there the units in use are those admitted but
not yet started, at most ``queue_cap`` (adapted each tick so that none waits in the loop longer
than ``SIM06_ADMISSION_QUEUE_MS``, or than the loop took to read and refuse before it), and in
flight at most the limit. Served otherwise (in-process clients), :class:`AdmissionMiddleware`
decides as described above.

The hot path costs a dict lookup (the route's cost), a few integer updates and a few clock reads
(no system call: the thread's CPU time is read only when a measurement can matter);
the limit is recomputed on the timer, off the request path.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any

import orjson
from starlette.types import ASGIApp, Receive, Scope, Send

from sim06.services.common.admission_limit import GradientLimit
from sim06.services.common.problems import PROBLEM_MEDIA_TYPE, problem_body
from sim06.services.common.settings import Settings

__all__ = [
    "ADMIN_PATH",
    "EXEMPT",
    "PRECHARGED",
    "Admission",
    "AdmissionMiddleware",
    "BodyCost",
    "install_admission",
    "live_controllers",
]

ADMIN_PATH = "/__sim06/admission"
EXEMPT = (
    "/healthz", "/readyz", "/metrics", "/__sim06/", "/docs", "/redoc", "/openapi.json",
    "/.well-known/",
)  # fmt: skip
TICK_S = 0.005  # the timer that frees finished units and measures the event-loop delay
WINDOW_S = 0.1  # the limit is updated at the first tick after each window
SMALL_SHARE = 0.75  # requests of more than one unit may fill the limit up to this share
BUSY_SHARE = 0.5  # admitted work must fill this share of a window for its delay to count
LATE_FACTOR = 4  # single requests are refused once the loop is this many targets behind
RATIO = 1  # admitted work a batch may hold, per unit of reading and refusing before it
# The protocol's queue never caps below this many units: as many requests as a closed-loop
# client with 64 connections keeps waiting at once is not overload (at 16 connections the cap
# had shrunk to 16 after a scheduling hiccup of the shared VM and refused 0.2 % of lookups).
QUEUE_FLOOR = 64
OVERLOAD, AGENCY = 503, 429

# Refusals by reason, in the snapshot and the metrics.
REASONS = {OVERLOAD: "overload", AGENCY: "agency_share"}
CostFunction = Callable[[Scope], int]

# The controller that already admitted and charged the request of this task, in its connection's
# protocol (services.common.admission_http): that controller's ASGI entry points (the
# middleware, the gateway's express lane) then pass it without charging it twice, and the
# protocol's wrapper closes it. Another service called in process decides for itself.
PRECHARGED: ContextVar[Admission | None] = ContextVar("sim06_admission_precharged", default=None)

# Every live controller by service name (the latest built wins), for the metrics collector and
# the admin console of the same process.
_LIVE: weakref.WeakValueDictionary[str, Admission] = weakref.WeakValueDictionary()


def room_all(limit: int, cost: int) -> int:
    """The units a request of ``cost`` may find in use: requests of several units only up to
    three quarters of the limit, so that a flood of them leaves room for single ones."""
    return limit if cost == 1 else int(limit * SMALL_SHARE)


def live_controllers() -> dict[str, Admission]:
    """The admission controllers of this process by service name."""
    return dict(sorted(_LIVE.items()))


class BodyCost:
    """A route's cost estimated from its declared body size: ``1 + Content-Length // unit``,
    at most ``ceiling`` (e.g. one unit per ~``unit`` bytes of a batch's items).

    The body is not read twice: the header is enough to refuse a request before reading it,
    and a client that under-declares its length is cut off by the body limit anyway.
    """

    __slots__ = ("ceiling", "unit")

    def __init__(self, unit: int, ceiling: int) -> None:
        if unit < 1 or ceiling < 1:
            raise ValueError("unit and ceiling must be positive")
        self.unit = unit
        self.ceiling = ceiling

    def __call__(self, scope: Scope) -> int:
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    return min(self.ceiling, 1 + int(value) // self.unit)
                except ValueError:
                    return 1  # the body limit answers a malformed length
        return self.ceiling  # chunked: assume the largest


class Admission:
    """One service's admission state: counters, limit, timer. Single-threaded (event loop)."""

    def __init__(
        self,
        service: str,
        limit: GradientLimit,
        *,
        retry_after: int = 1,
        agency_share: float = 0.5,
        key_header: str | None = None,
        costs: Mapping[tuple[str, str], CostFunction] | None = None,
        enabled: bool = True,
        queue_ms: float | None = None,
    ) -> None:
        self.service = service
        self.gradient = limit
        self.limit = int(limit.limit)
        self.enabled = enabled
        self.retry_after = str(retry_after)
        self.agency_share = agency_share
        self.key_header = key_header.lower().encode("latin-1") if key_header else None
        self.costs: dict[tuple[str, str], CostFunction] = dict(costs or {})
        self.used = 0  # units in flight + finished since the last tick
        self.in_flight = 0
        self.done = 0  # units finished since the last tick
        self.by_key: dict[str, int] = {}  # agency -> units in use (as ``used``)
        self.key_done: dict[str, int] = {}
        # The connection protocol's queue: units it admitted whose task has not started yet
        # (all of them wait for the loop), at most ``queue_cap``, which each tick adjusts so
        # that none waits longer than ``queue_ms`` (CoDel's target sojourn time).
        self.queue_ms = queue_ms
        self.queue_cap = self.limit
        self.pending = 0
        self.pending_by_key: dict[str, int] = {}
        # The longest wait of a queued request since the last tick (kept once above the
        # target only: a shorter one changes nothing, and is not read: see started).
        self.waited_ms = 0.0
        self.capped = False  # whether the cap refused a request since the last tick
        self.mark_cpu = 0.0  # the loop thread's CPU time when the last batch began to run
        self.mark_wall = 0.0  # ... and the clock's (time.perf_counter)
        self.marking = False
        self.ran_wall = 0.0  # the clock when the last request of a batch ended
        # The most CPU time a turn of the loop spent before its batch ran (likewise).
        self.read_ms = 0.0
        self.admitted = 0
        self.arrivals = 0  # requests that reached the controller (see AdmissionMiddleware)
        self.refused = {OVERLOAD: 0, AGENCY: 0}
        self.lag_ms = 0.0  # the last event-loop delay measured
        # The current window's measurements (see GradientLimit.update).
        self.rtt_sum = 0.0
        self.busy_ms = 0.0  # time admitted requests spent in the service, summed
        self.window_start = 0.0
        self.rtt_count = 0
        self.peak = 0
        self.max_lag = 0.0
        self.window_end = 0.0
        self.seen = 0  # requests at the last tick (to stop the timer when idle)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.due = 0.0
        self.due_cpu = 0.0  # the loop thread's CPU time at which the timer is due
        self.generation = 0
        # Timer lateness (ms) beyond which the loop is too far behind to admit more: requests of
        # several units past the target, single ones past LATE_FACTOR times the target.
        self.late_ms = (limit.target_ms, limit.target_ms * LATE_FACTOR)
        _LIVE[service] = self

    # --- the request path -------------------------------------------------------------------

    def cost(self, scope: Scope) -> int:
        """The request's cost in units (1 unless its route declares a cost function)."""
        function = self.costs.get((scope["method"], scope["path"]))
        return 1 if function is None else function(scope)

    def key(self, scope: Scope) -> str | None:
        """The fairness key (agency) of a keyed service, from its header; None otherwise."""
        wanted = self.key_header
        if wanted is None:
            return None
        for name, value in scope["headers"]:
            if name == wanted:
                return str(value.decode("latin-1"))
        return None

    def admit(
        self,
        cost: int,
        key: str | None,
        *,
        record: bool = True,
        queued: bool = False,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> int:
        """Units charged (> 0) if the request may run, else the refusal status (-503, -429).

        A charged request must be closed with :meth:`finish`. ``record=False``: a refusal is
        not counted (the caller hands the request to the middleware, which decides again).
        A request the connection's protocol already charged (:data:`PRECHARGED`) passes.

        ``queued``: the connection's protocol asks, before the loop has run any of the requests
        it admitted. Then the units in use are those still waiting for the loop (``pending``,
        until :meth:`started`), at most ``queue_cap`` (:meth:`_adjust_queue`: the work ahead of
        an admitted request is bounded in time; requests awaiting I/O have started and do not
        count), and the units in flight at most the limit.

        ``loop``: the running loop, from a caller that holds it (on Python 3.11 asking asyncio
        for it makes a ``getpid`` system call).
        """
        if PRECHARGED.get() is self:
            return cost
        if self.loop is not (loop or asyncio.get_running_loop()):
            self._arm()
        limit = self.limit
        if queued:
            limit = min(limit, self.queue_cap)
            used, by_key = self.pending, self.pending_by_key
        else:
            used, by_key = self.used, self.by_key
        charge = cost if cost * 2 <= limit else max(1, limit // 2)
        room = room_all(limit, cost)
        newcomer = False
        if key is not None:
            mine = by_key.get(key, 0)
            share = limit * self.agency_share
            if mine + charge > share and mine and len(by_key) > 1:
                self.refused[AGENCY] += record  # over its share while another agency waits
                return -AGENCY
            if used - mine > share and mine + charge <= share:
                room = limit + int(share)  # others hold more than a share: room for this one
                newcomer = True
        # How late the timer is: the loop is this far behind, and so is every request queued
        # in it (CoDel's sojourn time). Units estimate time; this catches what they misjudge,
        # once a quarter of the limit is in use (a lone slow request delays the timer too).
        # Read only when the units would admit: the clocks are the dearest part of a refusal.
        if queued and self.in_flight and self.in_flight + charge > room_all(self.limit, cost):
            self.refused[OVERLOAD] += record  # and the limit still bounds what is in flight
            return -OVERLOAD
        if used and (
            used + charge > room
            or not newcomer
            and used * 4 >= limit
            and self._late_ms() > self.late_ms[cost == 1]
        ):
            self.refused[OVERLOAD] += record
            self.capped |= queued
            return -OVERLOAD
        self.used += charge
        if self.used > self.peak:
            self.peak = self.used
        self.in_flight += charge
        if key is not None:
            self.by_key[key] = self.by_key.get(key, 0) + charge
        if queued:
            self.pending += charge
            if key is not None:
                by_key[key] = by_key.get(key, 0) + charge
        self.admitted += 1
        return charge

    def queue_mark(self, loop: asyncio.AbstractEventLoop | None = None) -> None:
        """Called as the protocol admits a request: the first one of a turn of the loop
        schedules a mark, which runs once the loop has read every connection and before the
        tasks of the requests admitted meanwhile (they were scheduled after it)."""
        if not self.marking:
            self.marking = True
            (loop or asyncio.get_running_loop()).call_soon(self._mark)

    def _mark(self) -> None:
        now, wall = time.thread_time(), time.perf_counter()
        # What the loop did since the last admitted request ended: reading the connections,
        # refusing, whatever else was ready. Admitted work below RATIO times this would leave
        # the loop mostly refusing: see _adjust_queue. It counts only above queue_ms / RATIO
        # and above the most so far; the CPU time is at most the clock's, so the clock rules
        # out nearly every turn without knowing when in CPU time the last request ended.
        last, floor = max(self.ran_wall, self.mark_wall), self._floor_ms(self.read_ms, RATIO)
        if (wall - last) * 1000 > floor:
            # The CPU time at which the last request ended, at the latest: the mark's plus
            # the clock since (a thread's CPU time runs no faster than the clock). Exact
            # unless the OS ran another process meanwhile, which makes this reading smaller.
            ended = self.mark_cpu + max(0.0, self.ran_wall - self.mark_wall)
            read_ms = (now - ended) * 1000
            if read_ms > self.read_ms:
                self.read_ms = read_ms
        self.mark_cpu, self.mark_wall = now, wall
        self.marking = False

    def _floor_ms(self, most: float, per: float = 1.0) -> float:
        """The measurement at or below which one changes nothing: the target over ``per``, or
        ``most`` (the largest since the tick) if larger; infinite without a target."""
        return math.inf if self.queue_ms is None else max(most, self.queue_ms / per)

    def ran(self) -> None:
        """A request admitted with ``queued`` has ended."""
        # The clock, not the thread's CPU time: reading that is a system call (0.45 us here;
        # two a request cost the registry about 6 % of its rate); _mark derives it if needed.
        self.ran_wall = time.perf_counter()

    def started(self, charge: int, key: str | None) -> None:
        """A request admitted with ``queued`` is running: it no longer waits for the loop.

        How long it waited counts from the mark of its batch, in the loop thread's CPU time:
        the admitted work that ran ahead of it, which the cap bounds; not the time the loop
        spent reading and refusing (the cap cannot shorten it), nor time the OS gave other
        processes.
        """
        # Only a wait longer than the target and than the longest so far changes the cap
        # (_adjust_queue). The CPU time is at most the clock's, so the clock (no system call)
        # rules out nearly every request; the rest read the thread's CPU time.
        if (time.perf_counter() - self.mark_wall) * 1000 > self._floor_ms(self.waited_ms):
            waited_ms = (time.thread_time() - self.mark_cpu) * 1000
            if waited_ms > self.waited_ms:
                self.waited_ms = waited_ms
        self.pending -= charge
        if key is not None:
            left = self.pending_by_key[key] - charge
            if left:
                self.pending_by_key[key] = left
            else:
                del self.pending_by_key[key]

    def finish(self, charge: int, cost: int, key: str | None, started: float) -> None:
        """Close an admitted request: its units stay in use until the next tick."""
        if PRECHARGED.get() is not self:
            self.close(charge, cost, key, started)

    def close(self, charge: int, cost: int, key: str | None, started: float) -> None:
        """:meth:`finish` for the entry point that charged the request, whoever asks."""
        self.in_flight -= charge
        self.done += charge
        if key is not None:
            self.key_done[key] = self.key_done.get(key, 0) + charge
        elapsed_ms = (time.monotonic() - started) * 1000
        self.busy_ms += elapsed_ms
        self.rtt_sum += elapsed_ms / cost
        self.rtt_count += 1

    def problem(self, status: int, path: str | None = None) -> dict[str, Any]:
        """The problem document of a refusal (``status`` 503 or 429)."""
        if status == AGENCY:
            code = "AGENCY_SHARE_EXCEEDED"
            detail = f"This agency holds its share of the {self.service}'s capacity; others wait."
        else:
            code = "SERVICE_OVERLOADED"
            detail = f"The {self.service} is at its admission limit."
        detail += f" Retry after {self.retry_after} s."
        return problem_body(code, detail, instance=path)

    async def refuse(self, status: int, send: Send, path: str) -> None:
        """Answer a refused request at once: problem+json with Retry-After."""
        body = orjson.dumps(self.problem(status, path))
        headers = [
            (b"content-type", PROBLEM_MEDIA_TYPE.encode("ascii")),
            (b"content-length", str(len(body)).encode("ascii")),
            (b"retry-after", self.retry_after.encode("ascii")),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    # --- the timer ----------------------------------------------------------------------------

    def _arm(self) -> None:
        # On a new loop (the first request, or a test's fresh loop) a timer of the old one is
        # dead: its generation no longer matches and it stops itself if it ever fires.
        self.loop = asyncio.get_running_loop()
        self.generation += 1
        self._schedule()

    def _schedule(self) -> None:
        assert self.loop is not None
        # time.monotonic, not loop.time: uvloop's clock is cached at the start of an iteration.
        self.due = time.monotonic() + TICK_S
        self.due_cpu = time.thread_time() + TICK_S
        self.loop.call_later(TICK_S, self._tick, self.generation)

    def _late_ms(self) -> float:
        """How late the timer is, in work the loop did: the lesser of the wall-clock delay and
        the loop thread's CPU time past the due time. Time the OS gave to other processes (a
        noisy neighbour) is not a queue of ours, and refusing requests would not shorten it."""
        wall = time.monotonic() - self.due
        if wall <= 0:
            return wall * 1000
        return min(wall, time.thread_time() - self.due_cpu) * 1000

    def _tick(self, generation: int) -> None:
        if generation != self.generation or self.loop is None:
            return
        lag_ms = max(0.0, self._late_ms())
        self.lag_ms = lag_ms
        if lag_ms > self.max_lag:
            self.max_lag = lag_ms
        self._release()
        self._adjust_queue()
        if self.due >= self.window_end:
            self._update_limit()
        requests = self.admitted + self.refused[OVERLOAD] + self.refused[AGENCY]
        if requests != self.seen or self.used:
            self.seen = requests
            self._schedule()
        else:  # idle: no timer until the next request arms one
            self._update_limit()
            self.loop = None

    def _adjust_queue(self) -> None:
        """The cap of the protocol's queue: cut in proportion when a request waited longer
        than the target (at most by half a tick), raised by an eighth when it refused
        requests while none waited too long; between :data:`QUEUE_FLOOR` and the limit.

        The target is ``queue_ms``, or :data:`RATIO` times the work of reading and refusing
        that came before the batch, if more: when refusals are that much of the loop's work,
        a smaller batch would not shorten the wait (the refusals come first) but would turn
        the loop's time over to refusing.
        """
        cap = self.queue_cap
        if self.queue_ms is None:
            cap = self.limit
        else:
            waited = self.waited_ms
            target = max(self.queue_ms, RATIO * self.read_ms)
            if waited > target:
                cap = int(cap * max(0.5, target / waited))
            elif self.capped:
                cap += max(1, cap // 8)
        self.queue_cap = max(QUEUE_FLOOR, min(self.limit, cap))
        self.waited_ms, self.read_ms, self.capped = 0.0, 0.0, False

    def _release(self) -> None:
        self.used -= self.done
        self.done = 0
        if self.key_done:
            by_key = self.by_key
            for key, units in self.key_done.items():
                left = by_key[key] - units
                if left:
                    by_key[key] = left
                else:
                    del by_key[key]
            self.key_done.clear()

    def _update_limit(self) -> None:
        short = self.rtt_sum / self.rtt_count if self.rtt_count else None
        now = time.monotonic()
        # The loop's delay shrinks the limit only if admitted work filled a good part of the
        # window: when reading and refusing requests is what keeps the loop busy (a refusal
        # costs nearly what a cheap lookup does), refusing more would not shorten the delay,
        # it would only turn answers into refusals.
        busy = self.busy_ms / max(1.0, (now - self.window_start) * 1000)
        lag = self.max_lag if busy >= BUSY_SHARE else 0.0
        if self.enabled:
            self.limit = int(self.gradient.update(short, lag, self.peak))
        self.rtt_sum, self.rtt_count, self.busy_ms = 0.0, 0, 0.0
        self.window_start, self.window_end = now, self.due + WINDOW_S
        self.peak, self.max_lag = self.used, 0.0

    # --- visibility ---------------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """The read-only state: limit, units in use, counts (``GET /__sim06/admission``)."""
        g = self.gradient
        return {
            "service": self.service,
            "enabled": self.enabled,
            "limit": self.limit,
            "min_limit": g.minimum,
            "max_limit": g.maximum,
            "target_ms": g.target_ms,
            "in_flight": self.in_flight,
            "in_use": self.used,
            "queue_cap": self.queue_cap,
            "queued": self.pending,
            "admitted": self.admitted,
            "shed": {REASONS[status]: n for status, n in self.refused.items()},
            "event_loop_delay_ms": round(self.lag_ms, 3),
            "ms_per_unit": round(g.long_rtt, 4),
            "agencies": dict(sorted(self.by_key.items())),
            "retry_after_s": int(self.retry_after),
        }


class AdmissionMiddleware:
    """Admit, refuse or pass each request (pure ASGI, outside every other layer)."""

    def __init__(self, app: ASGIApp, controller: Admission, settings: Settings) -> None:
        self.app = app
        self.controller = controller
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        if path.startswith(EXEMPT):
            if path == ADMIN_PATH:
                await self._admin(scope, send)
            else:
                await self.app(scope, receive, send)
            return
        ctl = self.controller
        if not ctl.enabled or PRECHARGED.get() is ctl:  # off, or admitted by the protocol
            await self.app(scope, receive, send)
            return
        cost = ctl.cost(scope)
        key = ctl.key(scope)
        ctl.arrivals += 1
        charge = ctl.admit(cost, key, record=False)
        if charge < 0:
            charge = await self._second_look(charge, cost, key)
            if charge < 0:
                await ctl.refuse(-charge, send, path)
                return
        started = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            ctl.finish(charge, cost, key, started)

    async def _second_look(self, refusal: int, cost: int, key: str | None) -> int:
        """Count the first look's ``refusal``, or decide again when there is no queue.

        A client in the service's own thread that never yields (an in-process test client
        calling one request after another) keeps the timer from running, so finished units
        would pile up and refuse a client that never has two requests out. When the timer is
        overdue, let the loop run it; if no other request arrived meanwhile there is no queue
        to protect, and the request is decided afresh. If others arrived, they are the queue,
        and the refusal stands.
        """
        ctl = self.controller
        if time.monotonic() > ctl.due:  # the timer should have run
            seen = ctl.arrivals
            for _ in range(2):  # the timer runs after the tasks already ready: two turns
                await asyncio.sleep(0)
            if ctl.arrivals == seen:
                return ctl.admit(cost, key)
        ctl.refused[-refusal] += 1
        return refusal

    async def _admin(self, scope: Scope, send: Send) -> None:
        status, body = 200, self.controller.snapshot()
        media = "application/json"
        if scope["method"] not in ("GET", "HEAD"):
            status, media = 405, PROBLEM_MEDIA_TYPE
            body = problem_body("METHOD_NOT_ALLOWED", "Use GET.", instance=ADMIN_PATH)
        elif not _authorized(self.settings, scope["headers"]):
            status, media = 401, PROBLEM_MEDIA_TYPE
            body = problem_body("GATEWAY_ADMIN_UNAUTHORIZED", "Send the admin token.",
                                instance=ADMIN_PATH)  # fmt: skip
        raw = orjson.dumps(body)
        headers = [(b"content-type", media.encode()), (b"content-length", str(len(raw)).encode())]
        if status == 405:
            headers.append((b"allow", b"GET"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})


def _authorized(settings: Settings, headers: Iterable[tuple[bytes, bytes]]) -> bool:
    """As ``/__sim06/faults``: open in the embedded demo, else the admin bearer token."""
    if settings.gateway_embedded:
        return True
    given = next((v for k, v in headers if k == b"authorization"), b"")
    expected = ("Bearer " + settings.gateway_admin_token).encode()
    return hmac.compare_digest(given, expected)


def install_admission(
    app: Any,
    settings: Settings,
    service: str,
    *,
    costs: Mapping[tuple[str, str], CostFunction] | None = None,
    key_header: str | None = None,
) -> Admission:
    """Mount admission control outermost on ``app`` (call it last in ``create_app``).

    ``costs`` maps ``(method, path)`` to a cost function; ``key_header`` names the header whose
    value is the fairness key (the gateway: ``X-Road-Client``). The controller is also
    ``app.state.admission``.
    """
    limit = GradientLimit(
        limit=settings.admission_initial_limit,
        minimum=settings.admission_min_limit,
        maximum=settings.admission_max_limit,
        target_ms=settings.admission_target_ms,
        tolerance=settings.admission_tolerance,
    )
    controller = Admission(
        service,
        limit,
        retry_after=settings.admission_retry_after,
        agency_share=settings.admission_agency_share,
        key_header=key_header,
        costs=costs,
        enabled=settings.admission,
        queue_ms=settings.admission_queue_ms,
    )
    app.add_middleware(AdmissionMiddleware, controller=controller, settings=settings)
    app.state.admission = controller
    from sim06.services.common.admission_metrics import register_collector

    register_collector()
    return controller
