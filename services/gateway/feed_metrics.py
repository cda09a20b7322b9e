"""The change feed's lag behind its webhook subscribers, as Prometheus gauges read at scrape time.

The registry's feed head (its newest cursor) against each subscription's delivered cursor: how
many committed changes a subscriber has not received yet. Read only when ``/metrics`` is scraped
(one feed query), never on a request's path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from prometheus_client.metrics_core import GaugeMetricFamily, Metric

from sim06.services.common.metrics import Probe
from sim06.services.common.problems import ProblemError
from sim06.services.gateway.webhook_delivery import WebhookDeliverer

log = logging.getLogger("sim06.gateway.metrics")


def feed_lag_probe(deliverer: WebhookDeliverer) -> Probe:
    """A probe for :func:`services.common.metrics.install_metrics` (see the module docstring)."""

    async def probe() -> Iterable[Metric]:
        try:
            head = await deliverer.head()
        except ProblemError as exc:  # the registry is unreachable: no feed gauges this scrape
            log.warning("feed metrics: cannot read the feed head: %s", exc.spec.code)
            return []
        newest = GaugeMetricFamily(
            "sim06_feed_head_cursor", "The change feed's newest cursor (commits so far)."
        )
        newest.add_metric((), head)
        lag = GaugeMetricFamily(
            "sim06_feed_lag_items",
            "Committed changes a webhook subscription has not been delivered yet.",
            labels=("subscription", "agency"),
        )
        for sub in deliverer.store.all():
            behind = 0 if sub.cursor is None else max(head - sub.cursor, 0)
            lag.add_metric((sub.id, sub.agency), behind)
        return [newest, lag]

    return probe
