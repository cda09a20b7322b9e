"""Overload: open-loop load at twice the measured capacity, and the batch flood (issue 17).

``python -m benchmarks.bench_overload [--db PATH] [--size N] [--duration 8] [--off]``

For the registry lookup and the gateway lookup, each on one uvicorn worker pinned to CPU 0
(load generator on CPU 1):

1. unloaded: open loop at 100 requests/s: the p99 of a lookup when nothing queues;
2. capacity: closed loop, 32 connections: the best the service does (C requests/s);
3. overload: open loop at 2 C for ``--duration`` s, with ``/healthz`` probed every 20 ms on its
   own connection. Reported: goodput (2xx/s) / C, the p99 of the refused (503/429) answers,
   the p99 of the admitted vs the unloaded p99, and the slowest ``/healthz``.

Then the batch flood: 200 connections posting 1,000-item verify batches to the registry (closed
loop), and a single lookup every 20 ms on its own connection: its p99 and statuses. And what a
refusal costs: a registry held at a limit of one unit, closed loop, answers (nearly all 503)/s.

Latencies of the open loop count from each request's due time (no coordinated omission).
``--off`` runs the same with SIM06_ADMISSION=false, for comparison.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import orjson
import yaml

from benchmarks.bench_gateway_http import AGENCY
from benchmarks.bench_registry_http import ensure_db, sample_pins
from sim06.services.bench import encode_request, pin_cpu, run_load, start_uvicorn
from sim06.services.bench._common import LatencyRecorder, latency_summary, run_sync
from sim06.services.bench.loadgen import run_load_async
from sim06.services.bench.openloop import run_open_loop, run_open_loop_async


async def probe(port: int, request: bytes, every: float, until: float) -> dict[str, Any]:
    """Send ``request`` every ``every`` s on one connection until ``until`` (monotonic)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    latencies = LatencyRecorder()
    statuses: dict[int, int] = {}
    while time.monotonic() < until:
        started = time.perf_counter_ns()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await reader.readexactly(length)
        latencies.add(time.perf_counter_ns() - started)
        status = int(head[9:12])
        statuses[status] = statuses.get(status, 0) + 1
        await asyncio.sleep(every)
    writer.close()
    return {"statuses": statuses, "count": latencies.count, **latency_summary(latencies)}


def overload(
    name: str, port: int, request: Callable[[int], bytes], duration: float
) -> dict[str, Any]:
    """Unloaded p99, closed-loop capacity, then open loop at twice it with a health probe."""
    # Each phase its own request indexes (the gateway refuses a reused X-MaYeuCau).
    unloaded = run_open_loop(port, lambda i: request(20_000_000 + i), rate=100, duration=3,
                             warmup=0.5)  # fmt: skip
    capacity = run_load("127.0.0.1", port, request, connections=32, duration=5, warmup=1)
    rate = 2 * capacity.rps
    health = encode_request("GET", "/healthz", host="127.0.0.1")

    async def both() -> Any:
        until = time.monotonic() + 1 + duration
        load = run_open_loop_async(port, lambda i: request(10_000_000 + i), rate=rate,
                                   duration=duration, warmup=1, max_connections=1024)  # fmt: skip
        return await asyncio.gather(load, probe(port, health, 0.02, until))

    result, healthz = run_sync(both())
    out = {
        "capacity_rps": capacity.rps,
        "capacity_status": capacity.status_counts,
        "unloaded_p99_ms": unloaded.ok["p99_ms"],
        "offered_rps": rate,
        "goodput_rps": result.goodput_rps,
        "goodput_over_capacity": result.goodput_rps / capacity.rps,
        "shed_rps": result.shed_rps,
        "shed_p99_ms": result.shed["p99_ms"],
        "admitted_p99_ms": result.ok["p99_ms"],
        "admitted_p99_over_unloaded": result.ok["p99_ms"] / unloaded.ok["p99_ms"],
        "healthz_max_ms": healthz["max_ms"],
        "healthz_statuses": healthz["statuses"],
        "open_loop": result.to_dict(),
    }
    print(
        f"{name}: capacity {capacity.rps:,.0f}/s, offered {rate:,.0f}/s -> goodput "
        f"{result.goodput_rps:,.0f}/s ({out['goodput_over_capacity']:.0%}), shed "
        f"{result.shed_rps:,.0f}/s (p99 {result.shed['p99_ms']:.1f} ms); admitted p99 "
        f"{result.ok['p99_ms']:.1f} ms vs unloaded {unloaded.ok['p99_ms']:.1f} ms "
        f"({out['admitted_p99_over_unloaded']:.1f}x); /healthz max {healthz['max_ms']:.1f} ms; "
        f"status {result.status_counts} errors {result.errors}",
        flush=True,
    )
    return out


