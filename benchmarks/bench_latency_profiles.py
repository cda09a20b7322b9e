"""Live check of a latency profile: 10,000 lookups against a uvicorn registry on 127.0.0.1.

The registry runs in its own uvicorn process (pinned to CPU 0; this client on CPU 1) with the
fault middleware and the ``typical`` profile (sent per request as X-Sim-Latency-Profile); a
baseline run under ``ideal`` measures the server's own time, which is subtracted (its median)
before comparing the measured p50/p95/p99 with the configured ones.
Passes when each corrected percentile is within 10 % of the profile.

    .venv/bin/python benchmarks/bench_latency_profiles.py [--requests 10000] [--profile typical]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import httpx

from sim06.mock_registry.seed import seed_store
from sim06.mock_registry.store import SQLiteCitizenStore
from sim06.services.bench import pin_cpu, start_uvicorn
from sim06.services.common.faults import percentile
from sim06.services.common.latency import ProfileBook

PATH = "/v1/citizens/001090104217"


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
        env = {"SIM06_DB_PATH": str(db), "SIM06_DATA_DIR": tmp}
        # The server in its own process on CPU 0, this client on CPU 1: they must not share a
        # core or an interpreter lock, or the client's own delays pollute the percentiles.
        pin_cpu(os.getpid(), 1)
        with start_uvicorn(
            "sim06.services.asgi:registry", factory=True, env=env, cpus={0}, health_path="/healthz"
        ) as server:
            url = f"http://127.0.0.1:{server.port}"
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
