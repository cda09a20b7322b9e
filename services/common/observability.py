"""Metrics and traces, mounted on a service the same way (see ``metrics`` and ``tracing``)."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import FastAPI

from sim06.services.common.metrics import Probe, install_metrics
from sim06.services.common.settings import Settings
from sim06.services.common.tracing import install_tracing


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


__all__ = ["install_observability"]
