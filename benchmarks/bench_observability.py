"""What the metrics middleware (and tracing, when on) adds to one request, in process.

``python -m benchmarks.bench_observability [--size 20000] [--rounds 5] [--requests 20000]``

The registry's lookup fast path answers in microseconds, so an HTTP load test on a shared machine
cannot resolve a sub-microsecond difference. This calls the apps' ASGI entry points directly
(no sockets), alternating rounds between a registry built with ``SIM06_METRICS=false``, the
default (metrics on) and metrics plus tracing (an SDK provider with no exporter, so the cost of
making spans only), and reports microseconds per request and the ratio to metrics off.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.common import tracing
from sim06.services.common.settings import Settings
from sim06.services.registry.app import create_app

PIN = "001090104217"


def _scope(path: str) -> dict[str, Any]:
    return {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": path, "raw_path": path.encode(), "root_path": "",
        "query_string": b"", "headers": [(b"host", b"127.0.0.1")], "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 8001),
    }  # fmt: skip


async def _per_request_us(app: Callable[..., Any], n: int) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200, message

    path = f"/v1/citizens/{PIN}"
    for _ in range(200):  # warm up
        await app(_scope(path), receive, send)
        await asyncio.sleep(0)
    started = time.perf_counter()
    for _ in range(n):
        await app(_scope(path), receive, send)
        await asyncio.sleep(0)  # the loop runs its timers between requests, as a server's does
    return (time.perf_counter() - started) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "population.db"
        store = SQLiteCitizenStore(db)
        seed_store(store, seed=6, size=args.size, as_of=date(2026, 7, 1))
        # Admission control's limit pinned high: a loop that never waits is not an overload.
        limit = 1_000_000
        base = Settings(
            data_dir=Path(tmp) / "data", db_path=db, admission_initial_limit=limit,
            admission_min_limit=limit, admission_max_limit=limit,
        )  # fmt: skip
        tracing.reset()
        variants: dict[str, Any] = {
            "metrics off": create_app(base.model_copy(update={"metrics": False}), store),
            "metrics on": create_app(base, store),
        }
        variants["metrics + tracing"] = create_app(base.model_copy(update={"tracing": True}), store)
        results: dict[str, list[float]] = {name: [] for name in variants}
        for i in range(args.rounds):
            for name, app in variants.items():
                results[name].append(asyncio.run(_per_request_us(app, args.requests)))
            print(
                f"round {i + 1}: " + " | ".join(f"{k} {v[-1]:.2f} µs" for k, v in results.items())
            )
        # The best round is the least disturbed by the machine's other work; both are shown.
        off_best, off_median = (
            min(results["metrics off"]),
            statistics.median(results["metrics off"]),
        )
        for name, values in results.items():
            best, median = min(values), statistics.median(values)
            print(f"{name:>18}: best {best:.2f} µs/request ({best / off_best:.3f}× metrics off), "
                  f"median {median:.2f} µs ({median / off_median:.3f}×)")  # fmt: skip
        tracing.reset()
        store.close()


if __name__ == "__main__":
    main()
