"""Overload: open-loop load at twice the measured capacity, and the batch flood (issue 17).

``python -m benchmarks.bench_overload [--db PATH] [--size N] [--duration 6] [--modes off,on]
[--env NAME=VALUE ...]``

Each mode runs the same steps on a fresh server, interleaved per step (so a noisy neighbour
hits both alike): ``on`` is admission control as ``sim06 up`` serves it (uvicorn with
:class:`~services.common.admission_http.AdmissionHttpProtocol`, refusals before the ASGI app),
``asgi`` the same controller through its middleware only (uvicorn's plain httptools protocol),
``off`` SIM06_ADMISSION=false. ``--env`` adds settings to the admission modes.

For the registry lookup and the gateway lookup, each on one uvicorn worker pinned to CPU 0
(load generator on CPU 1):

1. unloaded: open loop at 100 requests/s: the p99 of a lookup when nothing queues;
2. capacity: closed loop, 32 connections: the best the service does (C requests/s);
3. overload: open loop at 2 C for ``--duration`` s, with ``/healthz`` probed every 20 ms on its
   own connection. Reported: goodput (2xx/s) / C, the p99 of the refused (503/429) answers,
   the p99 of the admitted vs the unloaded p99, and the slowest ``/healthz``.

Then the batch flood: 200 connections posting 1,000-item verify batches to the registry (closed
loop), and a single lookup every 20 ms on its own connection: its p99 and statuses. And what a
refusal costs: the server's CPU time per answer (``/proc``, so a busy neighbour does not skew
it) for lookups (admission off) and for refusals (a limit of one unit, closed loop) by the
middleware and by the protocol.

Latencies of the open loop count from each request's due time (no coordinated omission).
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
from sim06.services.bench.servers import ServerProcess
from sim06.services.common.admission_http import PROTOCOL


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
    # 2xx answers only: with admission on, a closed loop also gets refusals, answered at once.
    answered = sum(capacity.status_counts.values())
    ok = sum(n for status, n in capacity.status_counts.items() if 200 <= status < 300)
    capacity_rps = capacity.rps * ok / max(1, answered)
    rate = 2 * capacity_rps
    health = encode_request("GET", "/healthz", host="127.0.0.1")

    async def both() -> Any:
        until = time.monotonic() + 1 + duration
        load = run_open_loop_async(port, lambda i: request(10_000_000 + i), rate=rate,
                                   duration=duration, warmup=1, max_connections=1024)  # fmt: skip
        return await asyncio.gather(load, probe(port, health, 0.02, until))

    result, healthz = run_sync(both())
    out = {
        "capacity_rps": capacity_rps,
        "capacity_status": capacity.status_counts,
        "unloaded_p99_ms": unloaded.ok["p99_ms"],
        "offered_rps": rate,
        "goodput_rps": result.goodput_rps,
        "goodput_over_capacity": result.goodput_rps / capacity_rps,
        "shed_rps": result.shed_rps,
        "shed_p99_ms": result.shed["p99_ms"],
        "admitted_p99_ms": result.ok["p99_ms"],
        "admitted_p99_over_unloaded": result.ok["p99_ms"] / unloaded.ok["p99_ms"],
        "healthz_max_ms": healthz["max_ms"],
        "healthz_statuses": healthz["statuses"],
        "open_loop": result.to_dict(),
    }
    print(
        f"{name}: capacity {capacity_rps:,.0f}/s {capacity.status_counts}, offered "
        f"{rate:,.0f}/s -> goodput "
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


MODES = ("off", "asgi", "on")


class Bench:
    """The population, the agencies file and the server of each mode."""

    def __init__(self, root: Path, db: Path, extra: dict[str, str]) -> None:
        self.root, self.db, self.extra = root, db, extra
        self.pins = sample_pins(db)
        self.secret = secrets.token_urlsafe(24)
        (root / "agencies.yaml").write_text(
            yaml.safe_dump({"agencies": [{**AGENCY, "client_secret": self.secret}]}), "utf-8"
        )
        n = len(self.pins)
        self.lookups = [
            encode_request("GET", f"/v1/citizens/{pin}", host="127.0.0.1") for pin in self.pins
        ]
        self.lookup: Callable[[int], bytes] = lambda k: self.lookups[k % n]
        # The same lookups with a query string, which the connection's lanes leave to the app:
        # admitted, each waits in the loop as a task, so a one-unit limit refuses the rest of
        # its turn's requests. A bare lookup is answered inside the protocol as soon as it is
        # admitted and never holds its unit long enough for another to be refused.
        self.queued = [
            encode_request("GET", f"/v1/citizens/{pin}?via=app", host="127.0.0.1")
            for pin in self.pins
        ]
        self.queued_lookup: Callable[[int], bytes] = lambda k: self.queued[k % n]

    def env(self, service: str, mode: str, **more: str) -> dict[str, str]:
        """The server's environment: its own data directory, admission per ``mode``."""
        env = {
            "SIM06_DB_PATH": str(self.db),
            "SIM06_DATA_DIR": str(Path(tempfile.mkdtemp(dir=self.root, prefix=service))),
            "SIM06_ADMISSION": "false" if mode == "off" else "true",
            **(self.extra if mode != "off" else {}),
            **more,
        }
        if service == "gateway":
            env["SIM06_GATEWAY_AGENCIES_FILE"] = str(self.root / "agencies.yaml")
            env["SIM06_GATEWAY_ADMIN_TOKEN"] = secrets.token_urlsafe(24)
        return env

    def start(self, service: str, mode: str, **more: str) -> ServerProcess:
        """One uvicorn worker on CPU 0; the admission protocol unless ``mode`` is asgi."""
        return start_uvicorn(
            f"sim06.services.asgi:{service}", factory=True, env=self.env(service, mode, **more),
            cpus={0}, health_path="/healthz",
            http_protocol="httptools" if mode == "asgi" else PROTOCOL,
        )  # fmt: skip

    def gateway_request(self, url: str) -> Callable[[int], bytes]:
        """A lookup through the gateway (its own X-MaYeuCau each) with a fresh token."""
        token = httpx.post(
            f"{url}/oauth/token", data={"grant_type": "client_credentials"},
            auth=("bench", self.secret),
        ).json()["access_token"]  # fmt: skip
        fixed = {
            "Authorization": f"Bearer {token}", "X-Road-Client": AGENCY["code"],
            "X-MaDVC": "BENCH.1", "X-MaCanBo": "CB.BENCH", "X-Purpose": "investigation",
            "X-Legal-Basis": "Bo luat To tung hinh su 2015",
        }  # fmt: skip
        pins, n = self.pins, len(self.pins)

        def through_gateway(k: int) -> bytes:
            headers = {**fixed, "X-MaYeuCau": f"overload-{k}"}
            path = f"/v1/registry/citizens/{pins[k % n]}"
            return encode_request("GET", path, host="127.0.0.1", headers=headers)

        return through_gateway


