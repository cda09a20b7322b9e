"""Live check of a latency profile: 10,000 lookups against a uvicorn registry on 127.0.0.1.

The registry runs with the fault middleware and the ``typical`` profile (sent per request as
X-Sim-Latency-Profile); a baseline run under ``ideal`` measures the server's own time, which is
subtracted (its median) before comparing the measured p50/p95/p99 with the configured ones.
Passes when each corrected percentile is within 10 % of the profile.

    .venv/bin/python benchmarks/bench_latency_profiles.py [--requests 10000] [--profile typical]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import httpx
import uvicorn

from mock_registry.seed import seed_store
from mock_registry.store import SQLiteCitizenStore
from services.bench.servers import free_port
from services.common.fault_middleware import install_faults
from services.common.faults import percentile
from services.common.latency import ProfileBook
from services.common.settings import Settings
from services.registry.app import create_app

PATH = "/v1/citizens/001090104217"


@contextmanager
def live_server(app: object) -> Iterator[str]:
    """uvicorn in a thread on 127.0.0.1 until the block ends."""
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


async def measure(url: str, profile: str, count: int, concurrency: int) -> list[float]:
    latencies: list[float] = []
    queue = iter(range(count))
    headers = {"X-Sim-Latency-Profile": profile}
    limits = httpx.Limits(max_connections=concurrency)
    async with httpx.AsyncClient(base_url=url, limits=limits, timeout=30) as client:

        async def worker() -> None:
            for _ in queue:
                started = time.perf_counter()
                r = await client.get(PATH, headers=headers)
                latencies.append((time.perf_counter() - started) * 1000)
                assert r.status_code == 200, r.text

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return sorted(latencies)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=10_000)
    parser.add_argument("--profile", default="typical")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    hop = ProfileBook().get(args.profile).hop("registry")
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "population.db"
        store = SQLiteCitizenStore(db)
        seed_store(store, seed=6, size=1000, as_of=date(2026, 7, 1))
        store.close()
        settings = Settings(data_dir=Path(tmp), db_path=db)
        app = create_app(settings)
        install_faults(app, settings, "registry")
        with live_server(app) as url:
            base = asyncio.run(measure(url, "ideal", 2000, args.concurrency))
            got = asyncio.run(measure(url, args.profile, args.requests, args.concurrency))
    overhead = percentile(base, 0.5)
    ok = True
    print(
        f"profile {args.profile!r}, registry hop, {args.requests:,} requests, "
        f"{args.concurrency} concurrent; server overhead p50 {overhead:.2f} ms"
    )
    for q, expected in ((0.50, hop.p50), (0.95, hop.p95), (0.99, hop.p99)):
        raw = percentile(got, q)
        corrected = raw - overhead
        within = abs(corrected - expected) <= 0.10 * expected
        ok &= within
        print(
            f"  p{round(q * 100)}: configured {expected:6.1f} ms  measured {raw:6.1f} ms  "
            f"corrected {corrected:6.1f} ms  {'ok' if within else 'OUT OF 10%'}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
