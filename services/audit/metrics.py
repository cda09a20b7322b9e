"""Prometheus metrics of the audit writer, on the default registry (served by ``/metrics``)."""

from __future__ import annotations

from prometheus_client import Histogram

COMMIT_SECONDS = Histogram(
    "sim06_audit_commit_seconds",
    "Time from staging an audit batch to its commit (one group commit).",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
BATCH_SIZE = Histogram(
    "sim06_audit_batch_size",
    "Audit records committed together in one transaction.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096),
)


def observe_commit(seconds: float, records: int) -> None:
    """Record one group commit of ``records`` records that took ``seconds``."""
    COMMIT_SECONDS.observe(seconds)
    BATCH_SIZE.observe(records)