def refusal_cost(bench: Bench) -> dict[str, Any]:
    """Server CPU time per answer: lookups (admission off), refusals by middleware, protocol."""
    one = {"SIM06_ADMISSION_MIN_LIMIT": "1", "SIM06_ADMISSION_MAX_LIMIT": "1",
           "SIM06_ADMISSION_INITIAL_LIMIT": "1"}  # fmt: skip
    out: dict[str, Any] = {}
    for label, mode, more in (("lookup", "off", {}), ("refusal_asgi", "asgi", one),
                              ("refusal_protocol", "on", one)):  # fmt: skip
        requests = bench.lookup if mode == "off" else bench.queued_lookup
        with bench.start("registry", mode, **more) as server:
            cpu = server.cpu_seconds()
            load = run_load("127.0.0.1", server.port, requests, connections=32, duration=5,
                            warmup=0)  # fmt: skip
            used = server.cpu_seconds() - cpu
        answers = sum(load.status_counts.values())
        out[label] = {"rps": load.rps, "status": load.status_counts,
                      "cpu_us_per_answer": used / max(1, answers) * 1e6}  # fmt: skip
        print(f"{label}: {load.rps:,.0f} answers/s {load.status_counts}, server CPU "
              f"{out[label]['cpu_us_per_answer']:.1f} us/answer (load {os.getloadavg()[0]:.2f})",
              flush=True)  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path)
    parser.add_argument("--size", type=int, default=20_000)
    parser.add_argument("--duration", type=float, default=6.0)
    parser.add_argument("--modes", default="off,on", help="comma-separated: off, asgi, on")
    parser.add_argument("--env", action="append", default=[], help="NAME=VALUE (admission modes)")
    parser.add_argument("--skip", default="", help="comma-separated: registry,gateway,flood,cost")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    if not set(modes) <= set(MODES):
        parser.error(f"modes are {', '.join(MODES)}")
    skip = set(args.skip.split(","))
    tmp = tempfile.TemporaryDirectory()
    root = Path(tmp.name)
    db = args.db or root / "population.db"
    ensure_db(db, args.size)
    bench = Bench(root, db, dict(item.split("=", 1) for item in args.env))
    pin_cpu(os.getpid(), 1)
    report: dict[str, Any] = {"modes": modes, "env": bench.extra}

    def note(key: str, mode: str, value: Any) -> None:
        report.setdefault(key, {})[mode] = value

    if "registry" not in skip:
        for mode in modes:
            with bench.start("registry", mode) as registry:
                note("registry", mode, overload(f"registry [{mode}]", registry.port,
                                                bench.lookup, args.duration))  # fmt: skip
                note("registry_admission", mode, admission_state(registry.url, show=True))
    if "gateway" not in skip:
        for mode in modes:
            with bench.start("gateway", mode) as gateway:
                request = bench.gateway_request(gateway.url)
                note("gateway", mode, overload(f"gateway [{mode}]", gateway.port, request,
                                               args.duration))  # fmt: skip
                note("gateway_admission", mode, admission_state(gateway.url, show=True))
    if "flood" not in skip:
        for mode in modes:
            with bench.start("registry", mode) as registry:
                print(f"[{mode}] ", end="")
                note("batch_flood", mode, batch_flood(registry.port, bench.pins, args.duration))
                time.sleep(2)  # the server may still be working through the flood's queue
                note("flood_admission", mode, admission_state(registry.url))
    if "cost" not in skip:
        report["refusal_cost"] = refusal_cost(bench)
    print(json.dumps(report, default=str))
    tmp.cleanup()


def admission_state(url: str, *, show: bool = False) -> Any:
    """The server's admission snapshot (``show``: print its limit and counts)."""
    state = httpx.get(f"{url}/__sim06/admission", timeout=120).json()
    if show:
        keys = ("limit", "admitted", "shed", "ms_per_unit", "event_loop_delay_ms")
        print("  admission:", {k: state.get(k) for k in keys}, flush=True)
    return state


if __name__ == "__main__":
    main()
