"""Metrics and traces, mounted on a service the same way (see ``metrics`` and ``tracing``)."""

from __future__ import annotations

import inspect
from collections.abc import Iterable
from typing import Any, Final

from fastapi import FastAPI

from sim06.services.common.metrics import Probe, install_metrics
from sim06.services.common.settings import Settings
from sim06.services.common.tracing import install_tracing


def _framework_telemetry_off() -> dict[str, Any]:
    # FastAPI >= 0.165 bridges every request to OpenTelemetry's global providers by itself, and
    # asks those providers per request whether they are configured (~15 us a lookup, most of the
    # registry's fast path). sim06 makes its own spans (services/common/tracing.py: named its
    # way, free when off); with the bridge on as well, tracing would make every span twice.
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": False, "metrics": False, "logs": False}}


FASTAPI_OPTIONS: Final[dict[str, Any]] = _framework_telemetry_off()
"""Keyword arguments every sim06 ``FastAPI(...)`` takes: the framework's telemetry off."""


def install_observability(
    app: FastAPI,
    settings: Settings,
    *,
    service: str,
    probes: Iterable[Probe] = (),
    agency_aware: bool = False,
) -> None:
    """``/metrics`` and the request counters (unless ``SIM06_METRICS`` is off), then the SERVER
    spans (only if tracing is on). The last step of an app factory: both wrap every other
    middleware, the spans outermost so every layer, the metrics one included, runs in them."""
    install_metrics(app, settings, service=service, probes=probes, agency_aware=agency_aware)
    install_tracing(app, settings, service=service)


__all__ = ["FASTAPI_OPTIONS", "install_observability"]
