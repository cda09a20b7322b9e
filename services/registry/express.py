"""The express lane: citizens' lookups answered before the middleware stack when it would do
nothing.

A registry lookup is one SQLite read; the ten ASGI layers around it (Starlette's error layer,
FastAPI's telemetry and body-limit wrappers, fault injection, metrics, admission, the test
harness, the body limit) cost about as much again, and for an ordinary request none of them
changes anything. :class:`RegistryApp` therefore answers ``GET /v1/citizens/<PIN>`` of an
existing, live citizen (what :func:`~services.registry.fastpath.find_record` finds) directly —
same status, headers and bytes as the route — when, at that moment, every layer is known to be
idle:

- only the known middlewares are installed (no strict mode, no contract journal, no tracing:
  with any of those on, every lookup must pass through them);
- FastAPI's own telemetry is off (``FASTAPI_OPTIONS``);
- the fault controller is quiet for the registry and the request asks for no latency profile or
  fault by header;
- no expectation is registered in the test harness.

Admission control applies to the lane as its middleware would (a lookup is one unit); a lookup
it would refuse takes the full stack, whose layers refuse and count it. Lookups served here are
still counted in the request metrics as the metrics middleware would (same series and labels)
and entered in the fault controller's journal (the admin console's timeline) as the fault
middleware would. Anything else — another path, a query string, an unknown, malformed or
cancelled PIN, an error reading the store — takes the full stack, where
:class:`~services.registry.fastpath.LookupFastPath` still skips FastAPI's routing.

Served by the admission protocol (``sim06 up``), the same lane runs one step earlier:
:meth:`RegistryApp.answer_in_protocol` answers inside the connection's HTTP protocol, before
uvicorn builds the ASGI scope, cycle and task.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from starlette.types import Receive, Scope, Send

from sim06.services.common.admission import PRECHARGED, Admission, AdmissionMiddleware
from sim06.services.common.faults import FAULT_HEADER, PROFILE_HEADER, Exchange, FaultController
from sim06.services.common.http import BodyLimitMiddleware
from sim06.services.common.metrics import MetricsMiddleware, RequestMetrics
from sim06.services.registry.fastpath import (
    ROUTE,
    LookupFastPath,
    find_record,
    header_lines,
    response_start,
)

__all__ = ["RegistryApp"]

_OVERRIDES = frozenset({PROFILE_HEADER.encode("ascii"), FAULT_HEADER.encode("ascii")})
_SERVICE = "registry"


def _known_middlewares() -> frozenset[type]:
    # Imported here: the fault and harness layers import the services' settings lazily too.
    from sim06.services.common.fault_middleware import FaultMiddleware
    from sim06.services.testing.middleware import TestingMiddleware

    return frozenset(
        {BodyLimitMiddleware, LookupFastPath, TestingMiddleware, FaultMiddleware,
         MetricsMiddleware, AdmissionMiddleware}
    )  # fmt: skip


def _framework_telemetry(app: FastAPI) -> bool:
    """Whether FastAPI's own OpenTelemetry bridge is on (FastAPI >= 0.165; sim06 turns it off)."""
    native = getattr(app, "_native_telemetry", None)
    return native is not None and bool(native.enabled())


class RegistryApp(FastAPI):
    """The registry's FastAPI application with the express lane for lookups."""

    # Whether the installed middlewares allow the lane at all (decided at the first request:
    # ``sim06 up`` adds the fault layer after create_app).
    _lane_open: bool | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and self._lane_open is not False:
            # Starlette's State keeps its attributes in ``_state``: a dict lookup per item.
            values: dict[str, Any] = self.state._state
            raw = self._express(values, scope)
            if raw is not None:
                admission: Admission | None = values.get("admission")
                # Admitted by the connection's protocol already (sim06 up), or no admission.
                if admission is None or not admission.enabled or PRECHARGED.get() is admission:
                    await self._serve(values, scope, raw, send)
                    return
                # As AdmissionMiddleware would: charged here; refused: the full stack answers.
                cost = admission.cost(scope)
                key = admission.key(scope)
                charge = admission.admit(cost, key, record=False)
                if charge > 0:
                    admission.arrivals += 1
                    started = time.monotonic()
                    try:
                        await self._serve(values, scope, raw, send)
                    finally:
                        admission.finish(charge, cost, key, started)
                    return
        await super().__call__(scope, receive, send)

    def _express(self, values: dict[str, Any], scope: Scope) -> bytes | None:
        """The record to answer with if the lane may serve ``scope``, else None."""
        try:
            raw = find_record(values["store"], scope)
        except Exception:  # the full stack reads it again and answers the error its way
            return None
        if raw is None or not self._idle(values, scope):
            return None
        return raw

    def _idle(self, values: dict[str, Any], scope: Scope) -> bool:
        """Whether every layer of the stack would pass this request through unchanged."""
        lane_open = self._lane_open
        if lane_open is None:
            known = _known_middlewares()
            classes: list[Any] = [m.cls for m in self.user_middleware]
            # A root path of the app's own is set on the scope by FastAPI.__call__: not here.
            lane_open = self._lane_open = all(cls in known for cls in classes) and not (
                _framework_telemetry(self) or self.root_path
            )
        if not lane_open or values.get("sim06_expectations"):
            return False
        faults: FaultController | None = values.get("faults")
        if faults is None:
            return True
        if not faults.quiet(_SERVICE):
            return False
        for name, _ in scope["headers"]:
            if name in _OVERRIDES:  # a latency profile or fault asked for by header
                return False
        return True

    def answer_in_protocol(
        self, path: str, headers: list[tuple[bytes, bytes]], write: Callable[[bytes, bytes], None]
    ) -> bool:
        """The lane, asked by the connection's HTTP protocol before any ASGI task exists
        (:data:`~services.common.admission_http.ProtocolLane`; the protocol has admitted the
        request): ``write`` the answer's header lines and body and say True, or False to let
        the request run through the app. Same conditions, bytes, metrics and journal as the
        lane in :meth:`__call__`; what is left out is uvicorn's per-request machinery."""
        if self._lane_open is False:
            return False
        values: dict[str, Any] = self.state._state
        scope = {"type": "http", "method": "GET", "path": path, "query_string": b"",
                 "headers": headers}  # fmt: skip
        raw = self._express(values, scope)
        if raw is None:
            return False
        started = time.perf_counter()
        write(header_lines(raw), raw)
        self._count(values, path, 200, time.perf_counter() - started)
        return True

    async def _serve(self, values: dict[str, Any], scope: Scope, raw: bytes, send: Send) -> None:
        started = time.perf_counter()
        status = 500  # as the metrics middleware: an exception before the answer is a 500
        answered = False
        try:
            await send(response_start(raw))
            status = 200
            await send({"type": "http.response.body", "body": raw})
            answered = True
        finally:
            seconds = time.perf_counter() - started
            self._count(values, scope["path"], status, seconds, journal=answered)

    @staticmethod
    def _count(
        values: dict[str, Any], path: str, status: int, seconds: float, *, journal: bool = True
    ) -> None:
        """What the skipped metrics and fault layers record of a lookup (the fault layer's
        journal, the admin console's timeline, only of answered ones)."""
        metrics: RequestMetrics | None = values.get("metrics")
        if metrics is not None:
            metrics.observe(ROUTE, "GET", status, "", seconds)
        faults: FaultController | None = values.get("faults")
        if faults is not None and journal:
            faults.record(
                Exchange(
                    at=time.time(), service=_SERVICE, method="GET", path=path,
                    status=status, ms=seconds * 1000, profile=faults.state.profile, fault=None,
                )
            )  # fmt: skip
