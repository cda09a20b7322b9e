"""Process settings for a long-running service: the garbage collector."""

from __future__ import annotations

import gc

# Container allocations (net) between two young-generation collections (CPython's default: 700).
YOUNG_THRESHOLD = 10_000


def tune_gc() -> None:
    """Collect once, freeze what exists, and collect the young generation less often.

    Called once the apps are built, before serving. What exists then (the apps, their routes
    and OpenAPI schemas, the loaded agencies and keys) is never garbage, so
    :func:`gc.freeze` keeps every later full collection from walking it again. A request
    allocates a few hundred container objects, nearly all freed by reference counting; at the
    default threshold the collector runs every few requests and walks the young objects of every
    request in flight. Measured on the gateway at 64 connections (``gc.callbacks`` timing): GC
    time 14 us per lookup with the defaults, 5.5 us with this.
    """
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
