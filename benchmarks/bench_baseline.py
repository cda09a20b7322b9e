"""Throughput and latency of the bare ASGI baseline under one uvicorn worker.

    python benchmarks/bench_baseline.py --duration 10 --connections 16 [--wrk]

The server is pinned to --server-cpu, this process to --client-cpu. With --wrk the same
load is also run with wrk (if installed, on the client CPU) to check that the Python load
generator is not the bottleneck. The client's CPU time per request is printed too: it
tells how far the load generator is from saturating its own core.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys

from sim06.services.bench.loadgen import LoadResult, Request, run_load
from sim06.services.bench.servers import pin_cpu, start_uvicorn


def _client_cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def run_wrk(url: str, connections: int, duration: float, cpu: int) -> dict[str, float] | None:
    """Run wrk with one thread on ``cpu``; its rps and latency percentiles (ms)."""
    if shutil.which("wrk") is None:
        return None
    args = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(duration))}s", "--latency", url]
    if shutil.which("taskset") is not None:
        args = ["taskset", "-c", str(cpu), *args]
    out = subprocess.run(args, capture_output=True, text=True, timeout=duration + 30).stdout
    scale = {"us": 1e-3, "ms": 1.0, "s": 1e3}
    figures: dict[str, float] = {}
    for pct, value, unit in re.findall(r"^\s+(50|90|99)%\s+([\d.]+)(us|ms|s)$", out, re.M):
        figures[f"p{pct}_ms"] = float(value) * scale[unit]
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if match:
        figures["rps"] = float(match.group(1))
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--server-cpu", type=int, default=0)
    parser.add_argument("--client-cpu", type=int, default=1)
    parser.add_argument("--wrk", action="store_true", help="also measure with wrk")
    args = parser.parse_args(argv)

    request = Request("GET", "/")
    with start_uvicorn("sim06.services.bench.baseline:app", cpus={args.server_cpu}) as server:
        pinned = pin_cpu(0, args.client_cpu)
        cpu_before = _client_cpu_s()
        result: LoadResult = run_load(
            "127.0.0.1",
            server.port,
            request,
            connections=args.connections,
            duration=args.duration,
            warmup=args.warmup,
        )
        client_cpu = _client_cpu_s() - cpu_before
        sent = result.bytes_sent // len(request.encode(f"127.0.0.1:{server.port}"))
        wrk = (
            run_wrk(server.url + "/", args.connections, args.duration, args.client_cpu)
            if args.wrk
            else None
        )

    # Every request sent, warmup included, since the CPU time covers the warmup too.
    per_request_us = client_cpu / max(sent, 1) * 1e6
    print(f"bare ASGI baseline, 1 uvicorn worker on CPU {args.server_cpu}, ", end="")
    print(f"load generator on CPU {args.client_cpu}" + ("" if pinned else " (not pinned)"))
    print(result.format())
    print(f"{'client cpu':<14}{per_request_us:.1f} us/request")
    if wrk is not None:
        print(f"{'wrk':<14}" + " ".join(f"{k}={v:,.3f}" for k, v in wrk.items()))
    elif args.wrk:
        print("wrk not installed: no calibration", file=sys.stderr)
    report = {"loadgen": result.to_dict(), "client_cpu_us_per_request": per_request_us}
    if wrk is not None:
        report["wrk"] = wrk
    print(json.dumps(report, indent=2))
    return 0 if result.requests and not result.errors else 1


if __name__ == "__main__":
    sys.exit(main())
