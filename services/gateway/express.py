"""The express lane: plain lookups served before the middleware stack when it would do nothing.

A gateway lookup is signed and durably audited; what wraps it in the ASGI stack (FastAPI's
error and telemetry layers, fault injection, the test harness, the mTLS certificate layer) costs
about a quarter of the lookup, and for an ordinary request none of those layers changes
anything. :class:`GatewayApp` therefore answers a lookup (what :func:`fastpath.lookup_pin
<services.gateway.fastpath.lookup_pin>` recognises) directly through the same
:class:`~services.gateway.profile_json.JsonProfile` exchange — same bytes, headers and audit
record — when, at that moment, every layer is known to be idle:

- only the known middlewares are installed (no strict mode, no contract journal, no tracing
  (:mod:`services.common.tracing`: with it on, every lookup gets its span in the stack),
  nothing else);
- the connection carries no TLS client certificate and no proxy is trusted to forward one
  (certificate-bound tokens go through :mod:`services.gateway.mtls`);
- the fault controller is quiet for the gateway (:meth:`FaultController.quiet
  <services.common.faults.FaultController.quiet>`) and the request asks for no latency profile
  or fault by header;
- no expectation is registered in the test harness.

Admission control (:mod:`services.common.admission`) applies to the lane as its middleware
would, a lookup being one unit keyed by its ``X-Road-Client``; a lookup it would refuse takes
the full stack, whose layers refuse and count it.

Served by the admission protocol (``sim06 up``), the same lane runs one step earlier:
:meth:`GatewayApp.answer_in_protocol_later` takes a plain-HTTP lookup inside the connection's
HTTP protocol, before uvicorn builds the ASGI scope, cycle and messages, and the protocol writes
the answer once the exchange (its audit commit included) is done.

Otherwise the request takes the full stack, where :class:`~services.gateway.fastpath.
LookupFastPath` still skips FastAPI's routing. Lookups served here are still entered in the
fault controller's journal (the admin console's timeline), as the fault middleware would, and
counted in the request metrics (:mod:`services.common.metrics`) as the metrics middleware would.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Coroutine
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from sim06.services.common.admission import Admission, AdmissionMiddleware
from sim06.services.common.admission_http import Respond
from sim06.services.common.faults import FAULT_HEADER, PROFILE_HEADER, Exchange, FaultController
from sim06.services.common.http import BodyLimitMiddleware, unexpected_problem
from sim06.services.common.metrics import (
    MetricsMiddleware,
    RequestMetrics,
    agency_slot,
    release_agency_slot,
)
from sim06.services.gateway import fastpath
from sim06.services.gateway.fastpath import LookupFastPath, exchange_headers, send_reply
from sim06.services.gateway.mtls import ClientCertMiddleware
from sim06.services.gateway.profile_json import Incoming, JsonProfile

log = logging.getLogger("sim06.gateway")

_OVERRIDES = frozenset({PROFILE_HEADER.encode("ascii"), FAULT_HEADER.encode("ascii")})
_SERVICE = "gateway"
_PLAIN: Scope = {"type": "http"}  # a connection without TLS (the protocol lane's only kind)


def _known_middlewares() -> frozenset[type]:
    # Imported here: the fault and harness layers import the services' settings lazily too.
    from sim06.services.common.fault_middleware import FaultMiddleware
    from sim06.services.testing.middleware import TestingMiddleware

    return frozenset(
        {BodyLimitMiddleware, LookupFastPath, ClientCertMiddleware, TestingMiddleware,
         FaultMiddleware, MetricsMiddleware, AdmissionMiddleware}
    )  # fmt: skip


class GatewayApp(FastAPI):
    """The gateway's FastAPI application with the express lane for lookups."""

    express_profile: JsonProfile | None = None
    # Whether the installed middlewares and the mTLS settings allow the lane at all (checked
    # at the first request: middlewares are added until the app starts).
    _lane_open: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        profile = self.express_profile
        if profile is not None and scope["type"] == "http":
            pin = fastpath.lookup_pin(scope)  # by attribute: tests swap it to compare paths
            if pin is not None:
                # None if the request asks for a fault or latency profile by header.
                headers = exchange_headers(scope["headers"], _OVERRIDES)
                if headers is not None and self._idle(scope):
                    # Admission control as its middleware would (a lookup is one unit); a
                    # refused lookup takes the full stack, whose layers answer and count it.
                    admission: Admission | None = self.state._state.get("admission")
                    if admission is None or not admission.enabled:
                        await self._serve(profile, scope, pin, headers, receive, send)
                        return
                    key = headers.get("x-road-client")
                    charge = admission.admit(1, key, record=False)
                    if charge > 0:
                        admission.arrivals += 1
                        started = time.monotonic()
                        try:
                            await self._serve(profile, scope, pin, headers, receive, send)
                        finally:
                            admission.finish(charge, 1, key, started)
                        return
        await super().__call__(scope, receive, send)

    def answer_in_protocol_later(
        self, path: str, headers: list[tuple[bytes, bytes]], respond: Respond
    ) -> Coroutine[Any, Any, None] | None:
        """The lane, asked by the connection's HTTP protocol (plain HTTP, admitted) before any
        ASGI task exists (:data:`~services.common.admission_http.LaterLane`): the coroutine
        that makes the answer and hands it to ``respond``, or None to let the request run
        through the app. Same conditions, bytes, audit record, metrics and journal as the lane
        in :meth:`__call__`."""
        profile = self.express_profile
        if profile is None or not fastpath.is_lookup_path(path):
            return None
        wanted = exchange_headers(headers, _OVERRIDES)
        if wanted is None or not self._idle(_PLAIN):
            return None
        return self._serve_later(profile, path, wanted, respond)

    async def _serve_later(
        self, profile: JsonProfile, path: str, headers: dict[str, str], respond: Respond
    ) -> None:
        started = time.perf_counter()
        status = 500
        metrics: RequestMetrics | None = self.state._state.get("metrics")
        slot, token = agency_slot() if metrics is not None else (None, None)
        try:
            pin = path[len(fastpath.PREFIX) :]
            try:
                reply = await profile.exchange(Incoming("GET", path, "", headers), "lookup", pin)
            except Exception as exc:  # as ServerErrorMiddleware and the problem handler would
                problem = unexpected_problem(exc, "GET", path)
                status = problem.status_code
                lines = fastpath.header_lines(problem.raw_headers)
                respond(status, lines, bytes(problem.body))
            else:
                status = reply.status
                lines = fastpath.header_lines(fastpath.reply_headers(reply))
                respond(status, lines, reply.payload)
        finally:
            self._count(metrics, slot, token, path, status, started)

    def _idle(self, scope: Scope) -> bool:
        """Whether every layer of the stack would pass this request through unchanged."""
        lane_open = self._lane_open
        if lane_open is None:
            known = _known_middlewares()
            classes: list[Any] = [m.cls for m in self.user_middleware]
            settings: Any = self.state.settings
            lane_open = self._lane_open = all(cls in known for cls in classes) and not (
                settings.gateway_mtls_trusted_proxies
            )
        if not lane_open:
            return False
        extensions = scope.get("extensions")
        if extensions and extensions.get("tls"):
            return False
        # Starlette's State keeps its attributes in ``_state``: a dict lookup instead of a
        # missing-attribute exception per request.
        values: dict[str, Any] = self.state._state
        if values.get("sim06_expectations"):
            return False
        faults: FaultController | None = values.get("faults")
        return faults is None or faults.quiet(_SERVICE)

    async def _serve(
        self,
        profile: JsonProfile,
        scope: Scope,
        pin: str,
        headers: dict[str, str],
        receive: Receive,
        send: Send,
    ) -> None:
        started = time.perf_counter()
        path: str = scope["path"]
        status = 500
        # The metrics middleware is skipped too: count the lookup as it would.
        metrics: RequestMetrics | None = self.state._state.get("metrics")
        slot, token = agency_slot() if metrics is not None else (None, None)
        try:
            reply = await profile.exchange(Incoming("GET", path, "", headers), "lookup", pin)
            status = reply.status
            await send_reply(reply, send)
        except Exception as exc:  # as ServerErrorMiddleware and the problem handler would
            if status != 500:  # the answer has started: nothing to add
                raise
            problem = unexpected_problem(exc, "GET", path)
            status = problem.status_code
            await problem(scope, receive, send)
            if status == 500:
                raise
        finally:
            self._count(metrics, slot, token, path, status, started)

    def _count(
        self,
        metrics: RequestMetrics | None,
        slot: Any,
        token: Any,
        path: str,
        status: int,
        started: float,
    ) -> None:
        """What the skipped metrics and fault layers record of a lookup."""
        if metrics is not None:
            assert slot is not None
            release_agency_slot(token)
            seconds = time.perf_counter() - started
            metrics.observe(fastpath.ROUTE, "GET", status, slot[0], seconds)
        faults: FaultController | None = self.state._state.get("faults")
        if faults is not None:
            faults.record(
                Exchange(
                    at=time.time(), service=_SERVICE, method="GET", path=path, status=status,
                    ms=(time.perf_counter() - started) * 1000, profile=faults.state.profile,
                    fault=None,
                )
            )  # fmt: skip


__all__ = ["GatewayApp"]