def batch_flood(port: int, pins: list[str], duration: float) -> dict[str, Any]:
    """200 connections of 1,000-item batches, and a lookup probe every 20 ms."""
    items = [{"pin": pins[i % len(pins)], "full_name": "Nguyễn Văn An"} for i in range(1000)]
    body = orjson.dumps({"items": items})
    batch = encode_request("POST", "/v1/citizens/verify-batch", host="127.0.0.1",
                           headers={"Content-Type": "application/json"}, body=body)  # fmt: skip
    lookup = encode_request("GET", f"/v1/citizens/{pins[0]}", host="127.0.0.1")

    async def both() -> Any:
        flood = run_load_async("127.0.0.1", port, batch, connections=200, duration=duration,
                               warmup=1, timeout=60)  # fmt: skip
        await asyncio.sleep(1)  # the probe starts once the flood is on
        return await asyncio.gather(flood, probe(port, lookup, 0.02, time.monotonic() + duration))

    flood, single = run_sync(both())
    print(
        f"batch flood: {flood.rps:,.1f} batches/s {flood.status_counts} errors {flood.errors}; "
        f"single lookup p50 {single['p50_ms']:.1f} p99 {single['p99_ms']:.1f} max "
        f"{single['max_ms']:.1f} ms {single['statuses']}",
        flush=True,
    )
    return {"flood": flood.to_dict(), "lookup_probe": single}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--off", action="store_true", help="SIM06_ADMISSION=false")
    args = parser.parse_args()
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    db = args.db or root / "population.db"
    ensure_db(db, args.size)
    pins = sample_pins(db)
    n = len(pins)
    switch = {"SIM06_ADMISSION": "false" if args.off else "true"}
    env = {"SIM06_DB_PATH": str(db), "SIM06_DATA_DIR": str(root / "registry"), **switch}
    secret = secrets.token_urlsafe(24)
    (root / "agencies.yaml").write_text(
        yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": secret}]}), "utf-8"
    )
    gw_env = {
        "SIM06_DB_PATH": str(db), "SIM06_DATA_DIR": str(root / "gateway"),
        "SIM06_GATEWAY_AGENCIES_FILE": str(root / "agencies.yaml"),
        "SIM06_GATEWAY_ADMIN_TOKEN": secrets.token_urlsafe(24), **switch,
    }  # fmt: skip
    pin_cpu(os.getpid(), 1)
    report: dict[str, Any] = {"admission": not args.off}
    lookups = [encode_request("GET", f"/v1/citizens/{pin}", host="127.0.0.1") for pin in pins]
    with start_uvicorn("sim06.services.asgi:registry", factory=True, env=env, cpus={0},
                       health_path="/healthz") as registry:  # fmt: skip
        report["registry"] = overload("registry", registry.port, lambda k: lookups[k % n],
                                      args.duration)  # fmt: skip
        report["batch_flood"] = batch_flood(registry.port, pins, args.duration)
        # The server may still be working through the flood's queued requests.
        time.sleep(2)
        state = httpx.get(f"{registry.url}/__sim06/admission", timeout=120)
        report["registry_admission"] = state.json()
    if not args.off:  # what a refusal costs: a registry whose limit is one unit refuses nearly all
        fixed_env = {**env, "SIM06_ADMISSION_MIN_LIMIT": "1", "SIM06_ADMISSION_MAX_LIMIT": "1",
                     "SIM06_ADMISSION_INITIAL_LIMIT": "1"}  # fmt: skip
        with start_uvicorn("sim06.services.asgi:registry", factory=True, env=fixed_env, cpus={0},
                           health_path="/healthz") as refusing:  # fmt: skip
            shed = run_load("127.0.0.1", refusing.port, lambda k: lookups[k % n],
                            connections=32, duration=5, warmup=1)  # fmt: skip
        report["refusals_closed_loop"] = {"rps": shed.rps, "status": shed.status_counts}
        print(f"registry refusing (limit 1): {shed.rps:,.0f} answers/s {shed.status_counts}")
    with start_uvicorn("sim06.services.asgi:gateway", factory=True, env=gw_env, cpus={0},
                       health_path="/healthz") as gateway:  # fmt: skip
        token = httpx.post(
            f"{gateway.url}/oauth/token", data={"grant_type": "client_credentials"},
            auth=("bench", secret),
        ).json()["access_token"]  # fmt: skip
        fixed = {
            "Authorization": f"Bearer {token}", "X-Road-Client": AGENCY["code"],
            "X-MaDVC": "BENCH.1", "X-MaCanBo": "CB.BENCH", "X-Purpose": "investigation",
            "X-Legal-Basis": "Bo luat To tung hinh su 2015",
        }  # fmt: skip

        def through_gateway(k: int) -> bytes:
            headers = {**fixed, "X-MaYeuCau": f"overload-{k}"}
            path = f"/v1/registry/citizens/{pins[k % n]}"
            return encode_request("GET", path, host="127.0.0.1", headers=headers)

        report["gateway"] = overload("gateway", gateway.port, through_gateway, args.duration)
        state = httpx.get(f"{gateway.url}/__sim06/admission", timeout=120)
        report["gateway_admission"] = state.json()
    print(json.dumps(report, default=str))
    tmp.cleanup()


if __name__ == "__main__":
    main()
