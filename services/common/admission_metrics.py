"""Prometheus metrics of admission control, read from the controllers at scrape time.

A custom collector on the default registry (``prometheus_client.REGISTRY``), so the request
path only counts in plain integers and nothing is updated per request:

    sim06_admission_limit{service}                 gauge, cost units
    sim06_admission_inflight{service}              gauge, cost units of requests in flight
    sim06_admission_admitted_total{service}        counter
    sim06_admission_shed_total{service,reason}     counter, reason: overload | agency_share
    sim06_admission_event_loop_delay_seconds{service}  gauge, last measured
    sim06_admission_queue_cap{service}             gauge, cost units the HTTP protocol may hold
                                                   admitted but not yet started
    sim06_admission_queued{service}                gauge, cost units held so now
"""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["AdmissionCollector", "register_collector"]

_registered = False


class AdmissionCollector(Collector):
    """Yields the admission metrics of every live controller of this process."""

    def collect(self) -> Iterator[Metric]:
        from sim06.services.common.admission import REASONS, live_controllers

        controllers = live_controllers()
        limit = GaugeMetricFamily(
            "sim06_admission_limit", "Admission limit in cost units.", labels=["service"]
        )
        inflight = GaugeMetricFamily(
            "sim06_admission_inflight",
            "Cost units of admitted requests in flight.",
            labels=["service"],
        )
        delay = GaugeMetricFamily(
            "sim06_admission_event_loop_delay_seconds",
            "Event-loop delay last measured by the admission timer.",
            labels=["service"],
        )
        queue_cap = GaugeMetricFamily(
            "sim06_admission_queue_cap",
            "Cost units the HTTP protocol may admit before the event loop starts them.",
            labels=["service"],
        )
        queued = GaugeMetricFamily(
            "sim06_admission_queued",
            "Cost units admitted by the HTTP protocol and not started yet.",
            labels=["service"],
        )
        admitted = CounterMetricFamily(
            "sim06_admission_admitted", "Requests admitted.", labels=["service"]
        )
        shed = CounterMetricFamily(
            "sim06_admission_shed",
            "Requests refused by admission control (503 overload, 429 agency share).",
            labels=["service", "reason"],
        )
        for name, ctl in controllers.items():
            limit.add_metric([name], ctl.limit)
            inflight.add_metric([name], ctl.in_flight)
            delay.add_metric([name], ctl.lag_ms / 1000)
            queue_cap.add_metric([name], ctl.queue_cap)
            queued.add_metric([name], ctl.pending)
            admitted.add_metric([name], ctl.admitted)
            for status, count in ctl.refused.items():
                shed.add_metric([name, REASONS[status]], count)
        yield from (limit, inflight, delay, queue_cap, queued, admitted, shed)

    def describe(self) -> Iterator[Metric]:
        """No description up front: the registry then does not call collect at registration."""
        return iter(())


def register_collector() -> None:
    """Register the collector on the default registry once per process."""
    global _registered
    if not _registered:
        REGISTRY.register(AdmissionCollector())
        _registered = True
